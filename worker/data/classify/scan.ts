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

/** True when one of `words` (lower case) starts a word shortly before or after [start, end). */
export function near(text: string, start: number, end: number, words: readonly string[]): boolean {
  const around = `${text.slice(Math.max(0, start - CONTEXT_BEFORE), start)} ${text.slice(end, end + CONTEXT_AFTER)}`.toLowerCase();
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
  const supported = rule.context !== undefined && near(text, start, end, rule.context);
  if (rule.requiresContext && !supported) return;
  let score = supported ? base + CONTEXT_BOOST : base;
  if (rule.numeric && near(text, start, end, NOT_PII)) score -= CONTEXT_PENALTY;
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
