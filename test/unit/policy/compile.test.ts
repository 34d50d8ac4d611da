/** Load-time refusals (each with its own code), versioning and caching. */
import { describe, expect, it } from "vitest";
import { canonicalJson } from "../../../worker/lib/canonical-json.ts";
import { sha256Hex } from "../../../worker/lib/encoding.ts";
import { compilePolicy, PolicyError, type EntityJson, type PolicyErrorCode } from "../../../worker/policy/index.ts";
import { chat, schemaText, seededBundle, seededEntities, user } from "./world.ts";

function codeOf(run: () => unknown): PolicyErrorCode | "no error" {
  try {
    run();
    return "no error";
  } catch (error) {
    if (error instanceof PolicyError) return error.code;
    throw error;
  }
}

function errorOf(run: () => unknown): PolicyError {
  try {
    run();
  } catch (error) {
    if (error instanceof PolicyError) return error;
    throw error;
  }
  throw new Error("expected a PolicyError");
}

const ok = `@id("ok") permit (principal, action == Action::"invoke_model", resource);`;
const bundle = (policies: string, schema = schemaText) => ({ schema, policies });

describe("compilePolicy refuses a bad bundle with a specific code", () => {
  it("bundle shape", () => {
    expect(codeOf(() => compilePolicy(null, []))).toBe("POLICY_BUNDLE_INVALID");
    expect(codeOf(() => compilePolicy("permit(principal, action, resource);", []))).toBe("POLICY_BUNDLE_INVALID");
    expect(codeOf(() => compilePolicy({ schema: schemaText }, []))).toBe("POLICY_BUNDLE_INVALID");
    expect(codeOf(() => compilePolicy({ schema: "", policies: ok }, []))).toBe("POLICY_BUNDLE_INVALID");
    expect(codeOf(() => compilePolicy({ schema: schemaText, policies: ok, signature: "x" }, []))).toBe("POLICY_BUNDLE_INVALID");
  });
  it("schema parse error", () => {
    expect(codeOf(() => compilePolicy(bundle(ok, "entity User = {"), []))).toBe("POLICY_SCHEMA_INVALID");
  });
  it("policy parse error, and templates", () => {
    const e = errorOf(() => compilePolicy(bundle(`@id("x") permit (principal, action, resource) when { principal. };`), []));
    expect(e.code).toBe("POLICY_PARSE_FAILED");
    expect(e.details.length).toBeGreaterThan(0);
    expect(codeOf(() => compilePolicy(bundle(`@id("t") permit (principal == ?principal, action, resource);`), []))).toBe("POLICY_PARSE_FAILED");
  });
  it("strict validation failure names the policy", () => {
    const e = errorOf(() =>
      compilePolicy(bundle(`@id("typo") permit (principal, action == Action::"invoke_model", resource) when { resource.regoin == "eu" };`), []),
    );
    expect(e.code).toBe("POLICY_VALIDATION_FAILED");
    expect(e.details[0]).toMatch(/^typo: /);
    expect(
      codeOf(() => compilePolicy(bundle(`@id("t") permit (principal, action == Action::"invoke_model", resource) when { context.level == "2" };`), [])),
    ).toBe("POLICY_VALIDATION_FAILED");
  });
  it("missing, malformed or duplicate @id", () => {
    expect(codeOf(() => compilePolicy(bundle(`permit (principal, action, resource);`), []))).toBe("POLICY_ANNOTATION_INVALID");
    expect(codeOf(() => compilePolicy(bundle(`@id("has space") permit (principal, action, resource);`), []))).toBe("POLICY_ANNOTATION_INVALID");
    expect(codeOf(() => compilePolicy(bundle(`${ok}\n${ok}`), []))).toBe("POLICY_ANNOTATION_INVALID");
  });
  it("an obligation the gateway cannot enforce", () => {
    for (const obligation of ["log:everything", "max_tokens:0", "max_tokens:lots", "redact:pii", "route:tier=moon", "step_up:", "step_up:acr=a,foo=1", "redact:PII;", ""]) {
      const text = `@id("o") @obligation(${JSON.stringify(obligation)}) permit (principal, action, resource);`;
      expect(codeOf(() => compilePolicy(bundle(text), [])), obligation).toBe("POLICY_ANNOTATION_INVALID");
    }
  });
  it("entities: malformed, conflicting, or not conforming to the schema", () => {
    const tenant: EntityJson = { uid: { type: "Tenant", id: "acme" }, attrs: { residency: "eu" }, parents: [] };
    expect(codeOf(() => compilePolicy(bundle(ok), [{ uid: { type: "Tenant" }, attrs: {}, parents: [] } as unknown as EntityJson]))).toBe(
      "POLICY_ENTITIES_INVALID",
    );
    expect(codeOf(() => compilePolicy(bundle(ok), [tenant, { ...tenant, attrs: { residency: "us" } }]))).toBe("POLICY_ENTITIES_INVALID");
    expect(codeOf(() => compilePolicy(bundle(ok), [{ ...tenant, attrs: { residency: 1 } }]))).toBe("POLICY_ENTITIES_INVALID");
    expect(codeOf(() => compilePolicy(bundle(ok), [{ ...tenant, uid: { type: "Planet", id: "x" } }]))).toBe("POLICY_ENTITIES_INVALID");
    const alice = seededEntities().find((e) => e.uid.id === "alice")!;
    expect(codeOf(() => compilePolicy(bundle(ok), [tenant, { ...alice, attrs: { tenant: alice.attrs.tenant } }]))).toBe("POLICY_ENTITIES_INVALID");
    // An exact duplicate (registry and identity seed both supplying a tenant) is fine.
    expect(codeOf(() => compilePolicy(bundle(ok), [tenant, structuredClone(tenant)]))).toBe("no error");
  });
  it("the seeded bundle and entities compile", () => {
    expect(codeOf(() => compilePolicy(seededBundle(), seededEntities()))).toBe("no error");
  });
});

describe("validation \"report\" (test tooling only)", () => {
  const typo = `@id("typo") permit (principal, action == Action::"invoke_model", resource) when { resource.regoin == "eu" };`;
  it("the default (the gateway's mode) still refuses a set that fails strict validation, even after a report-mode compile", () => {
    const reported = compilePolicy(bundle(typo), seededEntities(), { validation: "report" });
    expect(reported.validationProblems.length).toBeGreaterThan(0);
    // The per-isolate cache must not hand the report-mode PDP to a default (strict) compile.
    expect(codeOf(() => compilePolicy(bundle(typo), seededEntities()))).toBe("POLICY_VALIDATION_FAILED");
    expect(codeOf(() => compilePolicy(bundle(typo), seededEntities(), {}))).toBe("POLICY_VALIDATION_FAILED");
    expect(codeOf(() => compilePolicy(bundle(typo), seededEntities(), { validation: "strict" }))).toBe("POLICY_VALIDATION_FAILED");
    // Anything but exactly "report" is strict.
    expect(codeOf(() => compilePolicy(bundle(typo), seededEntities(), { validation: "Report" as "report" }))).toBe("POLICY_VALIDATION_FAILED");
  });
  it("returns the problems on the PDP instead of throwing, and the PDP decides", () => {
    const pdp = compilePolicy(bundle(typo), seededEntities(), { validation: "report" });
    expect(pdp.validationProblems).toEqual([expect.stringMatching(/^typo: .*regoin/)]);
    const d = pdp.decide(chat(user("alice"), "eu-public"));
    expect(d.effect).toBe("deny");
  });
  it("changes nothing else: parse, @id and entity errors still throw", () => {
    const report = { validation: "report" } as const;
    expect(codeOf(() => compilePolicy(bundle(`@id("x") permit (principal, action, resource) when { principal. };`), [], report))).toBe("POLICY_PARSE_FAILED");
    expect(codeOf(() => compilePolicy(bundle(`permit (principal, action, resource);`), [], report))).toBe("POLICY_ANNOTATION_INVALID");
    const planet = { uid: { type: "Planet", id: "x" }, attrs: {}, parents: [] };
    expect(codeOf(() => compilePolicy(bundle(typo), [planet], report))).toBe("POLICY_ENTITIES_INVALID");
  });
  it("a valid set has no problems in either mode", () => {
    expect(compilePolicy(seededBundle(), seededEntities()).validationProblems).toEqual([]);
    expect(compilePolicy(seededBundle(), seededEntities(), { validation: "report" }).validationProblems).toEqual([]);
  });
});

describe("versions and caching", () => {
  it("version is the SHA-256 of the canonical { schema, policies }, label excluded", async () => {
    const b = seededBundle();
    const pdp = compilePolicy(b, seededEntities());
    expect(pdp.version).toBe(await sha256Hex(canonicalJson({ schema: b.schema, policies: b.policies })));
    expect(compilePolicy({ ...b, label: "2026-11-26.1" }, seededEntities()).version).toBe(pdp.version);
    expect(compilePolicy({ ...b, policies: `${b.policies}\n` }, seededEntities()).version).not.toBe(pdp.version);
  });
  it("the entity version ignores entity order", () => {
    const a = compilePolicy(seededBundle(), seededEntities());
    const b = compilePolicy(seededBundle(), seededEntities().reverse());
    expect(b.entitiesVersion).toBe(a.entitiesVersion);
    expect(b).toBe(a); // same configuration: the cached PDP
  });
  it("a different entity set is a different PDP; the old one keeps working", () => {
    const before = compilePolicy(seededBundle(), seededEntities());
    const withoutAlice = seededEntities().filter((e) => e.uid.id !== "alice");
    const after = compilePolicy(seededBundle(), withoutAlice);
    expect(after).not.toBe(before);
    expect(after.version).toBe(before.version);
    expect(after.decide(chat(user("alice"), "eu-public")).effect).toBe("deny");
    expect(before.decide(chat(user("alice"), "eu-public")).effect).toBe("allow");
  });
  it("obligations are parsed once, typed, per policy id", () => {
    const pdp = compilePolicy(seededBundle(), seededEntities());
    expect(Object.fromEntries(pdp.obligations)).toEqual({
      "model.pii-redacted-on-public": [{ kind: "redact", category: "PII" }],
      "model.contractor-token-cap": [{ kind: "max_tokens", limit: 4096 }],
      "model.confidential-tier-only": [{ kind: "route", tier: "confidential" }],
      "model.restricted-retained": [{ kind: "retain", what: "prompt", days: 30 }],
      "tool.mfa-step-up": [{ kind: "step_up", acr: "urn:verity:acr:mfa" }],
      "document.restricted-step-up": [{ kind: "step_up", acr: "urn:verity:acr:mfa" }],
      "document.restricted-recent-auth": [{ kind: "step_up", acr: "urn:verity:acr:mfa", maxAge: 900 }],
      "admin.step-up": [{ kind: "step_up", acr: "urn:verity:acr:mfa" }],
      "guardrail.medium-risk-step-up": [{ kind: "step_up", acr: "urn:verity:acr:mfa", maxAge: 300 }],
    });
  });
  it("several obligations on one policy, de-duplicated across determining policies", () => {
    const policies = [
      `@id("a") @obligation("max_tokens:100; redact:PII; step_up:acr=urn:x,max_age=300") permit (principal, action == Action::"invoke_model", resource);`,
      `@id("b") @obligation("redact:PII") permit (principal, action == Action::"invoke_model", resource);`,
    ].join("\n");
    const pdp = compilePolicy(bundle(policies), seededEntities());
    expect(pdp.obligations.get("a")).toEqual([
      { kind: "max_tokens", limit: 100 },
      { kind: "redact", category: "PII" },
      { kind: "step_up", acr: "urn:x", maxAge: 300 },
    ]);
    const d = pdp.decide(chat(user("alice"), "eu-public"));
    expect(d).toMatchObject({ effect: "allow", reasons: ["a", "b"] });
    expect(d.obligations).toHaveLength(3);
  });
});

describe("errors in evaluation deny", () => {
  it("a policy that errors at run time makes an allow a deny (stricter than Cedar, which skips it)", () => {
    // `context.classification.categories` is a set; indexing a missing record attribute is impossible
    // under strict validation, so use an overflow: Long arithmetic past 2^63 is a run-time error.
    const policies = [
      `@id("base") permit (principal, action == Action::"invoke_model", resource);`,
      `@id("overflow") forbid (principal, action == Action::"invoke_model", resource) when { context.classification.level * 9223372036854775807 * 9223372036854775807 > 0 };`,
    ].join("\n");
    const pdp = compilePolicy(bundle(policies), seededEntities());
    const d = pdp.decide(chat(user("alice"), "eu-public", { classification: { level: 1, categories: [] } }));
    expect(d.effect).toBe("deny");
    expect(d.reasons).toEqual(["evaluation error"]);
    expect(d.errors[0]).toMatch(/^overflow: .*overflow/);
    expect(d.obligations).toEqual([]);
    // Without the error (level 0: 0 * … = 0), the same request is allowed.
    expect(pdp.decide(chat(user("alice"), "eu-public")).effect).toBe("allow");
  });
});
