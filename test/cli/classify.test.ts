/** `verity classify`: the data plane's classifier over standard input. */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { verity } from "./run-cli.ts";

interface Classified {
  level: number;
  levelName: string;
  categories: string[];
  findings: { type: string; start: number; end: number; score: number; category: string; level: number }[];
  unscanned?: number;
}

async function classify(input: string, args: string[] = []): Promise<Classified> {
  const { code, stdout, stderr } = await verity(["classify", "--json", ...args], { input });
  expect(code, stderr).toBe(0);
  return JSON.parse(stdout) as Classified;
}

describe("verity classify", () => {
  it("finds nothing in plain text: public", async () => {
    expect(await classify("What is the capital of France?")).toEqual({ level: 0, levelName: "public", categories: [], findings: [] });
  });

  it("reports a card number (Luhn-valid) and an e-mail address with offsets, category and level", async () => {
    const text = "pay with 4111 1111 1111 1111, receipt to bob@example.com";
    const result = await classify(text);
    const byType = Object.fromEntries(result.findings.map((f) => [f.type, text.slice(f.start, f.end)]));
    expect(byType).toEqual({ CREDIT_CARD: "4111 1111 1111 1111", EMAIL_ADDRESS: "bob@example.com" });
    expect(result.findings.map((f) => [f.category, f.level])).toEqual([
      ["pci", 2],
      ["pii", 1],
    ]);
    expect(result).toMatchObject({ levelName: "confidential", categories: ["pci", "pii"] });
  });

  it("does not report a number that fails the Luhn check", async () => {
    expect((await classify("order 4111 1111 1111 1112")).findings).toEqual([]);
  });

  it("classifies a secret as restricted", async () => {
    const text = "my key is AKIAABCDEFGHIJKLMNOP";
    const result = await classify(text);
    expect(result.findings).toEqual([{ type: "SECRET_AWS_ACCESS_KEY", start: 10, end: 30, score: 0.95, category: "secret", level: 3 }]);
    expect(result).toMatchObject({ level: 3, levelName: "restricted", categories: ["secret"] });
  });

  it("folds odd Unicode the way the gateway does (full-width digits, zero-width characters)", async () => {
    const result = await classify("card ４１１１ １１１１ １１１１ １１１１ and ssn 123\u200b-45-6789");
    expect(result.findings.map((f) => f.type)).toEqual(["CREDIT_CARD", "US_SSN"]);
  });

  it("a caller's label raises the level", async () => {
    expect(await classify("hello", ["--label", "confidential"])).toMatchObject({ level: 2, levelName: "confidential" });
  });

  it("applies a tenant's custom terms and patterns from --rules", async () => {
    const dir = mkdtempSync(join(tmpdir(), "verity-classify-"));
    const rules = join(dir, "rules.json");
    writeFileSync(rules, JSON.stringify({
      terms: [{ term: "Project Nightingale", type: "PROJECT_CODENAME", level: "restricted" }],
      patterns: [{ pattern: "MAT-\\d{6}", type: "MATTER_ID", level: "confidential" }],
    }));
    const text = "notes on project nightingale for MAT-123456";
    const result = await classify(text, ["--rules", rules]);
    expect(result.findings.map((f) => [f.type, text.slice(f.start, f.end), f.category])).toEqual([
      ["PROJECT_CODENAME", "project nightingale", "custom"],
      ["MATTER_ID", "MAT-123456", "custom"],
    ]);
    expect(result).toMatchObject({ level: 3, categories: ["custom"] });

    writeFileSync(rules, JSON.stringify({ patterns: [{ pattern: "(a+)+b", type: "BAD", level: "internal" }] }));
    const refused = await verity(["classify", "--rules", rules], { input: "x" });
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain("groups and alternation are not allowed");
  });

  it("prints a table without the matched text", async () => {
    const { code, stdout } = await verity(["classify"], { input: "my key is AKIAABCDEFGHIJKLMNOP" });
    expect(code).toBe(0);
    expect(stdout).toContain("SECRET_AWS_ACCESS_KEY\t10\t30\t0.95\tsecret\t3");
    expect(stdout).toContain("classification: restricted (3), categories: secret");
    expect(stdout).not.toContain("AKIAABCDEFGHIJKLMNOP");
  });
});
