/**
 * The JS evaluator (worker/policy/evaluate.ts), case by case: for each Cedar form, whether the
 * evaluator answers or leaves the request to cedar-wasm, and that the decision is cedar-wasm's
 * either way (the property test, evaluate.property.test.ts, does the same on generated input).
 *
 * One bundle holds every case as a policy guarded by `context.model == "<case>" && …`: a request
 * whose model names the case makes only that policy's condition run (the other guards are false,
 * without error), so each case is decided alone.
 */
import { describe, expect, it } from "vitest";
import "../../../worker/policy/index.ts"; // provides the Workers cedar-wasm engine
import { CEDAR_MODE, GATEWAY_MODE, decideWith } from "../../../worker/policy/decide.ts";
import { evaluatorCounts } from "../../../worker/policy/evaluate.ts";
import type { Decision } from "../../../worker/policy/index.ts";
import { compileDirect } from "./arbitraries.ts";
import { chat, schemaText, seededEntities, user } from "./world.ts";

type Engine = "js" | "cedar";

/** [condition, who decides, effect] for alice (acme/members → acme) invoking eu-public. */
const CASES: [string, Engine, Decision["effect"]][] = [
  // equality: total, false across types; sets unordered and de-duplicated; records by keys and values
  [`1 == "1"`, "js", "deny"],
  [`User::"alice" == Tenant::"alice"`, "js", "deny"],
  [`[1, 2, 2] == [2, 1]`, "js", "allow"],
  [`{a: 1, b: [User::"alice"]} == {b: [User::"alice"], a: 1}`, "js", "allow"],
  [`{a: 1} == {a: 1, b: 2}`, "js", "deny"],
  [`principal.tenant == Tenant::"acme"`, "js", "allow"],
  // lazy &&, ||, if: what is not evaluated cannot err
  [`false && principal.nope`, "js", "deny"],
  [`true || principal.nope`, "js", "allow"],
  [`if false then principal.nope else true`, "js", "allow"],
  [`true && 1`, "cedar", "deny"], // a type error
  [`!"x"`, "cedar", "deny"],
  // attributes: an error for a missing attribute or entity, `has` false
  [`principal.nope == 1`, "cedar", "deny"],
  [`principal has nope`, "js", "deny"],
  [`Tenant::"initech" has residency`, "js", "deny"],
  [`Tenant::"initech".residency == "eu"`, "cedar", "deny"],
  [`principal has tenant.residency`, "js", "allow"],
  [`context has classification.nope`, "js", "deny"],
  [`{a: {b: 1}}.a.b == 1`, "js", "allow"],
  // hierarchy: reflexive, transitive, sets of entities only
  [`principal in Tenant::"acme"`, "js", "allow"],
  [`principal in principal`, "js", "allow"],
  [`principal in [Group::"auditors", Group::"acme/members"]`, "js", "allow"],
  [`principal in [Group::"acme/members", 1]`, "cedar", "deny"],
  [`Tenant::"initech" in Tenant::"initech"`, "js", "allow"],
  [`action in Action::"invoke_model"`, "js", "allow"],
  [`principal is User in Tenant::"acme"`, "js", "allow"],
  [`resource is User`, "js", "deny"],
  [`1 is User`, "cedar", "deny"],
  // Long: exact within 2^53, cedar-wasm beyond
  [`9007199254740991 + 0 == 9007199254740991`, "js", "allow"],
  [`-(-9007199254740991) == 9007199254740991`, "js", "allow"],
  [`9007199254740991 + 1 > 0`, "cedar", "allow"],
  [`context.authn.authAge * 9007199254740991 > 0`, "cedar", "allow"],
  [`"a" < "b"`, "cedar", "deny"],
  [`context.authn.authAge - 61 < 0 && context.authn.authAge >= 60`, "js", "allow"],
  // like over code points
  [`"😀x" like "😀*"`, "js", "allow"],
  [`"😀" like "??"`, "js", "deny"],
  [`"a*b" like "a\\**"`, "js", "allow"],
  [`"ab" like "a\\*b"`, "js", "deny"],
  [`"" like "*"`, "js", "allow"],
  [`"abcabd" like "*ab*d"`, "js", "allow"],
  [`1 like "*"`, "cedar", "deny"],
  // sets
  [`context.classification.categories.isEmpty()`, "js", "allow"],
  [`[1, 2].containsAll([2, 2])`, "js", "allow"],
  [`[1, 2].containsAny([3])`, "js", "deny"],
  [`[1, [2]].contains([2, 2])`, "js", "allow"],
  [`"ab".contains("a")`, "cedar", "deny"],
];

describe("the JS evaluator, form by form", () => {
  const policies = CASES.map(([condition], i) => `@id("case${i}") permit (principal, action, resource) when { context.model == "case${i}" && (${condition}) };`);
  const compiled = compileDirect({ schema: schemaText, policies: policies.join("\n") }, seededEntities(), "report");

  it.each(CASES.map(([condition, engine, effect], i) => ({ condition, engine, effect, i })))("$condition: $engine, $effect", ({ engine, effect, i }) => {
    const request = chat(user("alice"), "eu-public", { model: `case${i}` });
    const before = { ...evaluatorCounts };
    const js = decideWith(compiled, request, GATEWAY_MODE);
    expect(evaluatorCounts.answered - before.answered).toBe(engine === "js" ? 1 : 0);
    if (engine === "cedar") expect(evaluatorCounts.undecided - before.undecided).toBe(1);
    expect(js.effect).toBe(effect);
    expect(js).toEqual(decideWith(compiled, request, CEDAR_MODE));
  });
});

describe("what the evaluator leaves to cedar-wasm before evaluating", () => {
  it("a slice holding a policy outside the subset (extension functions, tags, big literals)", () => {
    for (const condition of [`ip("10.0.0.1").isIpv4()`, `principal.hasTag("t")`, `context.authn.authAge < 9223372036854775807`]) {
      const compiled = compileDirect({ schema: schemaText, policies: `@id("x") permit (principal, action, resource) when { ${condition} };` }, seededEntities(), "report");
      const request = chat(user("alice"), "eu-public");
      const before = evaluatorCounts.sliceOutside;
      expect(decideWith(compiled, request, GATEWAY_MODE), condition).toEqual(decideWith(compiled, request, CEDAR_MODE));
      expect(evaluatorCounts.sliceOutside - before, condition).toBe(1);
    }
  });
  it("a request Cedar's validation refuses, or with a lone surrogate in a string", () => {
    const compiled = compileDirect({ schema: schemaText, policies: `@id("x") permit (principal, action, resource) when { context.geo.country == "\\u{FFFD}" };` }, seededEntities());
    const broken = { ...chat(user("alice"), "eu-public"), context: { ...chat(user("alice"), "eu-public").context, risk: 3 } };
    const surrogate = chat(user("alice"), "eu-public", { geo: { country: "\ud800", continent: "EU" } });
    for (const request of [broken, surrogate]) {
      const before = evaluatorCounts.requestOutside;
      expect(decideWith(compiled, request, GATEWAY_MODE)).toEqual(decideWith(compiled, request, CEDAR_MODE));
      expect(evaluatorCounts.requestOutside - before).toBe(1);
    }
    // cedar-wasm's JSON reader fails on a lone surrogate: an error the evaluator would not have seen.
    expect(decideWith(compiled, surrogate, CEDAR_MODE).reasons).toEqual(["evaluation error"]);
  });
});
