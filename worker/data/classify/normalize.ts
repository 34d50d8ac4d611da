/**
 * Folds the Unicode tricks that hide a number or a key from ASCII patterns, without losing offsets:
 * full-width and other decimal digits become ASCII digits, full-width ASCII becomes ASCII, look-alike
 * Cyrillic and Greek letters become their Latin twins, odd spaces and dashes become " " and "-", and
 * invisible characters (zero-width, bidi controls, soft hyphen) are dropped. Detectors run on the
 * folded text; `toOriginal` maps a folded span back to UTF-16 offsets of the text as it arrived.
 *
 * Invalid UTF-8 has already become U+FFFD when the body was decoded; it and lone surrogates pass
 * through unchanged (they match no pattern, and nothing here throws on them). Pure ASCII text — the
 * common case — is returned as is, without a map.
 */

export interface Folded {
  text: string;
  /** Folded span → original span; absent when nothing was folded (offsets are the same). */
  toOriginal?: (start: number, end: number) => { start: number; end: number };
}

/** First code point of each Unicode block of decimal digits 0–9 (BMP), for digit folding. */
const DIGIT_ZEROS = [
  0x0660, 0x06f0, 0x07c0, 0x0966, 0x09e6, 0x0a66, 0x0ae6, 0x0b66, 0x0be6, 0x0c66, 0x0ce6, 0x0d66, 0x0de6, 0x0e50,
  0x0ed0, 0x0f20, 0x1040, 0x1090, 0x17e0, 0x1810, 0x1946, 0x19d0, 0x1a80, 0x1a90, 0x1b50, 0x1bb0, 0x1c40, 0x1c50,
  0xa620, 0xa8d0, 0xa900, 0xa9d0, 0xaa50, 0xabf0, 0xff10,
];

/** Mathematical alphanumeric digits (U+1D7CE–U+1D7FF): five runs of 0–9, astral (two code units). */
const MATH_DIGITS_FIRST = 0x1d7ce;
const MATH_DIGITS_LAST = 0x1d7ff;

/** Cyrillic and Greek letters that render like Latin ones. */
const HOMOGLYPHS: Readonly<Record<number, string>> = Object.fromEntries(
  [
    // Cyrillic
    ["А", "A"], ["В", "B"], ["Е", "E"], ["К", "K"], ["М", "M"], ["Н", "H"], ["О", "O"], ["Р", "P"], ["С", "C"],
    ["Т", "T"], ["Х", "X"], ["У", "Y"], ["І", "I"], ["Ј", "J"], ["Ѕ", "S"], ["а", "a"], ["е", "e"], ["о", "o"],
    ["р", "p"], ["с", "c"], ["у", "y"], ["х", "x"], ["і", "i"], ["ј", "j"], ["ѕ", "s"], ["ԁ", "d"], ["һ", "h"],
    // Greek
    ["Α", "A"], ["Β", "B"], ["Ε", "E"], ["Ζ", "Z"], ["Η", "H"], ["Ι", "I"], ["Κ", "K"], ["Μ", "M"], ["Ν", "N"],
    ["Ο", "O"], ["Ρ", "P"], ["Τ", "T"], ["Υ", "Y"], ["Χ", "X"], ["ο", "o"], ["ι", "i"], ["ν", "v"],
    // Letter-like symbols
    ["ℓ", "l"], ["ⅼ", "l"], ["ⅰ", "i"],
  ].map(([from, to]) => [from!.charCodeAt(0), to!]),
);

/** Code units that render as nothing: zero-width, joiners, bidi controls, word joiner, BOM, soft hyphen. */
function invisible(c: number): boolean {
  return (
    c === 0x00ad || c === 0x034f || c === 0x061c || c === 0x180e || (c >= 0x200b && c <= 0x200f) ||
    (c >= 0x202a && c <= 0x202e) || (c >= 0x2060 && c <= 0x2064) || (c >= 0x2066 && c <= 0x206f) || c === 0xfeff
  );
}

function space(c: number): boolean {
  return c === 0x00a0 || (c >= 0x2000 && c <= 0x200a) || c === 0x202f || c === 0x205f || c === 0x3000;
}

function dash(c: number): boolean {
  return (c >= 0x2010 && c <= 0x2015) || c === 0x2212 || c === 0xfe58 || c === 0xfe63;
}

function digitOf(c: number): string | undefined {
  for (const zero of DIGIT_ZEROS) {
    if (c >= zero && c <= zero + 9) return String.fromCharCode(48 + c - zero);
  }
  return undefined;
}

/** What one BMP code unit folds to: a string of one character, "" (dropped), or undefined (kept). */
function foldUnit(c: number): string | undefined {
  if (invisible(c)) return "";
  if (space(c)) return " ";
  if (dash(c)) return "-";
  if (c >= 0xff01 && c <= 0xff5e) return String.fromCharCode(c - 0xfee0); // full-width ASCII
  return HOMOGLYPHS[c] ?? digitOf(c);
}

const NON_ASCII = /[^\x00-\x7f]/;

export function fold(text: string): Folded {
  if (!NON_ASCII.test(text)) return { text };
  const out: string[] = [];
  // from[i]/to[i]: the original span that produced folded code unit i.
  const from: number[] = [];
  const to: number[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c < 0x80) {
      out.push(text[i]!);
      from.push(i);
      to.push(i + 1);
      i++;
      continue;
    }
    const code = text.codePointAt(i)!;
    if (code >= MATH_DIGITS_FIRST && code <= MATH_DIGITS_LAST) {
      out.push(String.fromCharCode(48 + ((code - MATH_DIGITS_FIRST) % 10)));
      from.push(i);
      to.push(i + 2);
      i += 2;
      continue;
    }
    const folded = foldUnit(c);
    if (folded === undefined) {
      out.push(text[i]!);
      from.push(i);
      to.push(i + 1);
    } else if (folded !== "") {
      out.push(folded);
      from.push(i);
      to.push(i + 1);
    }
    i++;
  }
  const length = text.length;
  const folded = out.join("");
  return {
    text: folded,
    toOriginal(start, end) {
      if (end <= start) return { start: from[start] ?? length, end: from[start] ?? length };
      return { start: from[start] ?? length, end: to[end - 1] ?? length };
    },
  };
}
