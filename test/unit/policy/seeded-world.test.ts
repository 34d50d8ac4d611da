/** The seeded world's expected behaviour (docs: CONTRACTS.md "The seeded world"), decision by decision. */
import { describe, expect, it } from "vitest";
import { REASON, readDocumentRequest, tenantActionRequest } from "../../../worker/policy/index.ts";
import { chat, passwordOnly, seededPdp, toolCall, user, withMfa, workload } from "./world.ts";

const pdp = seededPdp();
const env = { authn: passwordOnly, risk: "low" as const, geo: { country: "DE", continent: "EU" } };

describe("models: residency", () => {
  it("alice (acme, EU) may use eu-public", () => {
    const d = pdp.decide(chat(user("alice"), "eu-public"));
    expect(d).toMatchObject({ effect: "allow", reasons: ["model.residency"], errors: [], obligations: [] });
    expect(d.policyVersion).toBe(pdp.version);
  });
  it("alice may not use us-public (no permit: wrong region)", () => {
    expect(pdp.decide(chat(user("alice"), "us-public"))).toMatchObject({ effect: "deny", reasons: [REASON.noPermit], obligations: [] });
  });
  it("carol (globex, US) may use us-public but not eu-public", () => {
    expect(pdp.decide(chat(user("carol"), "us-public")).effect).toBe("allow");
    expect(pdp.decide(chat(user("carol"), "eu-public")).effect).toBe("deny");
  });
  it("bob may use eu-public; the acme-batch workload too", () => {
    expect(pdp.decide(chat(user("bob"), "eu-public")).effect).toBe("allow");
    expect(pdp.decide(chat(workload("acme-batch"), "eu-public"))).toMatchObject({ effect: "allow", reasons: ["model.residency"] });
  });
});

describe("models: classification", () => {
  const confidential = { classification: { level: 2 as const, categories: [] } };
  it("confidential data on eu-public is denied with a route obligation to the confidential tier", () => {
    const d = pdp.decide(chat(user("alice"), "eu-public", confidential));
    expect(d).toMatchObject({ effect: "deny", reasons: ["model.confidential-tier-only"] });
    expect(d.obligations).toEqual([{ kind: "route", tier: "confidential" }]);
  });
  it("confidential data on eu-confidential is allowed", () => {
    expect(pdp.decide(chat(user("alice"), "eu-confidential", confidential))).toMatchObject({ effect: "allow", reasons: ["model.residency"] });
  });
  it("restricted data (level 3) is also confidential-tier only", () => {
    const restricted = { classification: { level: 3 as const, categories: [] } };
    expect(pdp.decide(chat(user("alice"), "eu-public", restricted)).effect).toBe("deny");
    expect(pdp.decide(chat(user("alice"), "eu-confidential", restricted)).effect).toBe("allow");
  });
  it("secrets are denied on every backend, confidential tier included", () => {
    const secret = { classification: { level: 3 as const, categories: ["secret"] } };
    for (const backend of ["eu-public", "us-public", "eu-confidential"]) {
      for (const who of [user("alice"), user("bob"), user("carol"), workload("acme-batch")]) {
        const d = pdp.decide(chat(who, backend, secret));
        expect(d.effect, `${who.id} on ${backend}`).toBe("deny");
        expect(d.reasons).toContain("model.no-secrets");
      }
    }
    // Even at level 0 (the category alone is enough).
    expect(pdp.decide(chat(user("alice"), "eu-confidential", { classification: { level: 0, categories: ["secret"] } })).reasons).toEqual([
      "model.no-secrets",
    ]);
  });
  it("PII on a public-tier backend is allowed with a redact obligation; not on the confidential tier", () => {
    const pii = { classification: { level: 1 as const, categories: ["pii"] } };
    const pub = pdp.decide(chat(user("alice"), "eu-public", pii));
    expect(pub).toMatchObject({ effect: "allow", reasons: ["model.pii-redacted-on-public", "model.residency"] });
    expect(pub.obligations).toEqual([{ kind: "redact", category: "PII" }]);
    const conf = pdp.decide(chat(user("alice"), "eu-confidential", pii));
    expect(conf).toMatchObject({ effect: "allow", obligations: [] });
  });
});

describe("models: contractors", () => {
  it("mallory may use eu-public, capped at 4096 tokens", () => {
    const d = pdp.decide(chat(user("mallory"), "eu-public"));
    expect(d).toMatchObject({ effect: "allow", reasons: ["model.contractor-token-cap", "model.residency"] });
    expect(d.obligations).toEqual([{ kind: "max_tokens", limit: 4096 }]);
  });
  it("mallory may not use eu-confidential, even for public data", () => {
    expect(pdp.decide(chat(user("mallory"), "eu-confidential"))).toMatchObject({
      effect: "deny",
      reasons: ["model.contractor-public-tier-only"],
    });
  });
  it("mallory may not offer tools to a model", () => {
    const d = pdp.decide(chat(user("mallory"), "eu-public", { request: { wireFormat: "openai", stream: true, tools: ["search_documents"] } }));
    expect(d).toMatchObject({ effect: "deny", reasons: ["model.contractor-no-tools"] });
    // A member may.
    expect(pdp.decide(chat(user("alice"), "eu-public", { request: { wireFormat: "openai", stream: true, tools: ["search_documents"] } })).effect).toBe(
      "allow",
    );
  });
});

describe("tools", () => {
  it("alice may call search_documents (acme's, no MFA needed)", () => {
    expect(pdp.decide(toolCall(user("alice"), "search_documents"))).toMatchObject({ effect: "allow", reasons: ["tool.own-tenant"] });
  });
  it("send_email for alice (no MFA) is a deny that asks for step-up", () => {
    const d = pdp.decide(toolCall(user("alice"), "send_email"));
    expect(d).toMatchObject({ effect: "deny", reasons: ["tool.mfa-step-up"] });
    expect(d.obligations).toEqual([{ kind: "step_up", acr: "urn:verity:acr:mfa" }]);
  });
  it("send_email for bob (MFA) is allowed", () => {
    expect(pdp.decide(toolCall(user("bob"), "send_email", { authn: withMfa }))).toMatchObject({
      effect: "allow",
      reasons: ["tool.own-tenant"],
      obligations: [],
    });
  });
  it("alice after stepping up may send email", () => {
    expect(pdp.decide(toolCall(user("alice"), "send_email", { authn: withMfa })).effect).toBe("allow");
  });
  it("mallory may call no tool, with or without MFA", () => {
    expect(pdp.decide(toolCall(user("mallory"), "search_documents"))).toMatchObject({ effect: "deny", reasons: ["tool.contractor-none"] });
    const mfa = pdp.decide(toolCall(user("mallory"), "send_email", { authn: withMfa }));
    expect(mfa).toMatchObject({ effect: "deny", reasons: ["tool.contractor-none"] });
  });
  it("carol (globex) may not call acme's tools, and is not offered a step-up for them", () => {
    expect(pdp.decide(toolCall(user("carol"), "search_documents"))).toMatchObject({ effect: "deny", reasons: [REASON.noPermit] });
    expect(pdp.decide(toolCall(user("carol"), "send_email"))).toMatchObject({ effect: "deny", reasons: [REASON.noPermit], obligations: [] });
  });
  it("arguments classified above the tool's classification are refused", () => {
    const restricted = { classification: { level: 3 as const, categories: [] } };
    expect(pdp.decide(toolCall(user("bob"), "send_email", { authn: withMfa, ...restricted })).effect).toBe("deny");
    expect(pdp.decide(toolCall(user("alice"), "search_documents", { classification: { level: 2, categories: [] } })).effect).toBe("deny");
  });
});

describe("tenancy", () => {
  it("bob (auditor of acme) may read acme's audit log, not globex's", () => {
    expect(pdp.decide(tenantActionRequest("read_audit", { principal: { type: "User", id: "bob" }, tenant: "acme", ...env }))).toMatchObject({
      effect: "allow",
      reasons: ["audit.auditor-own-tenant"],
    });
    expect(pdp.decide(tenantActionRequest("read_audit", { principal: { type: "User", id: "bob" }, tenant: "globex", ...env })).effect).toBe("deny");
  });
  it("alice (not an auditor) may not read the audit log", () => {
    expect(pdp.decide(tenantActionRequest("read_audit", { principal: { type: "User", id: "alice" }, tenant: "acme", ...env })).effect).toBe("deny");
  });
  it("nobody seeded may administer", () => {
    for (const id of ["alice", "bob", "carol", "mallory"]) {
      const d = pdp.decide(tenantActionRequest("administer", { principal: { type: "User", id }, tenant: "acme", ...env }));
      expect(d.effect).toBe("deny");
    }
  });
  it("documents: own tenant up to confidential; restricted needs MFA (step-up); contractors public only", () => {
    const read = (id: string, document: string, authn = passwordOnly) =>
      pdp.decide(readDocumentRequest({ principal: { type: "User", id }, document, ...env, authn }));
    expect(read("alice", "acme/matter-1042").effect).toBe("allow");
    expect(read("alice", "globex/pricing").effect).toBe("deny");
    const minutes = read("alice", "acme/board-minutes");
    expect(minutes).toMatchObject({ effect: "deny", reasons: ["document.restricted-step-up"] });
    expect(minutes.obligations).toEqual([{ kind: "step_up", acr: "urn:verity:acr:mfa" }]);
    expect(read("bob", "acme/board-minutes", withMfa)).toMatchObject({ effect: "allow", reasons: ["document.restricted-mfa"] });
    expect(read("mallory", "acme/handbook").effect).toBe("allow");
    expect(read("mallory", "acme/roadmap")).toMatchObject({ effect: "deny", reasons: ["document.contractor-public-only"] });
  });
});

describe("guardrails and failures", () => {
  it("risk high forbids everything, for everyone", () => {
    const high = { risk: "high" as const };
    expect(pdp.decide(chat(user("alice"), "eu-public", high))).toMatchObject({ effect: "deny", reasons: ["guardrail.high-risk"] });
    expect(pdp.decide(toolCall(user("bob"), "send_email", { authn: withMfa, ...high })).reasons).toEqual(["guardrail.high-risk"]);
    expect(pdp.decide(tenantActionRequest("read_audit", { principal: { type: "User", id: "bob" }, tenant: "acme", ...env, ...high })).effect).toBe(
      "deny",
    );
  });
  it("medium risk asks a person to step up unless they passed MFA in the last five minutes; a workload is refused", () => {
    const stepUp = pdp.decide(chat(user("alice"), "eu-public", { risk: "medium" }));
    expect(stepUp).toMatchObject({ effect: "deny", reasons: ["guardrail.medium-risk-step-up"] });
    expect(stepUp.obligations).toEqual([{ kind: "step_up", acr: "urn:verity:acr:mfa", maxAge: 300 }]);
    expect(pdp.decide(chat(user("bob"), "eu-public", { risk: "medium", authn: { ...withMfa, authAge: 120 } })).effect).toBe("allow");
    expect(pdp.decide(chat(user("bob"), "eu-public", { risk: "medium", authn: { ...withMfa, authAge: 900 } })).effect).toBe("deny");
    expect(pdp.decide(chat(workload("acme-batch"), "eu-public", { risk: "medium" })).reasons).toEqual(["guardrail.medium-risk-workload"]);
  });
  it("an unknown principal is denied before Cedar is asked (even one that merely looks right)", () => {
    expect(pdp.decide(chat(user("eve"), "eu-public"))).toMatchObject({ effect: "deny", reasons: [REASON.unknownPrincipal], entitySlice: [] });
    expect(pdp.decide(chat({ type: "Workload", id: "alice" }, "eu-public")).reasons).toEqual([REASON.unknownPrincipal]);
  });
  it("an unknown resource is a deny with an error (its attributes cannot be read)", () => {
    const d = pdp.decide(chat(user("alice"), "eu-shadow"));
    expect(d).toMatchObject({ effect: "deny", reasons: [REASON.evaluationError] });
    expect(d.errors.join(" ")).toMatch(/eu-shadow/);
  });
  it("a context that does not match the schema is a deny with the error, never an allow", () => {
    const request = chat(user("alice"), "eu-public");
    const { geo: _geo, ...missingGeo } = request.context;
    const d = pdp.decide({ ...request, context: missingGeo });
    expect(d).toMatchObject({ effect: "deny", reasons: [REASON.evaluationError] });
    expect(d.errors.join(" ")).toMatch(/geo/);
    const wrongType = pdp.decide({ ...request, context: { ...request.context, risk: 3 } });
    expect(wrongType).toMatchObject({ effect: "deny", reasons: [REASON.evaluationError] });
  });
  it("an unknown action, or the wrong resource type for an action, is a deny with an error", () => {
    const request = chat(user("alice"), "eu-public");
    expect(pdp.decide({ ...request, action: "launch_missiles" })).toMatchObject({ effect: "deny", reasons: [REASON.evaluationError] });
    const tool = pdp.decide({ ...request, resource: { type: "Tool", id: "search_documents" } });
    expect(tool).toMatchObject({ effect: "deny", reasons: [REASON.evaluationError] });
  });
  it("a malformed request is a deny, not an exception", () => {
    const bad = { principal: "alice", action: "invoke_model", resource: { type: "Backend", id: "eu-public" }, context: {} } as unknown;
    expect(pdp.decide(bad as Parameters<typeof pdp.decide>[0])).toMatchObject({ effect: "deny", reasons: [REASON.invalidRequest] });
    expect(pdp.decide(null as unknown as Parameters<typeof pdp.decide>[0])).toMatchObject({ effect: "deny", reasons: [REASON.invalidRequest] });
  });
});

describe("groups the credential asserted (issuer groups claim)", () => {
  const readAudit = (groups?: string[]) =>
    tenantActionRequest("read_audit", { principal: { type: "User", id: "alice", ...(groups ? { groups } : {}) }, tenant: "acme", ...env });

  it("join the principal's parents for the decision: an asserted tenant auditors group lets alice read acme's log", () => {
    expect(pdp.decide(readAudit()).effect).toBe("deny");
    const d = pdp.decide(readAudit(["acme/auditors"]));
    expect(d).toMatchObject({ effect: "allow", reasons: ["audit.auditor-own-tenant"] });
    const alice = d.entitySlice.find((e) => e.uid.type === "User" && e.uid.id === "alice");
    expect(alice?.parents).toContainEqual({ type: "Group", id: "acme/auditors" });
  });

  it("leave the shared entity store untouched: the next decision without the claim is a deny again", () => {
    pdp.decide(readAudit(["acme/auditors"]));
    expect(pdp.decide(readAudit()).effect).toBe("deny");
  });

  it("are ignored when the store has no such group", () => {
    const d = pdp.decide(readAudit(["acme/../auditors", "acme/nonexistent"]));
    expect(d.effect).toBe("deny");
    const alice = d.entitySlice.find((e) => e.uid.type === "User" && e.uid.id === "alice");
    expect(alice?.parents).not.toContainEqual({ type: "Group", id: "acme/nonexistent" });
  });

  it("must be Group references, or the request is refused as malformed", () => {
    const request = { ...readAudit(), principalGroups: [{ type: "Tenant", id: "acme" }] };
    expect(pdp.decide(request)).toMatchObject({ effect: "deny", reasons: [REASON.invalidRequest] });
  });
});
