/** Every RFC 8785 vector (cyberphone/json-canonicalization) through the canonicaliser the log uses. */
import { describe, expect, it } from "vitest";
import { canonicalJson } from "../../../worker/lib/canonical-json.ts";
import { toHex, utf8 } from "../../../worker/lib/encoding.ts";
import { jcsCases } from "./vectors.ts";

const cases = jcsCases();

describe("RFC 8785 vectors", () => {
  it("bundles all six cases", () => {
    expect(cases.map((c) => c.name)).toEqual(["arrays", "french", "structures", "unicode", "values", "weird"]);
  });

  it.each(cases.map((c) => [c.name, c] as const))("%s", (_name, c) => {
    const canonical = canonicalJson(JSON.parse(c.input));
    expect(canonical).toBe(c.output);
    expect(toHex(utf8(canonical))).toBe(c.outhex.replace(/\s+/g, ""));
  });
});
