/// <reference types="vite/client" />
/**
 * Cedar's own hand-written integration tests (../shared/vectors/cedar/tests/, cedar-integration-tests
 * @ f161e9f858a0) run through Verity's evaluator: compile (strict validation included), slice, decide.
 * Every request's decision and reason set must match Cedar's expected answer, which shows that the
 * slicing never changes a decision on this corpus. Paths inside a test file are relative to the
 * vectors' cedar/ folder.
 *
 * Verity's evaluator differs from bare Cedar on purpose in three ways: a default deny carries the
 * reason "no permit" (Cedar: none; asserted here), an error denies (no request here errs), and an
 * unknown principal is denied unevaluated (every principal here is in its entity file).
 */
import { describe, expect, it } from "vitest";
import { compilePolicy, REASON, type CedarValue, type EntityJson } from "../../../worker/policy/index.ts";

const ROOT = "../../../../shared/vectors/cedar/";
const tests = import.meta.glob("../../../../shared/vectors/cedar/tests/**/*.json", { eager: true, import: "default" }) as Record<string, CedarTest>;
const texts = import.meta.glob(
  ["../../../../shared/vectors/cedar/tests/**/*.cedar", "../../../../shared/vectors/cedar/sample-data/**/*.cedarschema"],
  { eager: true, query: "?raw", import: "default" },
) as Record<string, string>;
const entityFiles = import.meta.glob("../../../../shared/vectors/cedar/sample-data/**/*.json", { eager: true, import: "default" }) as Record<
  string,
  EntityJson[]
>;

interface CedarRequest {
  description: string;
  principal: { type: string; id: string };
  action: { type: string; id: string };
  resource: { type: string; id: string };
  context: Record<string, CedarValue>;
  decision: "allow" | "deny";
  reason: string[];
  errors: string[];
}
interface CedarTest {
  policies: string;
  entities: string;
  schema: string;
  shouldValidate: boolean;
  requests: CedarRequest[];
}

function file<T>(table: Record<string, T>, path: string): T {
  const value = table[ROOT + path];
  if (value === undefined) throw new Error(`vector file missing: ${path}`);
  return value;
}

const names = Object.keys(tests).sort();

describe("Cedar integration tests (tests/, hand-written)", () => {
  it("are all present (22 files)", () => {
    expect(names).toHaveLength(22);
  });

  for (const name of names) {
    const test = tests[name]!;
    it(name.slice(ROOT.length), () => {
      const bundle = { schema: file(texts, test.schema), policies: file(texts, test.policies) };
      const entities = structuredClone(file(entityFiles, test.entities));
      if (!test.shouldValidate) {
        expect(() => compilePolicy(bundle, entities, { requirePolicyIds: false })).toThrow();
        return;
      }
      const pdp = compilePolicy(bundle, entities, { requirePolicyIds: false });
      for (const request of test.requests) {
        expect(request.action.type).toBe("Action");
        const decision = pdp.decide({
          principal: request.principal,
          action: request.action.id,
          resource: request.resource,
          context: request.context,
        });
        const label = request.description;
        expect(decision.effect, `${label}: ${JSON.stringify(decision.reasons)} ${JSON.stringify(decision.errors)}`).toBe(request.decision);
        expect(decision.errors, label).toEqual(request.errors);
        const reasons = decision.reasons.filter((r) => r !== REASON.noPermit);
        expect(new Set(reasons), label).toEqual(new Set(request.reason));
        if (request.reason.length === 0 && request.decision === "deny") expect(decision.reasons, label).toEqual([REASON.noPermit]);
        // The slice is a strict part of the store whenever the store has more than the request needs.
        expect(decision.entitySlice.length, label).toBeLessThanOrEqual(entities.length);
      }
    });
  }
});
