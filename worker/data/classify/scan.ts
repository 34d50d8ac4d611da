/**
 * What every detector shares: a finding is emitted in the coordinates of the (folded, capped) text it
 * scanned; `detectText` maps it back. Context words near a match raise or lower its score.
 */
import type { ClassificationLevel, Finding, FindingCategory } from "../../context.ts";

export type Emit = (finding: Finding) => void;

/** Findings below this score are dropped (a match whose context does not support it). */
export const MIN_SCORE = 0.4;

/** How far around a match context words are looked for, in UTF-16 code units. */
const CONTEXT_BEFORE = 48;
const CONTEXT_AFTER = 24;

const isLetter = (c: number) => (c >= 97 && c <= 122) || (c >= 65 && c <= 90);

/** Words that say a nearby number is something else: an order, a version, a tracking code. */
const NOT_PII = ["order", "invoice", "tracking", "version", "isbn", "sku", "serial", "build", "ticket", "commit", "uuid", "hash"];

/**
 * Context words are looked for in `around`: the lower-cased CONTEXT_BEFORE code units before a match,
 * a space, and the CONTEXT_AFTER after it; a word counts where it starts a word of `around` (the
 * window's first character counts as a word start, and so does the first one after the space).
 *
 * Every word list of every rule is read in one walk of that window per span (several rules ask about
 * one span in a row: a bare number may be a phone, an account or a record number), without building
 * a string: each list has a bit, and the walk returns the bits of the lists it saw a word of. On
 * text that is all ASCII, lower-casing keeps every offset; other text (rare after folding) builds
 * `around` as a string and searches it, which is the same definition.
 */
const lists = new Map<readonly string[], number>();
/** Words by their first two characters (ASCII, c1 * 128 + c2): each with the bits of its lists. */
let byPair: Array<Array<{ word: string; bits: number }> | undefined> = pairTable();
/**
 * Per pair of code units as written (either case of a letter), a slot (1–255) for the lower-cased
 * pair when some word starts with it, else 0; per slot and lower-cased third code unit
 * (slot * 128 + third), the bits of that pair's words the third unit continues (a word of two
 * characters: any). The walk reads a pair's words only when the third unit leaves a bit it lacks:
 * many words of ordinary text share their first two letters with a context word, few their first three.
 */
let pairSlots = new Uint8Array(128 * 128);
let thirdBits = new Uint32Array(256 * 128);
/** Pairs past the 254th share this slot, which every third unit continues (a weaker filter, still exact). */
const LAST_SLOT = 255;

/** A table of every pair, filled (a sparse array would be a dictionary, slow to index). */
function pairTable(): Array<Array<{ word: string; bits: number }> | undefined> {
  return Array.from({ length: 128 * 128 }, () => undefined);
}

function listBit(words: readonly string[]): number {
  let bit = lists.get(words);
  if (bit !== undefined) return bit;
  // At most 31 lists (the rules of this folder have 17); a further one is searched on its own (bit 0).
  bit = lists.size < 31 ? 1 << lists.size : 0;
  lists.set(words, bit);
  if (bit !== 0) {
    byPair = pairTable();
    pairSlots = new Uint8Array(128 * 128);
    thirdBits = new Uint32Array(256 * 128);
    let slots = 0;
    for (const [list, b] of lists) {
      for (const word of list) {
        // A word shorter than two characters, or not ASCII, is searched the other way (bit 0).
        if (word.length < 2 || !(word.charCodeAt(0) < 128 && word.charCodeAt(1) < 128)) {
          lists.set(list, 0);
          continue;
        }
        let slot = pairSlots[word.charCodeAt(0) * 128 + word.charCodeAt(1)]!;
        if (slot === 0) {
          slot = Math.min(++slots, LAST_SLOT);
          for (const first of spellings(word.charCodeAt(0))) for (const second of spellings(word.charCodeAt(1))) pairSlots[first * 128 + second] = slot;
        }
        for (let third = 0; third < 128; third++) {
          if (word.length === 2 || slot === LAST_SLOT || LOWER[third] === word.charCodeAt(2)) thirdBits[slot * 128 + third]! |= b;
        }
        const entries = (byPair[word.charCodeAt(0) * 128 + word.charCodeAt(1)] ??= []);
        const entry = entries.find((e) => e.word === word);
        if (entry) entry.bits |= b;
        else entries.push({ word, bits: b });
      }
    }
    last = NOTHING; // its bits predate this list
    bit = lists.get(words)!;
  }
  return bit;
}

/** Code units lower-cased (ASCII capitals; the sweep's code units are bytes). */
const LOWER = Uint8Array.from({ length: 256 }, (_, c) => (c >= 65 && c <= 90 ? c + 32 : c));

/** The ASCII code units that lower-case to `c`. */
function spellings(c: number): number[] {
  const units: number[] = [];
  for (let unit = 0; unit < 128; unit++) if (LOWER[unit] === c) units.push(unit);
  return units;
}

/** 1 for the ASCII letters (as `isLetter`), by code unit. */
const LETTER = Uint8Array.from({ length: 256 }, (_, c) => (isLetter(c) ? 1 : 0));
/**
 * `around` of an ASCII text, as written, in a buffer reused from call to call (cleared by `contextFor`),
 * with room for one unit past it (the third unit of its last pair).
 */
const around = new Uint8Array(CONTEXT_BEFORE + 1 + CONTEXT_AFTER + 1);

/** Bits of the lists with a word in the window around [start, end) of the ASCII text of `codes`. */
function windowBits(codes: Uint8Array, textLength: number, start: number, end: number): number {
  const from = Math.max(0, start - CONTEXT_BEFORE);
  const to = Math.min(textLength, end + CONTEXT_AFTER);
  let length = 0;
  for (let i = from; i < start; i++) around[length++] = codes[i]!;
  around[length++] = 32;
  for (let i = end; i < to; i++) around[length++] = codes[i]!;
  let bits = 0;
  // A slot at a word start, 0 inside a word (LETTER is 1 or 0): the pair at every position is looked
  // up, and only a pair some word starts with, at a word start, is read further. Past `length` the
  // third unit is stale, but only a word of two characters fits there, and those continue with any.
  let wordStart = -1;
  for (let p = 0; p + 1 < length; p++) {
    const c = around[p]!;
    const next = around[p + 1]!;
    const slot = pairSlots[c * 128 + next]! & wordStart;
    if (slot !== 0 && (thirdBits[slot * 128 + LOWER[around[p + 2]!]!]! & ~bits) !== 0) {
      bits |= wordBitsAt(p, length, byPair[LOWER[c]! * 128 + LOWER[next]!]!, bits);
    }
    wordStart = LETTER[c]! - 1;
  }
  return bits;
}

/** Bits of the words of `entries` (one pair's, the pair at p) that `around` holds whole at p, of those not yet in `bits`. */
function wordBitsAt(p: number, length: number, entries: ReadonlyArray<{ word: string; bits: number }>, bits: number): number {
  for (const { word, bits: b } of entries) {
    if ((bits & b) === b || p + word.length > length) continue;
    let k = 2;
    while (k < word.length && LOWER[around[p + k]!] === word.charCodeAt(k)) k++;
    if (k === word.length) bits |= b;
  }
  return bits;
}

/** True when one of `words` (lower case) starts a word in `around` (the other text's way). */
function mentionsIn(around: string, words: readonly string[]): boolean {
  for (const word of words) {
    for (let at = around.indexOf(word); at >= 0; at = around.indexOf(word, at + 1)) {
      if (at === 0 || !isLetter(around.charCodeAt(at - 1))) return true;
    }
  }
  return false;
}

/** The span last asked about, with what is known of its window so far. */
interface Surroundings {
  text: string;
  start: number;
  end: number;
  /** ASCII text: the bits of the lists seen in the window. */
  bits?: number;
  /** Other text: the window as a string. */
  around?: string;
}
const NOTHING: Surroundings = { text: "", start: -1, end: -1 };
let last = NOTHING;
/** The text being classified when it is all ASCII, and its code units (set by `contextFor`). */
let asciiText: string | undefined;
let asciiCodes: Uint8Array | undefined;

const aroundOf = (text: string, start: number, end: number) =>
  `${text.slice(Math.max(0, start - CONTEXT_BEFORE), start)} ${text.slice(end, end + CONTEXT_AFTER)}`.toLowerCase();

/** Whether a word of `words` is near [start, end) of `text`. */
function mentions(text: string, start: number, end: number, words: readonly string[]): boolean {
  const bit = listBit(words);
  if (!(last.text === text && last.start === start && last.end === end)) last = { text, start, end };
  if (bit !== 0 && text === asciiText && asciiCodes) return ((last.bits ??= windowBits(asciiCodes, text.length, start, end)) & bit) !== 0;
  return mentionsIn((last.around ??= aroundOf(text, start, end)), words);
}

/**
 * Declares the text about to be scanned, with its code units one byte each (`codesOf`, sweep.ts) when
 * it is all ASCII, and drops the memo so no text outlives the call that classified it. `detectWithin`
 * calls this before and after (classification is synchronous, so calls never interleave).
 */
export function contextFor(text: string | undefined, asciiCodesOfText?: Uint8Array): void {
  asciiText = asciiCodesOfText ? text : undefined;
  asciiCodes = asciiCodesOfText;
  last = NOTHING;
  // Cleared when a classification ends (it starts cleared, then).
  if (text === undefined) around.fill(0);
}

export interface Rule {
  type: string;
  category: FindingCategory;
  level: ClassificationLevel;
  /** Score of a validated match without any context. */
  score: number;
  /** Words that raise the score by CONTEXT_BOOST. */
  context?: readonly string[];
  /** Reported only when a context word is near (a check digit alone passes one random number in ten). */
  requiresContext?: boolean;
  /** Numbers only: lowered by CONTEXT_PENALTY when a NOT_PII word is near. */
  numeric?: boolean;
}

const CONTEXT_BOOST = 0.3;
const CONTEXT_PENALTY = 0.4;

/** Emits `rule`'s finding for [start, end) with its context-adjusted score (dropped below MIN_SCORE). */
export function report(text: string, start: number, end: number, rule: Rule, emit: Emit, base = rule.score): void {
  // Most candidates are decided without reading their context: skip the slice when it cannot matter.
  const reachable = rule.context ? base + CONTEXT_BOOST : base;
  if (reachable < MIN_SCORE) return;
  let score = base;
  if (rule.context || rule.numeric) {
    const supported = rule.context !== undefined && mentions(text, start, end, rule.context);
    if ((rule.requiresContext || base < MIN_SCORE) && !supported) return;
    if (supported) score += CONTEXT_BOOST;
    if (rule.numeric && mentions(text, start, end, NOT_PII)) score -= CONTEXT_PENALTY;
  }
  score = Math.round(Math.min(1, score) * 100) / 100;
  if (score >= MIN_SCORE) emit({ type: rule.type, start, end, score, category: rule.category, level: rule.level });
}

/**
 * Runs a global scanner regex and hands each match to `onMatch`, which returns where scanning
 * resumes (a validator may accept less than the regex matched). Every scanner regex in this folder is
 * linear: a literal or a negative-lookbehind guard restricts where an attempt can start (so a run of
 * characters is entered once), and every quantifier is bounded and not nested.
 */
export function scan(text: string, pattern: RegExp, onMatch: (match: RegExpExecArray) => number | void): void {
  pattern.lastIndex = 0;
  for (let match = pattern.exec(text); match; match = pattern.exec(text)) {
    const resume = onMatch(match);
    pattern.lastIndex = typeof resume === "number" ? Math.max(resume, match.index + 1) : match.index + Math.max(1, match[0].length);
  }
}

/** A scanner's handling of one match (a module-level function: no closure is made per match). */
export type OnMatch = (text: string, match: RegExpExecArray, emit: Emit) => number | void;

/**
 * Tries a sticky scanner regex at `at` only (the sweep, sweep.ts, decides where): on a match, runs
 * `onMatch` and returns where a `scan` of the same regex would resume; without one, -1.
 */
export function attempt(text: string, pattern: RegExp, at: number, emit: Emit, onMatch: OnMatch): number {
  pattern.lastIndex = at;
  const match = pattern.exec(text);
  if (!match) return -1;
  const resume = onMatch(text, match, emit);
  return typeof resume === "number" ? Math.max(resume, match.index + 1) : match.index + Math.max(1, match[0].length);
}

/**
 * `scan` for a sticky regex whose every match starts with `literal`: the regex is tried only where
 * indexOf finds the literal (the leftmost match from a position is at the first occurrence where one
 * matches), so the text is not walked by the regex.
 */
export function scanAt(text: string, literal: string, pattern: RegExp, emit: Emit, onMatch: OnMatch): void {
  for (let at = text.indexOf(literal); at >= 0; ) {
    const resume = attempt(text, pattern, at, emit, onMatch);
    at = text.indexOf(literal, resume >= 0 ? resume : at + 1);
  }
}

/** A lookup table of ASCII characters from ranges written like a regex class body ("A-Za-z0-9_"). */
export function charTable(ranges: string): Uint8Array {
  const table = new Uint8Array(128);
  for (let i = 0; i < ranges.length; i++) {
    if (ranges[i + 1] === "-" && i + 2 < ranges.length) {
      for (let c = ranges.charCodeAt(i); c <= ranges.charCodeAt(i + 2); c++) table[c] = 1;
      i += 2;
    } else table[ranges.charCodeAt(i)] = 1;
  }
  return table;
}

export const allowed = (table: Uint8Array, c: number): boolean => c < 128 && table[c] === 1;
