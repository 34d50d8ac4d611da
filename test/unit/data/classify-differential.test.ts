/**
 * The classifier's findings do not drift: every text of the fixture (the evaluation corpus, the same
 * sentences laid end to end, the benchmark's mixed text, the corpus in disguise with odd Unicode,
 * pathological and seeded random strings; bench/classify-fixture.ts) gives exactly the findings —
 * type, start, end, score, category, level, in order — and the level the classifier gave when the
 * fixture was written. A change meant to be only faster must keep this green as is.
 */
import { describe, expect, it } from "vitest";
import { classify, detectText } from "../../../worker/data/index.ts";
import fixture from "./fixtures/classify-findings.json";

type Row = [string, number, number, number, string, number];
const cases = fixture.cases as Array<{ text: string; level: number; findings: Row[] }>;

describe("classifier findings match the fixture exactly", () => {
  it(`${cases.length} texts`, () => {
    const mismatches: string[] = [];
    for (const [i, c] of cases.entries()) {
      const found: Row[] = detectText(c.text).map((f) => [f.type, f.start, f.end, f.score, f.category, f.level]);
      const level = classify([c.text]).level;
      if (JSON.stringify(found) !== JSON.stringify(c.findings) || level !== c.level) {
        mismatches.push(`#${i} ${JSON.stringify(c.text.slice(0, 120))}\n  expected ${JSON.stringify(c.findings)} level ${c.level}\n  got      ${JSON.stringify(found)} level ${level}`);
      }
    }
    expect(mismatches.slice(0, 10).join("\n")).toBe("");
    expect(mismatches.length).toBe(0);
  });

  it("covers every kind of text it claims to", () => {
    expect(cases.length).toBeGreaterThan(12_000);
    expect(cases.some((c) => /[^\x00-\x7f]/.test(c.text) && c.findings.length > 0)).toBe(true);
    expect(cases.some((c) => c.text.length >= 256 * 1024)).toBe(true);
    expect(new Set(cases.flatMap((c) => c.findings.map((f) => f[0]))).size).toBeGreaterThan(35);
  });
});
