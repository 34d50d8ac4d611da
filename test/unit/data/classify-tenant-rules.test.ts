/**
 * Per-tenant dictionaries and patterns: the restricted pattern language (linear by construction),
 * whole-word terms, and validation when the registry loads.
 */
import { describe, expect, it } from "vitest";
import { classify, compileTenantRules, detectText, TenantRulesError, type TenantRules } from "../../../worker/data/index.ts";
import { parsePattern } from "../../../worker/data/classify/tenant-rules.ts";
import { parseRegistry, RegistryError } from "../../../worker/workload/index.ts";
import { seedFiles } from "../../support/seed.ts";

const RULES: TenantRules = {
  terms: [
    { term: "Project Nightingale", type: "PROJECT_CODENAME", level: "restricted" },
    { term: "ACME-X", type: "PRODUCT", level: "internal", caseSensitive: true },
    { term: "Müller", type: "CLIENT", category: "pii", level: "confidential" },
  ],
  patterns: [
    { pattern: "MAT-\\d{6}", type: "MATTER_ID", level: "confidential" },
    { pattern: "[A-Z]{2}\\d{2,4}-[a-f0-9]{8}", type: "CASE_REF", category: "phi", level: "confidential", score: 0.6 },
  ],
};

const found = (text: string, rules: TenantRules = RULES) => detectText(text, rules).map((f) => [f.type, text.slice(f.start, f.end), f.category, f.level]);

describe("tenant terms and patterns", () => {
  it("matches terms whole-word, case-insensitively unless asked", () => {
    expect(found("status of project NIGHTINGALE?")).toEqual([["PROJECT_CODENAME", "project NIGHTINGALE", "custom", 3]]);
    expect(found("the acme-x and ACME-X")).toEqual([["PRODUCT", "ACME-X", "custom", 1]]);
    expect(found("Herr Müller called; Müllers did not")).toEqual([["CLIENT", "Müller", "pii", 2]]);
    expect(found("nightingales sing")).toEqual([]);
  });
  it("matches patterns whole-word with their category, level and score", () => {
    expect(found("see MAT-004211 and XMAT-004211 and MAT-0042111")).toEqual([["MATTER_ID", "MAT-004211", "custom", 2]]);
    expect(detectText("ref AB123-deadbeef", RULES)).toEqual([{ type: "CASE_REF", start: 4, end: 18, score: 0.6, category: "phi", level: 2 }]);
  });
  it("raises the classification through classify", () => {
    expect(classify(["about Project Nightingale"], null, RULES)).toMatchObject({ level: 3, categories: ["custom"] });
    expect(classify(["about Project Nightingale"]).level).toBe(0);
  });
  it("compiles once per rules object", () => {
    expect(compileTenantRules(RULES)).toBe(compileTenantRules(RULES));
  });
});

describe("the pattern language is linear by construction", () => {
  it.each([
    ["MAT-\\d{6}"],
    ["[A-Z]{2}\\d{2,4}-[a-f0-9]{8}"],
    ["INV\\.?\\d{4,10}"],
    ["[^\\s]{3}x"],
    ["ab\\w{0,10}\\."],
  ])("accepts %s", (pattern) => {
    expect(() => parsePattern(pattern)).not.toThrow();
  });
  it.each([
    ["(a+)+b", "groups and alternation"],
    ["a|b|c", "groups and alternation"],
    ["a+b", "unbounded repetition"],
    ["ab*", "unbounded repetition"],
    ["a{2,}", "{n} or {m,n}"],
    ["a{1,100}", "n ≤ 64"],
    ["^abc", "anchors"],
    ["a.c", "'.' is not allowed"],
    ["\\1abc", "unsupported escape"],
    ["abc(?=x)", "groups and alternation"],
    ["\\d{1,5}\\d{3}", "can also match"],
    ["\\w{1,9}x?\\d{2}", "can also match"],
    ["a?abc", "can also match"],
    ["[abc", "unterminated"],
    ["ab", "at least 3"],
    ["\\d{64}\\d{64}\\d{64}\\d{64}x", "at most 256"],
    ["a{2}{3}", "quantifier cannot follow"],
  ])("refuses %s (%s)", (pattern, reason) => {
    expect(() => parsePattern(pattern)).toThrow(TenantRulesError);
    expect(() => parsePattern(pattern)).toThrow(reason);
  });
  it("refuses bad types, levels and scores", () => {
    expect(() => compileTenantRules({ patterns: [{ pattern: "abc", type: "lower", level: "internal" }] })).toThrow("upper case");
    expect(() => compileTenantRules({ terms: [{ term: "x", type: "X_Y", level: "secret" as "internal" }] })).toThrow("level");
    expect(() => compileTenantRules({ patterns: [{ pattern: "abc", type: "ABC", level: "internal", score: 2 }] })).toThrow("score");
  });
  it("accepted patterns finish on adversarial 200 KB inputs", () => {
    const rules: TenantRules = {
      patterns: ["[a-z]{1,64}\\d{2}", "a{0,64}bcd", "[0-9A-F]{8}-[0-9A-F]{4}", "\\w{1,64}@x"].map((pattern, i) => ({ pattern, type: `P${i}X`, level: "internal" as const })),
      terms: [{ term: "aaa aaa", type: "TERM", level: "internal" }],
    };
    for (const text of ["a".repeat(200_000), "aaa ".repeat(50_000), "0123456789ABCDEF".repeat(12_500), "a@".repeat(100_000)]) {
      expect(Array.isArray(detectText(text, rules))).toBe(true);
    }
  });
});

describe("registry: tenants[].classifier", () => {
  function registryWith(classifier: unknown) {
    const { tenants, issuers, trustDomains, workloads, backends, tools } = seedFiles() as Record<string, any>;
    return { tenants: { ...tenants, acme: { ...tenants.acme, classifier } }, issuers, trustDomains, workloads, backends, tools };
  }
  it("accepts valid rules and keeps them on the tenant", () => {
    const registry = parseRegistry(registryWith(RULES));
    expect(registry.tenants.get("acme")?.classifier).toEqual(RULES);
  });
  it("refuses a pattern outside the linear subset, naming the tenant", () => {
    expect(() => parseRegistry(registryWith({ patterns: [{ pattern: "(a|aa)+b", type: "BAD", level: "internal" }] }))).toThrow(RegistryError);
    expect(() => parseRegistry(registryWith({ patterns: [{ pattern: "(a|aa)+b", type: "BAD", level: "internal" }] }))).toThrow("tenants[acme].classifier: patterns[0]");
  });
  it("refuses rules that do not match the schema", () => {
    expect(() => parseRegistry(registryWith({ terms: [{ term: "x", type: "X", level: "secret" }] }))).toThrow(RegistryError);
    expect(() => parseRegistry(registryWith({ regex: ".*" }))).toThrow(RegistryError);
  });
});
