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
 * The groups of digits of the run being read, by index k: group k is text[start(k), end(k)), and its
 * separator — what stands between group k - 1 and it, or between the run's start and group 0 — is
 * text[end(k - 1), start(k)). Digits are read as a string only where a validator needs them, after
 * the checks on sizes and separators that most groups fail. One set of arrays serves every run (a
 * run has at most MAX_RUN / 2 groups), so reading a run allocates nothing.
 */
const run: { text: string; codes: Uint8Array; start: number; count: number; readonly starts: Int32Array; readonly ends: Int32Array } = {
  text: "",
  codes: new Uint8Array(0),
  start: 0,
  count: 0,
  starts: new Int32Array(MAX_RUN),
  ends: new Int32Array(MAX_RUN),
};

const start = (k: number) => run.starts[k]!;
const end = (k: number) => run.ends[k]!;
const size = (k: number) => run.ends[k]! - run.starts[k]!;
/** Where group k's separator starts. */
const sepFrom = (k: number) => (k === 0 ? run.start : run.ends[k - 1]!);
/** Group k's separator is the one code unit `c`. */
const sepIs = (k: number, c: number) => run.starts[k]! - sepFrom(k) === 1 && run.codes[sepFrom(k)] === c;

/** Groups a and b have the same separator. */
function sameSep(a: number, b: number): boolean {
  const length = start(a) - sepFrom(a);
  if (start(b) - sepFrom(b) !== length) return false;
  for (let k = 0; k < length; k++) if (run.codes[sepFrom(a) + k] !== run.codes[sepFrom(b) + k]) return false;
  return true;
}

/** The digits of groups from..to (inclusive), without what stands between them. */
function digitsFrom(from: number, to: number): string {
  let digits = run.text.slice(start(from), end(from));
  for (let k = from + 1; k <= to; k++) digits += run.text.slice(start(k), end(k));
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

/** Reads the groups of the run text[from, to) into `run`. */
function readGroups(text: string, codes: Uint8Array, from: number, to: number): void {
  run.text = text;
  run.codes = codes;
  run.start = from;
  let count = 0;
  let i = from;
  while (i < to) {
    if (isDigit(codes[i]!)) {
      run.starts[count] = i;
      while (i < to && isDigit(codes[i]!)) i++;
      run.ends[count++] = i;
    } else i++;
  }
  run.count = count;
}

const SPACE = 32;
const OPEN = 40;
const CLOSE = 41;
const PLUS = 43;
const DASH = 45;
const DOT = 46;
const SLASH = 47;

const digitsOf = (k: number) => run.text.slice(start(k), end(k));
/** Group k's separator ends with the code unit `c`. */
const sepEndsWith = (k: number, c: number) => start(k) > sepFrom(k) && run.codes[start(k) - 1] === c;

/**
 * Card numbers: the longest window of groups joined by one consistent " " or "-" that validates.
 * Printed card numbers are grouped from a first group of four (4-4-4-4, 4-6-5, 4-6-4); other
 * groupings of Luhn-valid digits (IMEIs are 2-6-6-1) are not cards.
 */
function cards(emit: Emit): void {
  let i = 0;
  while (i < run.count) {
    let best = -1;
    let bestRule = CARD;
    let digits = 0;
    for (let j = i; j < run.count && j <= i + 5; j++) {
      if (j > i && ((!sepIs(j, SPACE) && !sepIs(j, DASH)) || !sameSep(j, i + 1) || size(j) < 3 || size(i) !== 4)) break;
      digits += size(j);
      if (digits > 19) break;
      // No card number (Maestro's included) is shorter than 12 digits.
      if (digits < 12) continue;
      const number = digitsFrom(i, j);
      if (creditCard(number)) {
        best = j;
        bestRule = CARD;
      } else if (maestro(number)) {
        best = j;
        bestRule = MAESTRO;
      }
    }
    if (best < 0) {
      i++;
      continue;
    }
    report(run.text, start(i), end(best), bestRule, emit);
    i = best + 1;
  }
}

function ssns(emit: Emit): void {
  for (let i = 0; i + 2 < run.count; i++) {
    if (size(i) !== 3 || size(i + 1) !== 2 || size(i + 2) !== 4) continue;
    const dashed = sepIs(i + 1, DASH);
    if ((dashed || sepIs(i + 1, SPACE)) && sameSep(i + 2, i + 1) && usSsn(digitsOf(i), digitsOf(i + 1), digitsOf(i + 2))) {
      report(run.text, start(i), end(i + 2), SSN, emit, dashed ? SSN.score : 0.5);
      i += 2;
    }
  }
}

/** Group k's separator may stand inside a phone number: one of " . - / ) (", ")" with a space or dash, " (". */
function phoneSeparator(k: number): boolean {
  const from = sepFrom(k);
  const c = run.codes[from]!;
  switch (start(k) - from) {
    case 1:
      return c === SPACE || c === DOT || c === DASH || c === SLASH || c === CLOSE || c === OPEN;
    case 2: {
      const d = run.codes[from + 1]!;
      return (c === CLOSE && (d === SPACE || d === DASH)) || (c === SPACE && d === OPEN);
    }
    default:
      return false;
  }
}

/**
 * Phone numbers: from each group, the longest window of up to seven groups that parses as one. Only
 * the first two groups may be a single digit ("+1 …", "+44 (0)20 …"), which also keeps a run of
 * single digits from being tried seven ways at every position.
 */
function phones(emit: Emit): void {
  let i = 0;
  while (i < run.count) {
    const plus = sepEndsWith(i, PLUS);
    const paren = sepEndsWith(i, OPEN);
    let best = -1;
    let bestScore = 0;
    let total = 0;
    let shape = 0;
    // Every separator inside the window so far is the one after its first group.
    let uniform = true;
    let smallest = Infinity;
    let largest = 0;
    for (let j = i; j < run.count && j <= i + 6; j++) {
      const n = size(j);
      if (j > i && (!phoneSeparator(j) || (j > i + 1 && n < 2))) break;
      if (j > i + 1 && uniform && !sameSep(j, i + 1)) uniform = false;
      total += n;
      shape = shape * 16 + n;
      smallest = Math.min(smallest, n);
      largest = Math.max(largest, n);
      if (total > 15) break;
      // No phone number has fewer than seven digits.
      if (total < 7) continue;
      // The separator between the window's groups when it is one code unit and the same between all of them.
      const sep = j > i && uniform && start(i + 1) - sepFrom(i + 1) === 1 ? run.codes[sepFrom(i + 1)]! : 0;
      const score = phoneScore(i, j, total, plus, paren, shape, sep, smallest, largest);
      if (score > 0) {
        best = j;
        bestScore = score;
      }
    }
    if (best < 0) {
      i++;
      continue;
    }
    const from = start(i) - (plus || paren ? 1 : 0);
    const to = end(best) + (run.codes[end(best)] === CLOSE ? 1 : 0);
    report(run.text, from, to, PHONE, emit, bestScore);
    i = best + 1;
  }
}

/** The k-th digit (its code unit) of the groups from `from` on. */
function digitAt(from: number, k: number): number {
  let g = from;
  while (k >= size(g)) k -= size(g++);
  return run.codes[start(g) + k]!;
}

const ZERO = 48;

/**
 * The window of groups i..j, `total` digits (at least seven): `shape` is its group sizes as hex
 * digits (0x334 is 3-3-4; a window has at most 15 digits, so each size is one hex digit), `smallest`
 * and `largest` of them; `sep` the separator between its groups when it is one code unit and the same
 * between all of them (else 0); `paren`: the first group is in parentheses. The digits are read as a
 * string only for the validators that need them, after the shape has made one possible.
 */
function phoneScore(i: number, j: number, total: number, plus: boolean, paren: boolean, shape: number, sep: number, smallest: number, largest: number): number {
  const count = j - i + 1;
  if (plus) return internationalNumber(digitsFrom(i, j)) ? 0.75 : 0;
  const leadingZeros = digitAt(i, 0) !== ZERO ? 0 : digitAt(i, 1) !== ZERO ? 1 : 2;
  if (leadingZeros === 2 && count > 1) return internationalNumber(digitsFrom(i, j).slice(2)) ? 0.7 : 0;
  // Shapes that are something else: ZIP+4 (5-4) and SSN-like (3-2-4) with dashes, and dates.
  if ((shape === 0x54 || shape === 0x324) && sep === DASH) return 0;
  if ((shape === 0x422 || shape === 0x224) && (sep === DASH || sep === SLASH || sep === DOT)) return 0;
  if (count === 1) return total >= 8 && total <= 12 && leadingZeros < 2 ? 0.15 : 0;
  if ((shape === 0x334 || shape === 0x1334 || (shape === 0x37 && paren)) && nanpNumber(digitsFrom(i, j))) return 0.6;
  // A trunk number starts with one "0" (trunkNumber checks it again, with its length).
  if (leadingZeros === 1 && smallest >= 2 && trunkNumber(digitsFrom(i, j))) return 0.5;
  if (total >= 12 && total <= 13 && leadingZeros > 0) return 0.35;
  // Grouped digits of a plausible length with no other sign: a phone number only with context.
  if (total >= 8 && total <= 11 && smallest >= 2 && largest <= 5) return 0.3;
  return 0;
}

/** Group k is 0–255 without a leading zero (read from the code units: at most three digits). */
function octet(k: number): boolean {
  const n = size(k);
  if (n > 3 || (n > 1 && run.codes[start(k)] === 48)) return false;
  let value = 0;
  for (let p = start(k); p < end(k); p++) value = value * 10 + run.codes[p]! - 48;
  return value <= 255;
}

function ipv4s(emit: Emit): void {
  for (let i = 0; i + 3 < run.count; i++) {
    if (i > 0 && sepIs(i, DOT)) continue;
    let k = 0;
    while (k < 4 && (k === 0 || sepIs(i + k, DOT)) && octet(i + k)) k++;
    if (k < 4 || (i + 4 < run.count && sepIs(i + 4, DOT))) continue;
    report(run.text, start(i), end(i + 3), IPV4, emit);
    i += 3;
  }
}

/** Digits written in one run (or 3-3-4, 2-3-3-3) that only a check digit and a context word make an identifier. */
function contextual(emit: Emit): void {
  const text = run.text;
  for (let i = 0; i < run.count; i++) {
    const n = size(i);
    if (n >= 6 && n <= 17) {
      // Only the validators of 9 to 12 digits read them.
      const digits = n >= 9 && n <= 12 ? digitsOf(i) : "";
      if (n === 9 && abaRouting(digits)) report(text, start(i), end(i), ABA, emit);
      else if (n >= 8) report(text, start(i), end(i), BANK, emit);
      if (n === 9 && usSsn(digits.slice(0, 3), digits.slice(3, 5), digits.slice(5))) report(text, start(i), end(i), SSN_BARE, emit);
      if (n === 10 && ukNhs(digits)) report(text, start(i), end(i), NHS, emit);
      if (n === 11 && deTaxId(digits)) report(text, start(i), end(i), DE_TAX, emit);
      if ((n === 10 || n === 12) && sePersonnummer(digits)) report(text, start(i), end(i), SE_PNR_BARE, emit);
      if (n <= 10) report(text, start(i), end(i), MRN, emit);
    }
    if (i + 1 < run.count && sepIs(i + 1, DASH) && (n === 6 || n === 8) && size(i + 1) === 4 && sePersonnummer(digitsFrom(i, i + 1))) {
      report(text, start(i), end(i + 1), SE_PNR, emit);
    }
    if (n === 3 && i + 2 < run.count && size(i + 1) === 3 && size(i + 2) === 4 && sameSep(i + 2, i + 1) && ukNhs(digitsFrom(i, i + 2))) {
      report(text, start(i), end(i + 2), NHS, emit);
    }
    if (n === 2 && i + 3 < run.count) {
      let k = 1;
      while (k <= 3 && size(i + k) === 3 && sepIs(i + k, SPACE)) k++;
      if (k > 3 && deTaxId(digitsFrom(i, i + 3))) report(text, start(i), end(i + 3), DE_TAX, emit);
    }
  }
}

const NO_CODES = new Uint8Array(0);

function numbersIn(text: string, codes: Uint8Array, from: number, to: number, emit: Emit): void {
  readGroups(text, codes, from, to);
  try {
    if (run.count === 1 && size(0) < 6) return;
    let digits = 0;
    for (let k = 0; k < run.count; k++) digits += size(k);
    if (digits < 4) return;
    // A card number has at least 12 digits, a phone number 7, an SSN 3 groups, an IPv4 address 4.
    if (digits >= 12) cards(emit);
    if (run.count >= 3) ssns(emit);
    if (digits >= 7) phones(emit);
    if (run.count >= 4) ipv4s(emit);
    contextual(emit);
  } finally {
    // No text outlives the classification that read it.
    run.text = "";
    run.codes = NO_CODES;
  }
}
