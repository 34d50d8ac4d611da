/**
 * JSON.parse that refuses an object with the same member name twice. RFC 8259 §4 leaves duplicate
 * names' meaning open and parsers disagree (first wins, last wins, error), so a signed document that
 * holds one can mean one thing to its signer and another to the gateway. Web APIs only.
 */

export class DuplicateKeyError extends SyntaxError {
  override readonly name = "DuplicateKeyError";
  constructor(readonly key: string) {
    super(`duplicate member name ${JSON.stringify(key)} in a JSON object`);
  }
}

const WHITESPACE = new Set([" ", "\t", "\n", "\r"]);

/**
 * Parses `text` with JSON.parse (so syntax is exactly the platform's), then walks it once more to
 * find repeated names. The walk relies on the text being valid JSON: it tracks only strings and
 * brackets. A string is a member name when it follows `{` or a `,` inside an object. Names are
 * compared after unescaping, so `"a"` and `"\u0061"` collide.
 */
export function parseStrictJson(text: string): unknown {
  const value: unknown = JSON.parse(text);
  // One set of seen names per open object; `null` marks an open array.
  const open: Array<Set<string> | null> = [];
  let expectName = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === '"') {
      let end = i + 1;
      while (text[end] !== '"') end += text[end] === "\\" ? 2 : 1;
      if (expectName) {
        const name = JSON.parse(text.slice(i, end + 1)) as string;
        const seen = open.at(-1)!;
        if (seen.has(name)) throw new DuplicateKeyError(name);
        seen.add(name);
        expectName = false;
      }
      i = end;
    } else if (ch === "{") {
      open.push(new Set());
      expectName = true;
    } else if (ch === "[") {
      open.push(null);
    } else if (ch === "}" || ch === "]") {
      open.pop();
      expectName = false;
    } else if (ch === ",") {
      expectName = open.at(-1) != null;
    } else if (!WHITESPACE.has(ch)) {
      expectName = false;
    }
  }
  return value;
}
