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

/** The lower-cased text shortly before and after [start, end), where context words are looked for. */
function surroundings(text: string, start: number, end: number): Surroundings {
  // Several rules often ask about one span in a row (a bare number: phone? account? record?).
  if (last.text === text && last.start === start && last.end === end) return last;
  const around = `${text.slice(Math.max(0, start - CONTEXT_BEFORE), start)} ${text.slice(end, end + CONTEXT_AFTER)}`.toLowerCase();
  last = { text, start, end, around, notPii: undefined };
  return last;
}
interface Surroundings {
  text: string;
  start: number;
  end: number;
  around: string;
  /** Whether a NOT_PII word is near, once asked (every numeric rule asks it of the same span). */
  notPii: boolean | undefined;
}
const NOTHING: Surroundings = { text: "", start: -1, end: -1, around: "", notPii: undefined };
let last = NOTHING;

/**
 * Drops the memo above, so no text outlives the call that classified it. `detectWithin` calls this
 * when it is done (classification is synchronous, so calls never interleave).
 */
export function forgetContext(): void {
  last = NOTHING;
}

/** True when one of `words` (lower case) starts a word in `around`. */
function mentions(around: string, words: readonly string[]): boolean {
  for (const word of words) {
    for (let at = around.indexOf(word); at >= 0; at = around.indexOf(word, at + 1)) {
      if (at === 0 || !isLetter(around.charCodeAt(at - 1))) return true;
    }
  }
  return false;
}

/** Words that say a nearby number is something else: an order, a version, a tracking code. */
const NOT_PII = ["order", "invoice", "tracking", "version", "isbn", "sku", "serial", "build", "ticket", "commit", "uuid", "hash"];

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
    const near = surroundings(text, start, end);
    const supported = rule.context !== undefined && mentions(near.around, rule.context);
    if ((rule.requiresContext || base < MIN_SCORE) && !supported) return;
    if (supported) score += CONTEXT_BOOST;
    if (rule.numeric) {
      near.notPii ??= mentions(near.around, NOT_PII);
      if (near.notPii) score -= CONTEXT_PENALTY;
    }
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
