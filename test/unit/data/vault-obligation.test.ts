/** The `retain:` obligation (worker/policy/obligations.ts) and how the vault reads retention from a decision. */
import { describe, expect, it } from "vitest";
import { retentionDays } from "../../../worker/data/vault/index.ts";
import { PolicyAnnotationError } from "../../../worker/policy/errors.ts";
import { obligationKey, parseObligations } from "../../../worker/policy/obligations.ts";

describe("retain:<prompt|output>,days=<n>", () => {
  it("parses both kinds, with a stable key", () => {
    const parsed = parseObligations("retain:prompt,days=30; retain:output,days=7", "p");
    expect(parsed).toEqual([
      { kind: "retain", what: "prompt", days: 30 },
      { kind: "retain", what: "output", days: 7 },
    ]);
    expect(parsed.map(obligationKey)).toEqual(["retain:prompt,days=30", "retain:output,days=7"]);
  });

  for (const bad of ["retain:prompt", "retain:prompt,days=0", "retain:prompt,days=3651", "retain:tools,days=1", "retain:prompt,days=07", "retain:prompt, days=1", "retain:prompt,days=1,x=2"]) {
    it(`refuses ${JSON.stringify(bad)} when the bundle compiles`, () => {
      expect(() => parseObligations(bad, "p")).toThrow(PolicyAnnotationError);
    });
  }

  it("the longest retention asked for each kind wins; other obligations are ignored", () => {
    expect(
      retentionDays([
        { kind: "retain", what: "prompt", days: 30 },
        { kind: "retain", what: "prompt", days: 90 },
        { kind: "max_tokens", limit: 10 },
        { kind: "retain", what: "output", days: 1 },
      ]),
    ).toEqual({ prompt: 90, output: 1 });
    expect(retentionDays([])).toEqual({});
  });
});
