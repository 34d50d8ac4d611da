/**
 * Number-shaped identifiers. One scanner finds runs of digits with separators (at most MAX_RUN code
 * units, so everything after it works on bounded input); each run is split into digit groups, and windows
 * of consecutive groups are tried against the validators: a card number must pass its scheme's IIN and
 * length and Luhn, an SSN the SSA ranges, a phone number the numbering plan, an IPv4 address the octet
 * rules. Identifiers that are just digits with a check digit (routing, NHS, tax ids, bank and medical
 * record numbers) are reported only with a context word, since one random number in ten passes.
 */
import { abaRouting, creditCard, deTaxId, maestro, sePersonnummer, ukNhs, usSsn } from "./checksums.ts";
import { internationalNumber, nanpNumber, trunkNumber } from "./phone.ts";
import { allowed, charTable, type Emit, report, type Rule } from "./scan.ts";

/** Characters of a number run (digits and the separators people write in numbers). */
const RUN_CHAR = charTable("0-9 ()./-");
/** 48 code units: the longest phone number with separators, and a card number with room around it. */
const MAX_RUN = 48;
/** The shortest identifier looked for here is a six-digit record number. */
const MIN_RUN = 6;

const isDigit = (c: number) => c >= 48 && c <= 57;

/**
 * A number run from `start` (a digit, or "+" / "(" before the digit at `first`; the sweep checked
 * that no word character, "+" or "(" stands before it): digits and separators, ending on a digit, at
 * most MAX_RUN long. Linear: every code unit is looked at a bounded number of times. `codes`: the
 * text's code units as the sweep reads them (ASCII as is). Returns where the search for the next run
 * resumes (after the run's last digit).
 */
export function numberRunAt(text: string, codes: Uint8Array, start: number, first: number, emit: Emit): number {
  const length = text.length;
  let lastDigit = first;
  let end = first + 1;
  while (end < length && end - start < MAX_RUN && allowed(RUN_CHAR, codes[end]!)) {
    if (isDigit(codes[end]!)) lastDigit = end;
    end++;
  }
  if (lastDigit + 1 - start >= MIN_RUN) numbersIn(text, codes, start, lastDigit + 1, emit);
  return lastDigit + 1;
}

/**
 * A group of digits in a run, by position: its digits are read as a string (`digitsOf`) only where a
 * validator needs them, after the checks on sizes and separators that most groups fail.
 */
interface Group {
  start: number;
  end: number;
  /** How many digits (end - start). */
  size: number;
  /** What stands between the previous group and this one ("" before the first). */
  sep: string;
}

const digitsOf = (text: string, g: Group) => text.slice(g.start, g.end);

/** The digits of groups from..to (inclusive), without what stands between them. */
function digitsFrom(text: string, groups: readonly Group[], from: number, to: number): string {
  let digits = "";
  for (let k = from; k <= to; k++) digits += digitsOf(text, groups[k]!);
  return digits;
}

const CARD: Rule = { type: "CREDIT_CARD", category: "pci", level: 2, score: 0.9, numeric: true, context: ["card", "visa", "mastercard", "amex", "credit", "debit", "payment", "pay with"] };
const MAESTRO: Rule = { ...CARD, score: 0.35, requiresContext: true };
const SSN: Rule = { type: "US_SSN", category: "pii", level: 2, score: 0.85, numeric: true, context: ["ssn", "social security", "ss#", "ss #"] };
const SSN_BARE: Rule = { ...SSN, score: 0.35, requiresContext: true };
const PHONE: Rule = {
  type: "PHONE_NUMBER", category: "pii", level: 1, score: 0.6, numeric: true,
  context: ["phone", "call", "tel", "mobile", "cell", "fax", "reach", "contact", "text me", "whatsapp", "dial", "ring"],
};
const IPV4: Rule = { type: "IP_ADDRESS", category: "pii", level: 1, score: 0.7, numeric: true, context: ["ip", "address", "host", "server"] };
const ABA: Rule = { type: "ABA_ROUTING_NUMBER", category: "pii", level: 1, score: 0.45, requiresContext: true, context: ["routing", "aba", "rtn", "transit"] };
const BANK: Rule = { type: "US_BANK_NUMBER", category: "pii", level: 2, score: 0.3, requiresContext: true, numeric: true, context: ["account", "acct", "a/c", "checking", "savings"] };
const NHS: Rule = { type: "UK_NHS", category: "phi", level: 2, score: 0.5, requiresContext: true, context: ["nhs", "national health", "health service"] };
const DE_TAX: Rule = { type: "DE_TAX_ID", category: "pii", level: 2, score: 0.45, numeric: true, context: ["steuer", "tax", "idnr", "identifikationsnummer", "tin"] };
const SE_PNR: Rule = { type: "SE_PERSONNUMMER", category: "pii", level: 2, score: 0.65, numeric: true, context: ["personnummer", "personal identity", "person number", "pnr"] };
const SE_PNR_BARE: Rule = { ...SE_PNR, score: 0.35, requiresContext: true };
const MRN: Rule = { type: "MEDICAL_RECORD_NUMBER", category: "phi", level: 2, score: 0.3, requiresContext: true, context: ["mrn", "medical record", "patient id", "patient number", "chart no", "chart number"] };

/** One-character strings by (ASCII) code unit. */
const ONE_CHARACTER = Array.from({ length: 128 }, (_, c) => String.fromCharCode(c));

/** text[from, to) for a separator (ASCII: RUN_CHAR, "+"): most are none or one character, found without slicing. */
function between(text: string, codes: Uint8Array, from: number, to: number): string {
  if (to === from) return "";
  return to - from === 1 ? ONE_CHARACTER[codes[from]!]! : text.slice(from, to);
}

function groupsOf(text: string, codes: Uint8Array, start: number, end: number): Group[] {
  const groups: Group[] = [];
  let sepStart = start;
  let i = start;
  while (i < end) {
    if (isDigit(codes[i]!)) {
      const groupStart = i;
      while (i < end && isDigit(codes[i]!)) i++;
      groups.push({ start: groupStart, end: i, size: i - groupStart, sep: between(text, codes, sepStart, groupStart) });
      sepStart = i;
    } else i++;
  }
  return groups;
}

/**
 * Card numbers: the longest window of groups joined by one consistent " " or "-" that validates.
 * Printed card numbers are grouped from a first group of four (4-4-4-4, 4-6-5, 4-6-4); other
 * groupings of Luhn-valid digits (IMEIs are 2-6-6-1) are not cards.
 */
function cards(text: string, groups: readonly Group[], emit: Emit): void {
  let i = 0;
  while (i < groups.length) {
    let best = -1;
    let bestRule = CARD;
    let size = 0;
    for (let j = i; j < groups.length && j <= i + 5; j++) {
      const g = groups[j]!;
      if (j > i && ((g.sep !== " " && g.sep !== "-") || g.sep !== groups[i + 1]!.sep || g.size < 3 || groups[i]!.size !== 4)) break;
      size += g.size;
      if (size > 19) break;
      // No card number (Maestro's included) is shorter than 12 digits.
      if (size < 12) continue;
      const digits = digitsFrom(text, groups, i, j);
      if (creditCard(digits)) [best, bestRule] = [j, CARD];
      else if (maestro(digits)) [best, bestRule] = [j, MAESTRO];
    }
    if (best < 0) {
      i++;
      continue;
    }
    report(text, groups[i]!.start, groups[best]!.end, bestRule, emit);
    i = best + 1;
  }
}

function ssns(text: string, groups: readonly Group[], emit: Emit): void {
  for (let i = 0; i + 2 < groups.length; i++) {
    const [a, b, c] = [groups[i]!, groups[i + 1]!, groups[i + 2]!];
    if (a.size !== 3 || b.size !== 2 || c.size !== 4) continue;
    if ((b.sep === "-" || b.sep === " ") && c.sep === b.sep && usSsn(digitsOf(text, a), digitsOf(text, b), digitsOf(text, c))) {
      report(text, a.start, c.end, SSN, emit, b.sep === "-" ? SSN.score : 0.5);
      i += 2;
    }
  }
}

/** What may stand between the groups of a phone number: one of " . - /", ")" with a space or dash, " (". */
const PHONE_SEPARATORS = new Set([" ", ".", "-", "/", ")", ") ", ")-", "(", " ("]);

/**
 * Phone numbers: from each group, the longest window of up to seven groups that parses as one. Only
 * the first two groups may be a single digit ("+1 …", "+44 (0)20 …"), which also keeps a run of
 * single digits from being tried seven ways at every position.
 */
function phones(text: string, groups: readonly Group[], emit: Emit): void {
  let i = 0;
  while (i < groups.length) {
    const plus = groups[i]!.sep.endsWith("+");
    const paren = groups[i]!.sep.endsWith("(");
    let best = -1;
    let bestScore = 0;
    let size = 0;
    // The window's digits, read once it is long enough to be a phone number (seven digits).
    let digits = "";
    let shape = 0;
    let sep: string | undefined;
    let smallest = Infinity;
    let largest = 0;
    for (let j = i; j < groups.length && j <= i + 6; j++) {
      const g = groups[j]!;
      if (j > i && (!PHONE_SEPARATORS.has(g.sep) || (j > i + 1 && g.size < 2))) break;
      if (j > i) sep = j === i + 1 || g.sep === sep ? g.sep : undefined;
      size += g.size;
      shape = shape * 16 + g.size;
      smallest = Math.min(smallest, g.size);
      largest = Math.max(largest, g.size);
      if (size > 15) break;
      if (size < 7) continue;
      digits = digits === "" ? digitsFrom(text, groups, i, j) : digits + digitsOf(text, g);
      const score = phoneScore(digits, plus, paren, j - i + 1, shape, sep, smallest, largest);
      if (score > 0) [best, bestScore] = [j, score];
    }
    if (best < 0) {
      i++;
      continue;
    }
    const start = groups[i]!.start - (plus || paren ? 1 : 0);
    const end = groups[best]!.end + (text[groups[best]!.end] === ")" ? 1 : 0);
    report(text, start, end, PHONE, emit, bestScore);
    i = best + 1;
  }
}

/**
 * `shape`: the window's group sizes as hex digits (0x334 is 3-3-4; a window has at most 15 digits, so
 * each size is one hex digit), `smallest` and `largest` of them; `sep`: the separator between its
 * groups when it is the same between all of them; `paren`: the first group is in parentheses.
 */
function phoneScore(digits: string, plus: boolean, paren: boolean, count: number, shape: number, sep: string | undefined, smallest: number, largest: number): number {
  if (digits.length < 7) return 0;
  if (plus) return internationalNumber(digits) ? 0.75 : 0;
  if (digits.startsWith("00") && count > 1) return internationalNumber(digits.slice(2)) ? 0.7 : 0;
  // Shapes that are something else: ZIP+4 (5-4) and SSN-like (3-2-4) with dashes, and dates.
  if ((shape === 0x54 || shape === 0x324) && sep === "-") return 0;
  if ((shape === 0x422 || shape === 0x224) && (sep === "-" || sep === "/" || sep === ".")) return 0;
  if (count === 1) return digits.length >= 8 && digits.length <= 12 && !digits.startsWith("00") ? 0.15 : 0;
  if (nanpNumber(digits) && (shape === 0x334 || shape === 0x1334 || (shape === 0x37 && paren))) return 0.6;
  if (trunkNumber(digits) && smallest >= 2) return 0.5;
  if (digits.length >= 12 && digits.length <= 13 && digits[0] === "0") return 0.35;
  // Grouped digits of a plausible length with no other sign: a phone number only with context.
  if (digits.length >= 8 && digits.length <= 11 && smallest >= 2 && largest <= 5) return 0.3;
  return 0;
}

/** 0–255 without a leading zero, read from the code units (a group of at most three digits). */
function octet(codes: Uint8Array, g: Group): boolean {
  if (g.size > 3 || (g.size > 1 && codes[g.start] === 48)) return false;
  let value = 0;
  for (let k = g.start; k < g.end; k++) value = value * 10 + codes[k]! - 48;
  return value <= 255;
}

function ipv4s(text: string, codes: Uint8Array, groups: readonly Group[], emit: Emit): void {
  for (let i = 0; i + 3 < groups.length; i++) {
    if (i > 0 && groups[i]!.sep === ".") continue;
    let k = 0;
    while (k < 4 && (k === 0 || groups[i + k]!.sep === ".") && octet(codes, groups[i + k]!)) k++;
    if (k < 4 || groups[i + 4]?.sep === ".") continue;
    report(text, groups[i]!.start, groups[i + 3]!.end, IPV4, emit);
    i += 3;
  }
}

/** Digits written in one run (or 3-3-4, 2-3-3-3) that only a check digit and a context word make an identifier. */
function contextual(text: string, groups: readonly Group[], emit: Emit): void {
  for (let i = 0; i < groups.length; i++) {
    const g = groups[i]!;
    const n = g.size;
    if (n >= 6 && n <= 17) {
      // Only the validators of 9 to 12 digits read them.
      const digits = n >= 9 && n <= 12 ? digitsOf(text, g) : "";
      if (n === 9 && abaRouting(digits)) report(text, g.start, g.end, ABA, emit);
      else if (n >= 8) report(text, g.start, g.end, BANK, emit);
      if (n === 9 && usSsn(digits.slice(0, 3), digits.slice(3, 5), digits.slice(5))) report(text, g.start, g.end, SSN_BARE, emit);
      if (n === 10 && ukNhs(digits)) report(text, g.start, g.end, NHS, emit);
      if (n === 11 && deTaxId(digits)) report(text, g.start, g.end, DE_TAX, emit);
      if ((n === 10 || n === 12) && sePersonnummer(digits)) report(text, g.start, g.end, SE_PNR_BARE, emit);
      if (n <= 10) report(text, g.start, g.end, MRN, emit);
    }
    const next = groups[i + 1];
    if (next && next.sep === "-" && (n === 6 || n === 8) && next.size === 4 && sePersonnummer(digitsFrom(text, groups, i, i + 1))) {
      report(text, g.start, next.end, SE_PNR, emit);
    }
    if (n === 3 && i + 2 < groups.length) {
      const [b, c] = [groups[i + 1]!, groups[i + 2]!];
      if (b.size === 3 && c.size === 4 && c.sep === b.sep && ukNhs(digitsFrom(text, groups, i, i + 2))) report(text, g.start, c.end, NHS, emit);
    }
    if (n === 2 && i + 3 < groups.length) {
      const rest = [groups[i + 1]!, groups[i + 2]!, groups[i + 3]!];
      if (rest.every((x) => x.size === 3 && x.sep === " ") && deTaxId(digitsFrom(text, groups, i, i + 3))) report(text, g.start, rest[2]!.end, DE_TAX, emit);
    }
  }
}

function numbersIn(text: string, codes: Uint8Array, start: number, end: number, emit: Emit): void {
  const groups = groupsOf(text, codes, start, end);
  if (groups.length === 1 && groups[0]!.size < 6) return;
  let digits = 0;
  for (const g of groups) digits += g.size;
  if (digits < 4) return;
  // A card number has at least 12 digits, a phone number 7, an SSN 3 groups, an IPv4 address 4.
  if (digits >= 12) cards(text, groups, emit);
  if (groups.length >= 3) ssns(text, groups, emit);
  if (digits >= 7) phones(text, groups, emit);
  if (groups.length >= 4) ipv4s(text, codes, groups, emit);
  contextual(text, groups, emit);
}
