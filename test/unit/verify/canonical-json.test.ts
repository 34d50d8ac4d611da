/** The strict walk in front of canonicalize: values JSON cannot carry are refused, not dropped. */
import canonicalize from "canonicalize";
import { describe, expect, it } from "vitest";
import { canonicalJson, NotJsonError } from "../../../worker/lib/canonical-json.ts";

function refusal(value: unknown): NotJsonError {
  try {
    canonicalJson(value);
  } catch (error) {
    if (error instanceof NotJsonError) return error;
    throw error;
  }
  throw new Error("accepted a non-JSON value");
}

describe("canonicalJson", () => {
  it.each([
    ["undefined member", { a: undefined }, "/a"],
    ["undefined in an array", [1, undefined], "/1"],
    ["top-level undefined", undefined, ""],
    ["NaN", { n: Number.NaN }, "/n"],
    ["Infinity", { n: [Number.POSITIVE_INFINITY] }, "/n/0"],
    ["function", { f: () => 1 }, "/f"],
    ["bigint", { b: 1n }, "/b"],
    ["symbol", { s: Symbol("s") }, "/s"],
    ["Date", { d: new Date(0) }, "/d"],
    ["Map", { m: new Map() }, "/m"],
    ["array hole", { h: [1, , 3] }, "/h/1"],
    ["lone surrogate", { s: "\ud800" }, "/s"],
    ["key with a slash", { "a/b": Number.NaN }, "/a~1b"],
  ])("refuses %s", (_label, value, path) => {
    expect(refusal(value).path).toBe(path);
  });

  it("refuses a cycle through the depth bound", () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(refusal(cyclic)).toBeInstanceOf(NotJsonError);
  });

  it("canonicalises plain JSON, null-prototype objects and -0", () => {
    const bare = Object.assign(Object.create(null) as Record<string, unknown>, { b: 1, a: [true, null, -0, "é"] });
    expect(canonicalJson(bare)).toBe('{"a":[true,null,0,"é"],"b":1}');
  });

  // For every value the strict walk admits, the canonical form is exactly canonicalize's.
  it.each([
    ["escapes and control characters", { q: '"quoted"', b: "back\\slash", c: "\u0000\u001f\n\t", d: "\u007f\u2028", literal: "\\ud800" }],
    ["keys in UTF-16 code unit order", { "\u20ac": 1, "\r": 2, "1": 3, "\ud83d\ude00": 4, "\u0080": 5, "ö": 6, "\ufb33": 7, "": 8, a: 9, B: 10 }],
    ["ECMAScript numbers", [0, -0, 1, -1, 0.1, 1e21, 1e-7, 333333333.3333333, 5e-324, 1.7976931348623157e308, 4.5, 2 ** 53]],
    ["nesting", { a: [{ z: [], y: {} }, [[null]], { x: [true, false] }], b: { c: { d: "e" } } }],
    ["strings with surrogate pairs", ["\ud83d\ude00", "a\ud834\udd1eb"]],
  ])("writes %s as canonicalize does", (_label, value) => {
    expect(canonicalJson(value)).toBe(canonicalize(value));
  });
});
