/**
 * RFC 8785 (JCS) canonical JSON, strict: a value that JSON cannot represent is refused instead of
 * being dropped or turned into `null` the way `JSON.stringify` (and the `canonicalize` package after
 * it) would. A hash over canonical JSON must commit to exactly the value the caller handed over, so
 * a silently omitted field is not acceptable. Web APIs only.
 */

export type JsonPrimitive = string | number | boolean | null;
export type JsonValue = JsonPrimitive | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** Why a value is not JSON; `path` is a JSON Pointer (RFC 6901) to the offending value. */
export class NotJsonError extends TypeError {
  override readonly name = "NotJsonError";
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super(`not JSON at "${path}": ${reason}`);
  }
}

/**
 * Nesting bound for the walk. Far above any honest record, and low enough that the recursion in
 * `assertJson` stays well inside the isolate's stack.
 */
const MAX_DEPTH = 64;

// A UTF-16 surrogate that is not part of a pair: RFC 8785 §3.2.2.2 (via I-JSON) forbids it.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function pointer(path: string, key: string | number): string {
  return `${path}/${String(key).replace(/~/g, "~0").replace(/\//g, "~1")}`;
}

function isPlainObject(value: object): boolean {
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * Throws `NotJsonError` unless `value` is made only of null, booleans, finite numbers, well-formed
 * strings, dense arrays and plain objects, without cycles. `toJSON` is deliberately not honoured: a
 * `Date` or a class instance is refused, so what is hashed is what was checked.
 */
export function assertJson(value: unknown, path = "", depth = 0): asserts value is JsonValue {
  if (depth > MAX_DEPTH) throw new NotJsonError(path, `nested deeper than ${MAX_DEPTH}`);
  switch (typeof value) {
    case "boolean":
      return;
    case "string":
      if (LONE_SURROGATE.test(value)) throw new NotJsonError(path, "string holds a lone surrogate");
      return;
    case "number":
      if (!Number.isFinite(value)) throw new NotJsonError(path, `${value} is not a JSON number`);
      return;
    case "object": {
      if (value === null) return;
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) {
          if (!(i in value)) throw new NotJsonError(pointer(path, i), "array has a hole");
          assertJson(value[i], pointer(path, i), depth + 1);
        }
        return;
      }
      if (!isPlainObject(value)) throw new NotJsonError(path, "not a plain object");
      if (Object.getOwnPropertySymbols(value).length > 0) throw new NotJsonError(path, "symbol-keyed property");
      for (const [key, member] of Object.entries(value)) {
        if (LONE_SURROGATE.test(key)) throw new NotJsonError(pointer(path, key), "key holds a lone surrogate");
        assertJson(member, pointer(path, key), depth + 1);
      }
      return;
    }
    default:
      // undefined, bigint, symbol, function
      throw new NotJsonError(path, `${typeof value} is not a JSON value`);
  }
}

/**
 * The RFC 8785 canonical form of `value`; throws `NotJsonError` for anything that is not JSON.
 *
 * One walk that checks and writes (the audit log canonicalises every record on its write path, see
 * bench/AUDIT.md). What it writes is what `canonicalize` writes for the values `assertJson` admits:
 * members sorted by their keys' UTF-16 code units (`Array.prototype.sort`'s default order), strings
 * and numbers as `JSON.stringify` writes them (RFC 8785 §3.2.2.2 and §3.2.2.3 take ECMAScript's
 * serialisation). The JSON Pointer of a refused value is only built when one is refused.
 */
export function canonicalJson(value: unknown): string {
  const keys: Array<string | number> = [];
  try {
    return writeCanonical(value, keys);
  } catch (error) {
    if (error instanceof Refusal) throw new NotJsonError(keys.reduce<string>((path, key) => pointer(path, key), ""), error.reason);
    throw error;
  }
}

/** A refusal inside the walk; `keys` then holds the path to the refused value. */
class Refusal {
  constructor(readonly reason: string) {}
}

/** Characters JSON.stringify escapes (RFC 8785 §3.2.2.2), and surrogates, which need the exact test. */
const ESCAPED_OR_SURROGATE = /["\\\u0000-\u001f\ud800-\udfff]/;

/** A JSON string literal; most strings need no escape and are quoted as they are. */
function quote(value: string, refusal: string): string {
  if (!ESCAPED_OR_SURROGATE.test(value)) return `"${value}"`;
  if (LONE_SURROGATE.test(value)) throw new Refusal(refusal);
  return JSON.stringify(value);
}

function writeCanonical(value: unknown, keys: Array<string | number>): string {
  if (keys.length > MAX_DEPTH) throw new Refusal(`nested deeper than ${MAX_DEPTH}`);
  switch (typeof value) {
    case "boolean":
      return value ? "true" : "false";
    case "string":
      return quote(value, "string holds a lone surrogate");
    case "number":
      if (!Number.isFinite(value)) throw new Refusal(`${value} is not a JSON number`);
      return JSON.stringify(value);
    case "object": {
      if (value === null) return "null";
      if (Array.isArray(value)) {
        let text = "[";
        for (let i = 0; i < value.length; i++) {
          keys.push(i);
          if (!(i in value)) throw new Refusal("array has a hole");
          text += (i === 0 ? "" : ",") + writeCanonical(value[i], keys);
          keys.pop();
        }
        return `${text}]`;
      }
      if (!isPlainObject(value)) throw new Refusal("not a plain object");
      if (Object.getOwnPropertySymbols(value).length > 0) throw new Refusal("symbol-keyed property");
      const names = Object.keys(value).sort();
      let text = "{";
      for (let i = 0; i < names.length; i++) {
        const name = names[i] as string;
        keys.push(name);
        text += `${i === 0 ? "" : ","}${quote(name, "key holds a lone surrogate")}:${writeCanonical((value as Record<string, unknown>)[name], keys)}`;
        keys.pop();
      }
      return `${text}}`;
    }
    default:
      // undefined, bigint, symbol, function
      throw new Refusal(`${typeof value} is not a JSON value`);
  }
}
