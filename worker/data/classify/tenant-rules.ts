/**
 * A tenant's own dictionary terms and patterns (registry `tenants[].classifier`, schema in
 * worker/workload/registry-schema.ts), compiled once per rules object.
 *
 * A configured pattern must not be able to stall the gateway, so it is not a JavaScript regular
 * expression but a restricted, linear subset that is parsed here and re-emitted:
 *   - atoms: a literal character, an escaped metacharacter (`\.`), `\d` `\w` `\s`, or a class
 *     `[...]` / `[^...]` of characters, ranges and those escapes;
 *   - quantifiers: `?`, `{n}`, `{m,n}` with n ≤ 64 — no `*`, `+` or `{m,}`;
 *   - no groups, alternation, anchors, backreferences or lookaround;
 *   - a variable atom (`?`, `{m,n}` with m < n) must be disjoint from every atom that can follow it up
 *     to the next mandatory one, so the split of any input between atoms is unique;
 *   - at most 256 characters of input per match.
 * Without nested quantifiers and with unique splits, a failed attempt backtracks at most once per
 * atom, so an attempt costs O(256) and a scan O(256 · n): linear in the text. Terms are literal and
 * are matched by word lookup, not by a regular expression at all.
 */
import type { ClassificationLevel, FindingCategory } from "../../context.ts";
import { LEVEL_NAMES } from "../../context.ts";
import { type Emit, report, type Rule, scan } from "./scan.ts";

export type LevelName = (typeof LEVEL_NAMES)[number];

export interface TenantTerm {
  /** A word or phrase, matched whole-word; case-insensitive unless `caseSensitive`. */
  term: string;
  type: string;
  category?: FindingCategory;
  level: LevelName;
  caseSensitive?: boolean;
}

export interface TenantPattern {
  /** In the restricted pattern language above. */
  pattern: string;
  type: string;
  category?: FindingCategory;
  level: LevelName;
  /** 0..1, default 0.8. */
  score?: number;
}

export interface TenantRules {
  terms?: TenantTerm[];
  patterns?: TenantPattern[];
}

export class TenantRulesError extends Error {
  override name = "TenantRulesError";
}

export const MAX_PATTERN_REPEAT = 64;
export const MAX_PATTERN_MATCH = 256;

/** An atom's character set: ASCII as a bitmap, and whether any non-ASCII character is in it. */
interface CharSet {
  ascii: Uint8Array;
  nonAscii: boolean;
}

interface Atom {
  source: string;
  set: CharSet;
  min: number;
  max: number;
}

function charSet(): CharSet {
  return { ascii: new Uint8Array(128), nonAscii: false };
}

function addRange(set: CharSet, from: number, to: number): void {
  for (let c = from; c <= Math.min(to, 127); c++) set.ascii[c] = 1;
  if (to > 127) set.nonAscii = true;
}

function classEscape(letter: string, set: CharSet): boolean {
  if (letter === "d") addRange(set, 48, 57);
  else if (letter === "w") {
    addRange(set, 48, 57);
    addRange(set, 65, 90);
    addRange(set, 97, 122);
    addRange(set, 95, 95);
  } else if (letter === "s") {
    for (const c of [9, 10, 11, 12, 13, 32]) addRange(set, c, c);
    set.nonAscii = true;
  } else return false;
  return true;
}

function intersects(a: CharSet, b: CharSet): boolean {
  if (a.nonAscii && b.nonAscii) return true;
  for (let c = 0; c < 128; c++) if (a.ascii[c] && b.ascii[c]) return true;
  return false;
}

const META = "\\^$.|?*+()[]{}";
const escapeChar = (c: string) => (META.includes(c) || c === "/" || c === "-" ? `\\${c}` : c);

function parseClass(pattern: string, at: number): { atom: Omit<Atom, "min" | "max">; next: number } {
  let i = at + 1;
  const negated = pattern[i] === "^";
  if (negated) i++;
  const set = charSet();
  let source = "";
  let first = true;
  while (i < pattern.length && (pattern[i] !== "]" || first)) {
    first = false;
    let c = pattern[i]!;
    if (c === "\\") {
      const letter = pattern[i + 1];
      if (letter === undefined) throw new TenantRulesError("pattern ends inside an escape");
      if (classEscape(letter, set)) {
        source += `\\${letter}`;
        i += 2;
        continue;
      }
      if (/[A-Za-z0-9]/.test(letter)) throw new TenantRulesError(`unsupported escape \\${letter}`);
      c = letter;
      i++;
    } else if (c === "[") throw new TenantRulesError("nested [ in a character class");
    i++;
    if (pattern[i] === "-" && pattern[i + 1] !== undefined && pattern[i + 1] !== "]") {
      const to = pattern[i + 1]!;
      if (to === "\\") throw new TenantRulesError("an escape cannot end a range");
      i += 2;
      if (to.charCodeAt(0) < c.charCodeAt(0)) throw new TenantRulesError(`range ${c}-${to} is reversed`);
      addRange(set, c.charCodeAt(0), to.charCodeAt(0));
      source += `${escapeChar(c)}-${escapeChar(to)}`;
    } else {
      addRange(set, c.charCodeAt(0), c.charCodeAt(0));
      source += escapeChar(c);
    }
  }
  if (pattern[i] !== "]") throw new TenantRulesError("unterminated character class");
  if (negated) {
    for (let c = 0; c < 128; c++) set.ascii[c] = set.ascii[c] ? 0 : 1;
    set.nonAscii = true;
  }
  return { atom: { source: `[${negated ? "^" : ""}${source}]`, set }, next: i + 1 };
}

function parseAtom(pattern: string, at: number): { atom: Omit<Atom, "min" | "max">; next: number } {
  const c = pattern[at]!;
  if (c === "[") return parseClass(pattern, at);
  if (c === "\\") {
    const letter = pattern[at + 1];
    if (letter === undefined) throw new TenantRulesError("pattern ends inside an escape");
    const set = charSet();
    if (classEscape(letter, set)) return { atom: { source: `\\${letter}`, set }, next: at + 2 };
    if (/[A-Za-z0-9]/.test(letter)) throw new TenantRulesError(`unsupported escape \\${letter}`);
    addRange(set, letter.charCodeAt(0), letter.charCodeAt(0));
    return { atom: { source: escapeChar(letter), set }, next: at + 2 };
  }
  if ("()|".includes(c)) throw new TenantRulesError("groups and alternation are not allowed");
  if ("*+".includes(c)) throw new TenantRulesError("unbounded repetition (* or +) is not allowed; use {m,n}");
  if ("^$".includes(c)) throw new TenantRulesError("anchors are not allowed");
  if (c === ".") throw new TenantRulesError("'.' is not allowed; use a character class");
  if ("?{}]".includes(c)) throw new TenantRulesError(`'${c}' has nothing to repeat or is unbalanced`);
  const set = charSet();
  addRange(set, c.charCodeAt(0), c.charCodeAt(0));
  return { atom: { source: escapeChar(c), set }, next: at + 1 };
}

const REPEAT = /^\{([0-9]{1,3})(?:,([0-9]{1,3}))?\}/;

/** Parses a pattern of the restricted language into atoms; throws TenantRulesError naming the problem. */
export function parsePattern(pattern: string): Atom[] {
  const atoms: Atom[] = [];
  let i = 0;
  while (i < pattern.length) {
    const { atom, next } = parseAtom(pattern, i);
    i = next;
    let min = 1;
    let max = 1;
    if (pattern[i] === "?") {
      min = 0;
      i++;
    } else if (pattern[i] === "{") {
      const repeat = REPEAT.exec(pattern.slice(i));
      if (!repeat) throw new TenantRulesError("a repetition must be {n} or {m,n}");
      min = Number(repeat[1]);
      max = repeat[2] === undefined ? min : Number(repeat[2]);
      if (max < min || max > MAX_PATTERN_REPEAT || max === 0) throw new TenantRulesError(`repetition {${min},${max}} must satisfy 0 ≤ m ≤ n ≤ ${MAX_PATTERN_REPEAT}, n ≥ 1`);
      i += repeat[0].length;
    }
    if (pattern[i] === "*" || pattern[i] === "+") throw new TenantRulesError("unbounded repetition (* or +) is not allowed; use {m,n}");
    if (i < pattern.length && "?{".includes(pattern[i]!)) throw new TenantRulesError("a quantifier cannot follow a quantifier");
    atoms.push({ ...atom, min, max });
  }
  if (atoms.length === 0) throw new TenantRulesError("empty pattern");
  if (atoms.reduce((sum, a) => sum + a.max, 0) > MAX_PATTERN_MATCH) throw new TenantRulesError(`a pattern may match at most ${MAX_PATTERN_MATCH} characters`);
  if (atoms.reduce((sum, a) => sum + a.min, 0) < 3) throw new TenantRulesError("a pattern must match at least 3 characters");
  for (let k = 0; k < atoms.length; k++) {
    if (atoms[k]!.min === atoms[k]!.max) continue;
    for (let j = k + 1; j < atoms.length; j++) {
      if (intersects(atoms[k]!.set, atoms[j]!.set)) {
        throw new TenantRulesError(`atom ${k + 1} (${atoms[k]!.source}) repeats a variable number of times and can also match atom ${j + 1} (${atoms[j]!.source}); make them disjoint`);
      }
      if (atoms[j]!.min > 0) break;
    }
  }
  return atoms;
}

const quantifier = (a: Atom) => (a.min === 1 && a.max === 1 ? "" : a.min === 0 && a.max === 1 ? "?" : a.min === a.max ? `{${a.min}}` : `{${a.min},${a.max}}`);

interface CompiledTerm {
  text: string;
  caseSensitive: boolean;
  rule: Rule;
}

export interface CompiledRules {
  patterns: { regex: RegExp; rule: Rule }[];
  /** First word of each term (lower case) → terms starting with it. */
  terms: Map<string, CompiledTerm[]>;
}

const TYPE = /^[A-Z][A-Z0-9_]{1,63}$/;
const MAX_TERMS = 5000;
const MAX_PATTERNS = 64;
const WORD = /(?<![\p{L}\p{N}_])[\p{L}\p{N}_]{1,64}/gu;
const WORD_CHAR = /[\p{L}\p{N}_]/u;

function ruleOf(entry: { type: string; category?: FindingCategory; level: LevelName }, score: number): Rule {
  if (!TYPE.test(entry.type)) throw new TenantRulesError(`type "${entry.type}" must be upper case letters, digits and _`);
  const level = LEVEL_NAMES.indexOf(entry.level);
  if (level < 0) throw new TenantRulesError(`level "${entry.level}" must be one of ${LEVEL_NAMES.join(", ")}`);
  if (!Number.isFinite(score) || score <= 0 || score > 1) throw new TenantRulesError("score must be in (0, 1]");
  return { type: entry.type, category: entry.category ?? "custom", level: level as ClassificationLevel, score };
}

const cache = new WeakMap<TenantRules, CompiledRules>();

/** Validates and compiles a tenant's rules once (cached per object); throws TenantRulesError. */
export function compileTenantRules(rules: TenantRules): CompiledRules {
  const cached = cache.get(rules);
  if (cached) return cached;
  const terms = rules.terms ?? [];
  const patterns = rules.patterns ?? [];
  if (terms.length > MAX_TERMS) throw new TenantRulesError(`at most ${MAX_TERMS} terms`);
  if (patterns.length > MAX_PATTERNS) throw new TenantRulesError(`at most ${MAX_PATTERNS} patterns`);
  const compiled: CompiledRules = { patterns: [], terms: new Map() };
  patterns.forEach((entry, index) => {
    try {
      const atoms = parsePattern(entry.pattern);
      const source = atoms.map((a) => a.source + quantifier(a)).join("");
      // Whole words only: the guard also makes each run of word characters one attempt.
      compiled.patterns.push({ regex: new RegExp(`(?<![A-Za-z0-9_])${source}(?![A-Za-z0-9_])`, "g"), rule: ruleOf(entry, entry.score ?? 0.8) });
    } catch (error) {
      if (error instanceof TenantRulesError) throw new TenantRulesError(`patterns[${index}]: ${error.message}`);
      throw error;
    }
  });
  terms.forEach((entry, index) => {
    const text = entry.term.trim();
    const first = text.match(WORD)?.[0];
    if (!first || text.length > 128 || !WORD_CHAR.test(text[0]!)) throw new TenantRulesError(`terms[${index}]: a term must start with a letter or digit and be at most 128 characters`);
    const term: CompiledTerm = { text: entry.caseSensitive ? text : text.toLowerCase(), caseSensitive: entry.caseSensitive === true, rule: ruleOf(entry, 0.9) };
    const key = first.toLowerCase();
    compiled.terms.set(key, [...(compiled.terms.get(key) ?? []), term]);
  });
  cache.set(rules, compiled);
  return compiled;
}

export function scanTenantRules(text: string, rules: CompiledRules, emit: Emit): void {
  for (const { regex, rule } of rules.patterns) {
    scan(text, regex, (m) => report(text, m.index, m.index + m[0].length, rule, emit));
  }
  if (rules.terms.size === 0) return;
  scan(text, WORD, (m) => {
    const candidates = rules.terms.get(m[0].toLowerCase());
    if (!candidates) return;
    for (const term of candidates) {
      const end = m.index + term.text.length;
      const slice = text.slice(m.index, end);
      if ((term.caseSensitive ? slice : slice.toLowerCase()) !== term.text) continue;
      if (end < text.length && WORD_CHAR.test(text[end]!)) continue;
      report(text, m.index, end, term.rule, emit);
    }
  });
}
