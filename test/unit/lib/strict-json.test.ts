import { describe, expect, it } from "vitest";
import { DuplicateKeyError, parseStrictJson } from "../../../worker/lib/strict-json.ts";

describe("parseStrictJson", () => {
  it("parses what JSON.parse parses", () => {
    for (const text of ['{"a":1,"b":[{"a":2},{"a":3}],"c":{"a":{"a":null}}}', "[]", '"x"', "3", ' { "a" : "}{,\\"" , "b":"\\\\"} ']) {
      expect(parseStrictJson(text)).toEqual(JSON.parse(text));
    }
  });

  it("refuses a repeated name at any depth, compared after unescaping", () => {
    for (const text of ['{"a":1,"a":2}', '{"x":[{"a":1,"b":2,"a":3}]}', '{"a":1,"\\u0061":2}', '[{"k":{}}, {"k":1,"k":1}]']) {
      expect(() => parseStrictJson(text), text).toThrow(DuplicateKeyError);
    }
  });

  it("does not confuse equal names in sibling objects, or strings that are values", () => {
    expect(parseStrictJson('[{"a":1},{"a":2}]')).toEqual([{ a: 1 }, { a: 2 }]);
    expect(parseStrictJson('{"a":"a","b":["a","a"]}')).toEqual({ a: "a", b: ["a", "a"] });
  });

  it("leaves syntax errors to JSON.parse", () => {
    expect(() => parseStrictJson('{"a":1')).toThrow(SyntaxError);
    expect(() => parseStrictJson('{"a":1')).not.toThrow(DuplicateKeyError);
  });
});
