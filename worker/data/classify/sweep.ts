/**
 * One pass over the text finds where the position-anchored scanners may match, and tries each there:
 * number runs, provider key prefixes, IBANs, NIF/NIE, DEA numbers, ICD-10 codes, Base58 and Ethereum
 * addresses and capitalised words (names). Each scanner's regex is tried sticky at a position only
 * where a cheap check on a few characters — a necessary condition of that regex — holds, and each
 * keeps its own resume point, so it matches exactly where a scan of the text with that regex alone
 * would. Scanners keyed on a rarer literal ("@", ":", "=", "://", "-----BEGIN ", "Q~", "bc1") find it
 * with indexOf instead (detect.ts). Every findings list stays in its scanner's own order.
 */
import { base58At, deaAt, ethAt, ibanAt, icd10At, nifAt } from "./identifiers.ts";
import { namesAt } from "./names.ts";
import { numberRunAt } from "./numeric.ts";
import type { Emit } from "./scan.ts";
import { KEY_STARTS, prefixedKeyAt } from "./secrets.ts";

/** What a character is, for the checks below (ASCII; other characters have no flag). */
const ALNUM = 1;
/** Stops a number run from starting right after it: [0-9A-Za-z_+(]. */
const RUN_BLOCK = 2;
const DIGIT = 4;
const UPPER = 8;
/** "+" or "(": a number run may start on it. */
const PLUS_PAREN = 16;
/** X, Y, Z in either case: a NIE's first letter. */
const NIE_LETTER = 32;
/** "1" or "3": a Base58Check address's first character. */
const BASE58_FIRST = 64;
/** [ABCDEFGHJKLMPRSTUX]: a DEA number's first letter. */
const DEA_FIRST = 128;
/** [A-TV-Z]: an ICD-10 code's letter. */
const ICD_LETTER = 256;
const DOT = 512;
/** [a-z'-] (and the non-ASCII "’"): what follows the capital letter of a name. */
const NAME_TAIL = 1024;
/** A character some key prefix starts with. */
const KEY_FIRST = 2048;

/** Code units as the sweep reads them: ASCII as is, "’" as RIGHT_QUOTE, any other as OTHER. */
const RIGHT_QUOTE = 128;
const OTHER = 255;
/** Room past the end, so the look-ahead of the checks (at most 25, base58At) reads padding (no flags), never past the array. */
const PADDING = 32;

const FLAGS = (() => {
  const flags = new Uint16Array(256);
  const mark = (chars: string, flag: number) => {
    for (const ch of chars) flags[ch.charCodeAt(0)]! |= flag;
  };
  const range = (from: string, to: string) => {
    let chars = "";
    for (let c = from.charCodeAt(0); c <= to.charCodeAt(0); c++) chars += String.fromCharCode(c);
    return chars;
  };
  const digits = range("0", "9");
  const upper = range("A", "Z");
  const lower = range("a", "z");
  mark(digits + upper + lower, ALNUM);
  mark(`${digits}${upper}${lower}_+(`, RUN_BLOCK);
  mark(digits, DIGIT);
  mark(upper, UPPER);
  mark("+(", PLUS_PAREN);
  mark("XYZxyz", NIE_LETTER);
  mark("13", BASE58_FIRST);
  mark("ABCDEFGHJKLMPRSTUX", DEA_FIRST);
  mark(range("A", "T") + range("V", "Z"), ICD_LETTER);
  mark(".", DOT);
  mark(`${lower}'-`, NAME_TAIL);
  flags[RIGHT_QUOTE] = NAME_TAIL;
  for (let pair = 0; pair < KEY_STARTS.length; pair++) if (KEY_STARTS[pair]) flags[pair >> 7]! |= KEY_FIRST;
  return flags;
})();

/** A table over pairs of code units (first * 256 + second): 1 where `holds` of them and their flags. */
function pairTable(holds: (first: number, second: number, f1: number, f2: number) => boolean): Uint8Array {
  const table = new Uint8Array(256 * 256);
  for (let first = 0; first < 256; first++) {
    for (let second = 0; second < 256; second++) if (holds(first, second, FLAGS[first]!, FLAGS[second]!)) table[first * 256 + second] = 1;
  }
  return table;
}

/**
 * Pairs (c * 256 + next) where some scanner may start at c: a digit; a capital before a letter, "'",
 * "-", "’" or a digit (names, IBANs, DEA numbers, ICD-10 codes); "+", "(" or a NIE letter before a
 * digit; the first two characters of a key prefix. Deciding on the pair keeps most letters out of the
 * checks below (a branch taken at random on common letters costs more than the test).
 */
const ANCHORS = pairTable(
  (c, next, f, n) =>
    (f & DIGIT) !== 0 ||
    ((f & UPPER) !== 0 && (n & (NAME_TAIL | UPPER | DIGIT)) !== 0) ||
    ((f & (PLUS_PAREN | NIE_LETTER)) !== 0 && (n & DIGIT) !== 0) ||
    (c < 128 && next < 128 && KEY_STARTS[c * 128 + next] === 1),
);

/**
 * Pairs (before * 256 + c) where some scanner may start at c given the character before it: a capital
 * or a key prefix's first character anywhere; a digit or a NIE letter not after a letter or digit (a
 * number run, NIF, Base58); "+" or "(" not after a word character, "+" or "(". Most digits stand
 * inside a number and are passed over here.
 */
const STARTS = pairTable(
  (_before, _c, b, f) =>
    (f & (UPPER | KEY_FIRST)) !== 0 || ((f & (DIGIT | NIE_LETTER)) !== 0 && (b & ALNUM) === 0) || ((f & PLUS_PAREN) !== 0 && (b & RUN_BLOCK) === 0),
);

/**
 * STARTS and ANCHORS in one table, as bits: the pair (i, i + 1) is ANCHORS' pair for i and STARTS'
 * pair for i + 1, so the sweep reads one pair per position instead of two.
 */
const START_BIT = 1;
const PAIRS = STARTS.map((start, pair) => start | (ANCHORS[pair]! << 1));

const encoder = new TextEncoder();

/** Reused from call to call (a fresh megabyte per text costs more in collection than in copying). */
let buffer = new Uint8Array(4096);
/** How many bytes of `buffer` hold something since the last `releaseCodes` (the rest is zero). */
let dirty = 0;

export interface Codes {
  codes: Uint8Array;
  /** The text is all ASCII (lower-casing it keeps every offset). */
  ascii: boolean;
}

/**
 * The text as one byte per code unit (a typed array is read about twice as fast as `charCodeAt`).
 * The text is encoded as UTF-8 first: when every code unit became one byte, the text is ASCII and
 * the bytes are its code units (so this is also the ASCII check, in one fast pass); other text is
 * mapped unit by unit. The bytes are valid until `releaseCodes`, which zeroes them (no text outlives
 * the call; the padding past the text stays zero).
 */
export function codesOf(text: string): Codes {
  if (buffer.length < text.length + PADDING) {
    releaseCodes();
    buffer = new Uint8Array(text.length + PADDING);
  }
  const codes = buffer;
  const { read, written } = encoder.encodeInto(text, codes);
  // Past the text, zero: what the encoder wrote there (UTF-8 of other text is longer) or an earlier call left.
  const stale = Math.max(dirty, written);
  if (stale > text.length) codes.fill(0, text.length, stale);
  dirty = text.length;
  if (read === text.length && written === text.length) return { codes, ascii: true };
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    codes[i] = c < 128 ? c : c === 0x2019 ? RIGHT_QUOTE : OTHER;
  }
  return { codes, ascii: false };
}

export function releaseCodes(): void {
  buffer.fill(0, 0, dirty);
  dirty = 0;
}

/** Where each scanner's findings go (each keeps its own list, in its own order). */
export interface SweepEmits {
  keys: Emit;
  numbers: Emit;
  ibans: Emit;
  nifs: Emit;
  deas: Emit;
  icd10s: Emit;
  base58s: Emit;
  /** Ethereum addresses (segwit ones, found by their prefix, join them: detect.ts). */
  wallets: Emit;
  names: Emit;
}

/**
 * The sweep reads the text a block at a time: first the positions of the block where some scanner
 * may start (about one in fifteen of mixed text) are listed, in a loop that only reads the pair
 * table, then the scanners are tried at each of them. Kept apart, the first loop stays small enough
 * for the compiler to keep in registers; mixed with the scanners it ran several times slower.
 */
const BLOCK = 4096;
const candidates = new Int32Array(BLOCK);

/** Lists in `candidates` the positions of [from, to) where some scanner may start; returns how many. */
function anchorsIn(codes: Uint8Array, from: number, to: number): number {
  // The code units at i and after it; `startsAt` holds STARTS' bit for i, read with the pair before
  // (0 before the start: no flags, like no character).
  let next = codes[from]!;
  let startsAt = PAIRS[((from > 0 ? codes[from - 1]! : 0) << 8) | next]! & START_BIT;
  let found = 0;
  for (let i = from; i < to; i++) {
    const c = next;
    next = codes[i + 1]!;
    const pair = PAIRS[(c << 8) | next]!;
    // Written unconditionally, kept only when anchored: no branch on the text.
    candidates[found] = i;
    found += startsAt & (pair >> 1);
    startsAt = pair & START_BIT;
  }
  return found;
}

/** `codes`: the text as `codesOf` gives it. */
export function sweep(text: string, codes: Uint8Array, emits: SweepEmits): void {
  // Per scanner: the first position its next match may start at (a scan's lastIndex).
  let runFrom = 0;
  let keyFrom = 0;
  let ibanFrom = 0;
  let nifFrom = 0;
  let deaFrom = 0;
  let icdFrom = 0;
  let base58From = 0;
  let ethFrom = 0;
  let nameFrom = 0;
  const length = text.length;
  for (let from = 0; from < length; from += BLOCK) {
    const found = anchorsIn(codes, from, Math.min(length, from + BLOCK));
    for (let k = 0; k < found; k++) {
      const i = candidates[k]!;
      const c = codes[i]!;
      const next = codes[i + 1]!;
      const p = i > 0 ? codes[i - 1]! : 0;
      const before = FLAGS[p]!;
      const f = FLAGS[c]!;
      const n = FLAGS[next]!;
      if ((f & KEY_FIRST) !== 0 && i >= keyFrom && next < 128 && KEY_STARTS[c * 128 + next] === 1) {
        const resume = prefixedKeyAt(text, codes, i, emits.keys);
        if (resume >= 0) keyFrom = resume;
      }
      if ((f & UPPER) !== 0 && (n & NAME_TAIL) !== 0 && i >= nameFrom) {
        nameFrom = namesAt(text, codes, i, emits.names);
      }
      if ((before & RUN_BLOCK) === 0 && i >= runFrom && ((f & DIGIT) !== 0 || ((f & PLUS_PAREN) !== 0 && (n & DIGIT) !== 0))) {
        runFrom = numberRunAt(text, codes, i, (f & DIGIT) !== 0 ? i : i + 1, emits.numbers);
      }
      if ((before & ALNUM) === 0) {
        // A word starts here: the scanners whose regex begins with (?<![A-Za-z0-9]).
        if ((f & UPPER) !== 0 && (n & UPPER) !== 0 && i >= ibanFrom && (FLAGS[codes[i + 2]!]! & DIGIT) !== 0) {
          const resume = ibanAt(text, i, emits.ibans);
          if (resume >= 0) ibanFrom = resume;
        }
        // A NIF/NIE has seven digits at least, from here or after its letter: most numbers here are shorter.
        const nifDigits = (f & DIGIT) !== 0 || ((f & NIE_LETTER) !== 0 && (n & DIGIT) !== 0);
        if (nifDigits && i >= nifFrom && (FLAGS[codes[i + ((f & DIGIT) !== 0 ? 6 : 7)]!]! & DIGIT) !== 0) {
          const resume = nifAt(text, codes, i, emits.nifs);
          if (resume >= 0) nifFrom = resume;
        }
        if ((f & DEA_FIRST) !== 0 && ((n & UPPER) !== 0 || next === 57) && i >= deaFrom && (FLAGS[codes[i + 8]!]! & DIGIT) !== 0) {
          const resume = deaAt(text, i, emits.deas);
          if (resume >= 0) deaFrom = resume;
        }
        if ((f & ICD_LETTER) !== 0 && (n & DIGIT) !== 0 && (before & DOT) === 0 && i >= icdFrom) {
          const resume = icd10At(text, i, emits.icd10s);
          if (resume >= 0) icdFrom = resume;
        }
        if ((f & BASE58_FIRST) !== 0 && i >= base58From) {
          const resume = base58At(text, codes, i, emits.base58s);
          if (resume >= 0) base58From = resume;
        }
        // "0x": an Ethereum address.
        if (c === 48 && next === 120 && i >= ethFrom) {
          const resume = ethAt(text, i, emits.wallets);
          if (resume >= 0) ethFrom = resume;
        }
      }
    }
  }
}
