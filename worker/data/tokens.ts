/**
 * Reversible tokenization within one request (`tokenize:<CATEGORY>` obligations): the model sees a
 * placeholder, the caller gets the original value back in the answer. The vault lives in memory for
 * this request only; nothing is stored, logged or sent anywhere.
 *
 * A placeholder is `⟦<TYPE>_<n>:<nonce>⟧`, e.g. `⟦EMAIL_ADDRESS_1:9f3a0c1d⟧`: `n` counts per type, and
 * `nonce` (32 random bits, one per request) keeps a placeholder from colliding with text a caller
 * happened to write. The same value always gets the same placeholder, so the model can tell that two
 * mentions are the same person. `⟦` and `⟧` (U+27E6/U+27E7) appear only at the ends, so placeholders
 * never overlap and a streamed one can be recognised by its first character.
 */
import { toHex } from "../lib/encoding.ts";

const PLACEHOLDER = /⟦[A-Z][A-Z0-9_]*_[1-9][0-9]*:[0-9a-f]{8}⟧/g;
const OPEN = "⟦";

export class TokenVault {
  /** Random per request, in every placeholder of this vault. */
  readonly nonce: string;
  readonly #byValue = new Map<string, string>();
  readonly #byPlaceholder = new Map<string, string>();
  readonly #perType = new Map<string, number>();
  #longest = 0;

  constructor(nonce: string = toHex(crypto.getRandomValues(new Uint8Array(4)))) {
    if (!/^[0-9a-f]{8}$/.test(nonce)) throw new TypeError("a token vault's nonce is 8 lower-case hex digits");
    this.nonce = nonce;
  }

  /** The placeholder standing for `value` (found as `type`), issued on first sight. */
  placeholder(type: string, value: string): string {
    const known = this.#byValue.get(value);
    if (known !== undefined) return known;
    const n = (this.#perType.get(type) ?? 0) + 1;
    this.#perType.set(type, n);
    const placeholder = `${OPEN}${type}_${n}:${this.nonce}⟧`;
    this.#byValue.set(value, placeholder);
    this.#byPlaceholder.set(placeholder, value);
    this.#longest = Math.max(this.#longest, placeholder.length);
    return placeholder;
  }

  /** How many distinct values were tokenized. */
  get size(): number {
    return this.#byPlaceholder.size;
  }

  /** The longest placeholder issued: the most a streamed reply has to hold back to restore one. */
  get longest(): number {
    return this.#longest;
  }

  /**
   * `text` with every placeholder of this vault replaced by its value; other placeholder-shaped text
   * (another request's, or the caller's own) is left as it is. `restored` counts replacements.
   * `encode` writes a value for where it lands (`jsonStringContent` inside a JSON string: a
   * placeholder needs no escaping there, the value it stands for may).
   */
  restore(text: string, encode: (value: string) => string = (value) => value): { text: string; restored: number } {
    if (this.#byPlaceholder.size === 0 || !text.includes(OPEN)) return { text, restored: 0 };
    let restored = 0;
    const out = text.replace(PLACEHOLDER, (candidate) => {
      const value = this.#byPlaceholder.get(candidate);
      if (value === undefined) return candidate;
      restored++;
      return encode(value);
    });
    return { text: out, restored };
  }

  /**
   * Where the possibly unfinished placeholder at the end of `text` begins (`text.length` when there is
   * none): the tail from there must wait for the next delta before it can be restored.
   */
  pendingFrom(text: string): number {
    const open = text.lastIndexOf(OPEN);
    if (open < 0 || text.length - open >= this.#longest) return text.length;
    const tail = text.slice(open);
    for (const placeholder of this.#byPlaceholder.keys()) {
      if (placeholder.length > tail.length && placeholder.startsWith(tail)) return open;
    }
    return text.length;
  }
}

/** `value` as the content of a JSON string literal (what goes between its quotes). */
export function jsonStringContent(value: string): string {
  return JSON.stringify(value).slice(1, -1);
}
