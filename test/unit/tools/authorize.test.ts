import { describe, expect, it } from "vitest";
import type { Principal, RequestState } from "../../../worker/context.ts";
import { canonicalJson } from "../../../worker/lib/canonical-json.ts";
import { base64url, sha256 } from "../../../worker/lib/encoding.ts";
import { argumentFacts } from "../../../worker/tools/argument-facts.ts";
import {
  authorizeToolCall,
  MAX_TOOL_ARGUMENT_BYTES,
  toolDecisionRecord,
  verdictError,
  type ToolCall,
  type ToolCallVerdict,
} from "../../../worker/tools/authorize.ts";
import { replayDecisions } from "../../../worker/verify/replay.ts";
import { seededBundle } from "../policy/world.ts";
import { alice, bob, carol, environmentOf, mallory, person, seededConfig } from "./fixtures.ts";

const config = seededConfig();

function authorize(principal: Principal, tool: string, args: string, extra: Partial<ToolCall> = {}): ToolCallVerdict {
  return authorizeToolCall(config, principal, environmentOf(principal), { tool, arguments: args, origin: "caller", ...extra });
}

function refused(verdict: ToolCallVerdict): Extract<ToolCallVerdict, { allowed: false }> {
  if (verdict.allowed) throw new Error("expected a refusal");
  return verdict;
}

const search = (query: unknown) => JSON.stringify({ query });
const mail = (to: string) => JSON.stringify({ to, subject: "Hello", body: "See you at ten." });

describe("authorizeToolCall: the checks in order, each with its code", () => {
  it("refuses an unknown tool with tool_not_found, before anything else", () => {
    const verdict = refused(authorize(alice, "delete_everything", "not json"));
    expect(verdict.code).toBe("tool_not_found");
    expect(verdict.tool).toBeUndefined();
    expect(verdict.decision).toBeUndefined();
  });

  it("refuses a tool the request did not offer with tool_not_offered (only when an offer list is given)", () => {
    expect(refused(authorize(alice, "search_documents", search("q"), { offered: ["send_email"] })).code).toBe("tool_not_offered");
    expect(authorize(alice, "search_documents", search("q"), { offered: ["search_documents"] }).allowed).toBe(true);
    expect(authorize(alice, "search_documents", search("q")).allowed).toBe(true);
  });

  it("refuses arguments over the cap with tool_arguments_too_large, counted in UTF-8 bytes, without parsing them", () => {
    const big = search("x".repeat(MAX_TOOL_ARGUMENT_BYTES));
    expect(refused(authorize(alice, "search_documents", big)).code).toBe("tool_arguments_too_large");
    // Under the cap in UTF-16 code units, over it in bytes (é is two bytes).
    const wide = search("é".repeat(MAX_TOOL_ARGUMENT_BYTES / 2));
    expect(wide.length).toBeLessThan(MAX_TOOL_ARGUMENT_BYTES + 20);
    expect(refused(authorize(alice, "search_documents", wide)).code).toBe("tool_arguments_too_large");
    // An oversized text that is not even JSON is refused for its size: it is never parsed.
    expect(refused(authorize(alice, "search_documents", "{".repeat(MAX_TOOL_ARGUMENT_BYTES + 1))).code).toBe("tool_arguments_too_large");
  });

  it("refuses arguments that are not JSON, or repeat a member name, with tool_arguments_invalid", () => {
    for (const text of ["", "{query: 'x'}", '{"query": "x"', "undefined", '{"query":"a","query":"b"}']) {
      const verdict = refused(authorize(alice, "search_documents", text));
      expect(verdict.code, text).toBe("tool_arguments_invalid");
      expect(verdict.decision).toBeUndefined();
    }
  });

  it("refuses arguments that fail the tool's schema with tool_arguments_invalid naming the path", () => {
    const missing = refused(authorize(alice, "search_documents", "{}"));
    expect(missing.code).toBe("tool_arguments_invalid");
    expect(missing.message).toMatch(/query/);
    const wrongType = refused(authorize(alice, "send_email", JSON.stringify({ to: 42, subject: "s", body: "b" })));
    expect(wrongType.message).toContain("/to");
    const extra = refused(authorize(alice, "search_documents", JSON.stringify({ query: "q", drop: "tables" })));
    expect(extra.code).toBe("tool_arguments_invalid");
    expect(extra.message).toMatch(/drop/);
    expect(refused(authorize(alice, "search_documents", search(""))).message).toContain("/query");
    expect(refused(authorize(alice, "search_documents", "[]")).code).toBe("tool_arguments_invalid");
    // The PDP is never asked about arguments that failed the schema.
    expect(missing.decision).toBeUndefined();
  });

  it("compiles each tool's schema once per configuration: a new configuration version validates with its own schema", () => {
    const stricter = seededConfig();
    const tool = stricter.registry.tools.get("search_documents")!;
    (tool.arguments as { properties: { query: Record<string, unknown> } }).properties.query.maxLength = 3;
    expect(refused(authorizeToolCall(stricter, alice, environmentOf(alice), { tool: "search_documents", arguments: search("long"), origin: "caller" })).code).toBe(
      "tool_arguments_invalid",
    );
    expect(authorize(alice, "search_documents", search("long")).allowed).toBe(true);
  });
});

describe("authorizeToolCall: the PDP decides for the human principal, with the arguments in the context", () => {
  it("allows alice's search, with the digest of the canonical arguments (member order does not matter)", async () => {
    const verdict = authorize(alice, "search_documents", '{ "matter": "acme/matter-1042", "query": "handbook" }');
    if (!verdict.allowed) throw new Error(verdict.message);
    expect(verdict.decision.reasons).toEqual(["tool.own-tenant"]);
    expect(verdict.args).toEqual({ matter: "acme/matter-1042", query: "handbook" });
    expect(verdict.argumentsDigest).toBe(base64url(await sha256(canonicalJson({ query: "handbook", matter: "acme/matter-1042" }))));
    expect(verdict.facts.arguments).toEqual({ recipientDomains: [], matter: "acme/matter-1042" });
    expect(verdict.facts.origin).toBe("caller");
    expect(verdict.facts.principal).toEqual({ type: "User", id: "alice" });
  });

  it("asks alice (no MFA) to step up for send_email: 401 insufficient_user_authentication with acr_values", () => {
    const verdict = refused(authorize(alice, "send_email", mail("dave@acme.example")));
    expect(verdict.code).toBe("insufficient_user_authentication");
    expect(verdict.decision?.reasons).toEqual(["tool.mfa-step-up"]);
    const error = verdictError(verdict);
    expect(error.status).toBe(401);
    expect(error.challenge).toMatchObject({ error: "insufficient_user_authentication", acrValues: "urn:verity:acr:mfa" });
  });

  it("allows bob (MFA) to mail inside acme.example", () => {
    const verdict = authorize(bob, "send_email", mail("Dave <dave@ACME.example>"));
    expect(verdict.allowed).toBe(true);
  });

  it("refuses bob's mail to a recipient outside acme.example: policy_denied by tool.email-own-domain", () => {
    for (const to of ["eve@evil.example", "dave@acme.example, eve@evil.example", "nobody"]) {
      const verdict = refused(authorize(bob, "send_email", mail(to)));
      expect(verdict.code, to).toBe("policy_denied");
      expect(verdict.decision?.reasons, to).toEqual(["tool.email-own-domain"]);
    }
  });

  it("does not offer alice a step-up that could not help: mail outside acme.example is policy_denied", () => {
    const verdict = refused(authorize(alice, "send_email", mail("eve@evil.example")));
    expect(verdict.code).toBe("policy_denied");
    expect(verdict.decision?.reasons.sort()).toEqual(["tool.email-own-domain", "tool.mfa-step-up"]);
  });

  it("refuses mallory (contractor) every tool, and carol (globex) acme's tools", () => {
    const contractor = person("mallory", "acme", { groups: ["contractors"] });
    for (const principal of [mallory, contractor]) {
      const verdict = refused(authorize(principal, "search_documents", search("q")));
      expect(verdict.code).toBe("policy_denied");
      expect(verdict.decision?.reasons).toEqual(["tool.contractor-none"]);
    }
    expect(refused(authorize(mallory, "send_email", mail("dave@acme.example"))).code).toBe("policy_denied");
    expect(refused(authorize(carol, "search_documents", search("q"))).code).toBe("policy_denied");
  });

  it("classifies the arguments: a secret handed to a tool makes the call policy_denied", () => {
    const verdict = refused(authorize(alice, "search_documents", search("key AKIAIOSFODNN7EXAMPLE")));
    expect(verdict.code).toBe("policy_denied");
    expect(verdict.facts?.classification.categories).toContain("secret");
  });

  it("tells model-proposed calls apart in the context", () => {
    const verdict = authorize(alice, "search_documents", search("q"), { origin: "model" });
    expect(verdict.allowed && verdict.facts.origin).toBe("model");
  });
});

describe("toolDecisionRecord", () => {
  const state: RequestState = { requestId: "req-1", format: "openai", receivedAt: Date.parse("2026-11-26T10:00:00Z") };

  it("records an allow with everything replay needs, and never the arguments themselves", () => {
    const call: ToolCall = { tool: "search_documents", arguments: search("the secret merger"), origin: "caller" };
    const verdict = authorizeToolCall(config, alice, environmentOf(alice), call);
    const record = toolDecisionRecord(state, alice, call, verdict);
    expect(record).toMatchObject({
      type: "decision",
      requestId: "req-1",
      tenant: "acme",
      action: "call_tool",
      origin: "caller",
      decision: "allow",
      resource: { type: "Tool", id: "search_documents" },
      reasons: ["tool.own-tenant"],
      configVersion: "test-config",
      argumentBytes: call.arguments.length,
    });
    expect(record.argumentsDigest).toBe(verdict.allowed && verdict.argumentsDigest);
    expect(record.policyVersion).toBe(config.pdp.version);
    expect(Array.isArray(record.entitySlice)).toBe(true);
    expect(record.facts).toMatchObject({ tool: "search_documents", origin: "caller" });
    expect(JSON.stringify(record)).not.toContain("merger");
  });

  it("records a refusal before the PDP with its code and no decision fields", () => {
    const call: ToolCall = { tool: "nope", arguments: "{}", origin: "model" };
    const record = toolDecisionRecord(state, alice, call, authorizeToolCall(config, alice, environmentOf(alice), call));
    expect(record).toMatchObject({ decision: "deny", code: "tool_not_found", resource: { type: "Tool", id: "nope" }, origin: "model" });
    expect(record.reasons).toBeUndefined();
    expect(record.facts).toBeUndefined();
  });
});

describe("audit replay of tool decisions", () => {
  const state: RequestState = { requestId: "req-2", format: "openai", receivedAt: Date.parse("2026-11-26T10:00:00Z") };
  const bundles = new Map([[config.pdp.version, seededBundle()]]);
  const recordOf = (principal: Principal, tool: string, args: string) => {
    const call: ToolCall = { tool, arguments: args, origin: "model" };
    return JSON.parse(JSON.stringify(toolDecisionRecord(state, principal, call, authorizeToolCall(config, principal, environmentOf(principal), call)))) as Record<string, unknown>;
  };

  it("re-asks the PDP from the recorded facts and slice: allow, step-up and the recipient rule replay the same", () => {
    const records = [recordOf(alice, "search_documents", search("q")), recordOf(alice, "send_email", mail("d@acme.example")), recordOf(bob, "send_email", mail("e@evil.example"))];
    expect(replayDecisions(records, bundles).counts).toMatchObject({ same: 3, differs: 0, unreplayable: 0 });
  });

  it("finds a record whose recorded reasons were altered, and skips refusals taken before policy", () => {
    const altered = { ...recordOf(bob, "send_email", mail("e@evil.example")), reasons: ["tool.own-tenant"] };
    const early = recordOf(alice, "nope", "{}");
    const summary = replayDecisions([altered, early], bundles);
    expect(summary.outcomes.map((o) => o.status)).toEqual(["differs", "skipped"]);
  });

  it("replays the PDP's allow of a call the gateway refused afterwards (egress) as the allow it was", () => {
    const allowed = recordOf(alice, "search_documents", search("q"));
    const refusedLater = { ...allowed, decision: "deny", code: "egress_denied" };
    expect(replayDecisions([refusedLater], bundles).counts.same).toBe(1);
  });
});

describe("argumentFacts: what policies see of the arguments", () => {
  it("collects lower-cased recipient domains from to/cc/bcc, as strings, lists and display-name forms", () => {
    expect(argumentFacts({ to: "A <a@Acme.Example>, b@acme.example", cc: ["c@globex.example"], bcc: "d@acme.example" })).toEqual({
      recipientDomains: ["acme.example", "globex.example"],
      matter: "",
    });
  });

  it('turns an address without a domain, or a non-string recipient, into "" (outside every allowlist)', () => {
    expect(argumentFacts({ to: "nobody" }).recipientDomains).toEqual([""]);
    expect(argumentFacts({ to: "@acme.example" }).recipientDomains).toEqual([""]);
    expect(argumentFacts({ cc: [42, "x@acme.example"] }).recipientDomains).toEqual(["", "acme.example"]);
    expect(argumentFacts({ to: { address: "x@acme.example" } }).recipientDomains).toEqual([""]);
  });

  it("reads the matter, and gives empty facts for arguments that are not an object", () => {
    expect(argumentFacts({ query: "q", matter: "acme/matter-1042" })).toEqual({ recipientDomains: [], matter: "acme/matter-1042" });
    expect(argumentFacts(["to", "x@y"])).toEqual({ recipientDomains: [], matter: "" });
    expect(argumentFacts("x")).toEqual({ recipientDomains: [], matter: "" });
  });
});
