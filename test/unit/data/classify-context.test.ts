/**
 * Context words have one definition (scan.ts): a word of the list starts a word of `around`, the
 * lower-cased 48 code units before a span, a space, and the 24 after it. ASCII text is read from its
 * code units, in one walk per span with tables of pairs and third units; other text builds `around`
 * as a string and searches it. Both ways must agree on every span, the edges of the window and words
 * with a space in them (which can run across the joining space) included.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Finding } from "../../../worker/context.ts";
import { contextFor, report, type Rule } from "../../../worker/data/classify/scan.ts";
import { codesOf, releaseCodes } from "../../../worker/data/classify/sweep.ts";

const WORDS = ["text me", "pay with", "ss #", "social security", "phone", "ip", "dx", "account", "a/c", "invoice"];
const PIECES = [...WORDS, "Text", "ME", "pay", "with", "ss", "#", "x", "phon", "phones", "iphone", " ", "  ", ".", "-", "(", "1234", "\n", "lorem", "a/c"];

/** Whether `rule` is reported for [start, end) of `text`, read the ASCII way (with code units) or the string way. */
function reported(text: string, start: number, end: number, rule: Rule, withCodes: boolean): boolean {
  const found: Finding[] = [];
  const { codes } = codesOf(text);
  try {
    contextFor(text, withCodes ? codes : undefined);
    report(text, start, end, rule, (finding) => void found.push(finding));
  } finally {
    contextFor(undefined);
    releaseCodes();
  }
  return found.length === 1;
}

describe("context words: the ASCII walk and the string search agree", () => {
  it("on every span of generated text", () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(...PIECES), { minLength: 1, maxLength: 40 }),
        fc.subarray(WORDS, { minLength: 1 }),
        fc.nat(),
        fc.nat(),
        (pieces, words, a, b) => {
          const text = pieces.join("");
          const start = a % (text.length + 1);
          const end = start + (b % (text.length - start + 1));
          // Reported only when a word of its list is near.
          const rule: Rule = { type: "TEST", category: "pii", level: 1, score: 0.2, context: words, requiresContext: true };
          expect(reported(text, start, end, rule, true)).toBe(reported(text, start, end, rule, false));
        },
      ),
      { numRuns: 3000 },
    );
  });

  it("finds a word with a space across the join, at a word start, inside the window only", () => {
    const rule: Rule = { type: "TEST", category: "pii", level: 1, score: 0.2, context: ["text me"], requiresContext: true };
    const cases: Array<[string, number, number, boolean]> = [
      ["please text4155552671me now", 11, 21, true],
      ["please xtext4155552671me now", 12, 22, false],
      ["please text 4155552671 me", 12, 22, false],
      [`text${"9".repeat(10)}me`, 4, 14, true],
      // "text" ends 45 code units before the span: inside the 48 before it, then not.
      [`text me${"-".repeat(40)}12345`, 47, 52, true],
      [`text me${"-".repeat(44)}12345`, 51, 56, false],
    ];
    for (const [text, start, end, near] of cases) {
      expect(reported(text, start, end, rule, true), text).toBe(near);
      expect(reported(text, start, end, rule, false), text).toBe(near);
    }
  });
});
