/**
 * RFC 8785 (JCS) canonical JSON, strict: a value that JSON cannot represent is refused instead of
 * being dropped or turned into `null` the way `JSON.stringify` (and the `canonicalize` package after
 * it) would. A hash over canonical JSON must commit to exactly the value the caller handed over, so
 * a silently omitted field is not acceptable. Web APIs only.
 */
import canonicalize from "canonicalize";

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
 * `refusalOf` stays well inside the isolate's stack.
 */
const MAX_DEPTH = 64;

const SURROGATE = /[\uD800-\uDFFF]/;
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
export function assertJson(value: unknown): asserts value is JsonValue {
  const keys: Array<string | number> = [];
  const reason = refusalOf(value, keys);
  // The pointer is built only for a refusal: the audit log checks every record on its write path.
  if (reason !== undefined) throw new NotJsonError(keys.reduce<string>(pointer, ""), reason);
}

/** Why `value` is not JSON, with `keys` left holding the path to it; undefined when it is JSON. */
function refusalOf(value: unknown, keys: Array<string | number>): string | undefined {
  if (keys.length > MAX_DEPTH) return `nested deeper than ${MAX_DEPTH}`;
  switch (typeof value) {
    case "boolean":
      return undefined;
    case "string":
      return hasLoneSurrogate(value) ? "string holds a lone surrogate" : undefined;
    case "number":
      return Number.isFinite(value) ? undefined : `${value} is not a JSON number`;
    case "object": {
      if (value === null) return undefined;
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) {
          keys.push(i);
          const reason = i in value ? refusalOf(value[i], keys) : "array has a hole";
          if (reason !== undefined) return reason;
          keys.pop();
        }
        return undefined;
      }
      if (!isPlainObject(value)) return "not a plain object";
      if (Object.getOwnPropertySymbols(value).length > 0) return "symbol-keyed property";
      for (const key of Object.keys(value)) {
        keys.push(key);
        const reason = hasLoneSurrogate(key) ? "key holds a lone surrogate" : refusalOf((value as Record<string, unknown>)[key], keys);
        if (reason !== undefined) return reason;
        keys.pop();
      }
      return undefined;
    }
    default:
      // undefined, bigint, symbol, function
      return `${typeof value} is not a JSON value`;
  }
}

/** Most strings hold no surrogate at all; only those that do need the exact (slower) test. */
function hasLoneSurrogate(text: string): boolean {
  return SURROGATE.test(text) && LONE_SURROGATE.test(text);
}

/** The RFC 8785 canonical form of `value`; throws `NotJsonError` for anything that is not JSON. */
export function canonicalJson(value: unknown): string {
  assertJson(value);
  const text = canonicalize(value);
  // assertJson admits only values canonicalize serialises, so undefined here is a broken invariant.
  if (text === undefined) throw new NotJsonError("", "value has no canonical form");
  return text;
}
