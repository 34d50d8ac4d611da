/**
 * Number-shaped identifiers. One scanner finds runs of digits with separators (at most 48 code units,
 * so everything after it works on bounded input); each run is split into digit groups, and windows
 * of consecutive groups are tried against the validators: a card number must pass its scheme's IIN and
 * length and Luhn, an SSN the SSA ranges, a phone number the numbering plan, an IPv4 address the octet
 * rules. Identifiers that are just digits with a check digit (routing, NHS, tax ids, bank and medical
 * record numbers) are reported only with a context word, since one random number in ten passes.
 */
import { abaRouting, creditCard, deTaxId, maestro, sePersonnummer, ukNhs, usSsn } from "./checksums.ts";
import { internationalNumber, nanpNumber, trunkNumber } from "./phone.ts";
import { type Emit, report, type Rule, scan } from "./scan.ts";

// A digit (optionally after "+" or "("), then up to 46 digits or separators, ending on a digit; not
// inside a word or another number (the lookbehind also makes each run one attempt).
const NUMBER_RUN = /(?<![0-9A-Za-z_+(])[+(]?[0-9][0-9 ()\-./]{0,46}[0-9]/g;

interface Group {
  start: number;
  end: number;
  digits: string;
  /** What stands between the previous group and this one ("" before the first). */
  sep: string;
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

function groupsOf(text: string, start: number, end: number): Group[] {
  const groups: Group[] = [];
  let sepStart = start;
  let i = start;
  while (i < end) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      const groupStart = i;
      while (i < end && text.charCodeAt(i) >= 48 && text.charCodeAt(i) <= 57) i++;
      groups.push({ start: groupStart, end: i, digits: text.slice(groupStart, i), sep: text.slice(sepStart, groupStart) });
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
    let digits = "";
    for (let j = i; j < groups.length && j <= i + 5; j++) {
      const g = groups[j]!;
      if (j > i && ((g.sep !== " " && g.sep !== "-") || g.sep !== groups[i + 1]!.sep || g.digits.length < 3 || groups[i]!.digits.length !== 4)) break;
      digits += g.digits;
      if (digits.length > 19) break;
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
    if ((b.sep === "-" || b.sep === " ") && c.sep === b.sep && usSsn(a.digits, b.digits, c.digits)) {
      report(text, a.start, c.end, SSN, emit, b.sep === "-" ? SSN.score : 0.5);
      i += 2;
    }
  }
}

const PHONE_SEPARATOR = /^(?:[ .\-/]|\) ?|\)-| ?\()$/;

/** Phone numbers: from each group, the longest window of up to six groups that parses as one. */
function phones(text: string, groups: readonly Group[], emit: Emit): void {
  let i = 0;
  while (i < groups.length) {
    const plus = groups[i]!.sep.endsWith("+");
    let best = -1;
    let bestScore = 0;
    let digits = "";
    for (let j = i; j < groups.length && j <= i + 6; j++) {
      if (j > i && !PHONE_SEPARATOR.test(groups[j]!.sep)) break;
      digits += groups[j]!.digits;
      if (digits.length > 15) break;
      const score = phoneScore(digits, plus, j - i + 1, groups, i);
      if (score > 0) {
        best = j;
        bestScore = score;
      }
    }
    if (best < 0) {
      i++;
      continue;
    }
    const start = groups[i]!.start - (plus || groups[i]!.sep.endsWith("(") ? 1 : 0);
    const end = groups[best]!.end + (text[groups[best]!.end] === ")" ? 1 : 0);
    report(text, start, end, PHONE, emit, bestScore);
    i = best + 1;
  }
}

function phoneScore(digits: string, plus: boolean, count: number, groups: readonly Group[], first: number): number {
  if (digits.length < 7) return 0;
  if (plus) return internationalNumber(digits) ? 0.75 : 0;
  if (digits.startsWith("00") && count > 1) return internationalNumber(digits.slice(2)) ? 0.7 : 0;
  const window = groups.slice(first, first + count);
  const shape = window.map((g) => g.digits.length).join(",");
  const seps = window.slice(1).map((g) => g.sep).join("");
  // Shapes that are something else: ZIP+4 (5-4) and SSN-like (3-2-4) with dashes.
  if ((shape === "5,4" || shape === "3,2,4") && /^-+$/.test(seps)) return 0;
  if (count === 1) return digits.length >= 8 && digits.length <= 12 && !digits.startsWith("00") ? 0.15 : 0;
  if (nanpNumber(digits) && (shape === "3,3,4" || shape === "1,3,3,4" || (shape === "3,7" && groups[first]!.sep.endsWith("(")))) return 0.6;
  const sizes = window.map((g) => g.digits.length);
  if (trunkNumber(digits) && sizes.every((n) => n >= 2)) return 0.5;
  if (digits.length >= 12 && digits.length <= 13 && digits[0] === "0") return 0.35;
  // Grouped digits of a plausible length with no other sign: a phone number only with context.
  if (digits.length >= 8 && digits.length <= 11 && sizes.every((n) => n >= 2 && n <= 5)) return 0.3;
  return 0;
}

function ipv4s(text: string, groups: readonly Group[], emit: Emit): void {
  for (let i = 0; i + 3 < groups.length; i++) {
    if (i > 0 && groups[i]!.sep === ".") continue;
    const octets = groups.slice(i, i + 4);
    if (!octets.every((g, k) => (k === 0 || g.sep === ".") && g.digits.length <= 3 && Number(g.digits) <= 255 && (g.digits.length === 1 || g.digits[0] !== "0"))) continue;
    if (groups[i + 4]?.sep === ".") continue;
    report(text, octets[0]!.start, octets[3]!.end, IPV4, emit);
    i += 3;
  }
}

/** Digits written in one run (or 3-3-4, 2-3-3-3) that only a check digit and a context word make an identifier. */
function contextual(text: string, groups: readonly Group[], emit: Emit): void {
  for (let i = 0; i < groups.length; i++) {
    const g = groups[i]!;
    const n = g.digits.length;
    if (n >= 6 && n <= 17) {
      if (n === 9 && abaRouting(g.digits)) report(text, g.start, g.end, ABA, emit);
      else if (n >= 8) report(text, g.start, g.end, BANK, emit);
      if (n === 9 && usSsn(g.digits.slice(0, 3), g.digits.slice(3, 5), g.digits.slice(5))) report(text, g.start, g.end, SSN_BARE, emit);
      if (n === 10 && ukNhs(g.digits)) report(text, g.start, g.end, NHS, emit);
      if (n === 11 && deTaxId(g.digits)) report(text, g.start, g.end, DE_TAX, emit);
      if ((n === 10 || n === 12) && sePersonnummer(g.digits)) report(text, g.start, g.end, SE_PNR_BARE, emit);
      if (n <= 10) report(text, g.start, g.end, MRN, emit);
    }
    const next = groups[i + 1];
    if (next && next.sep === "-" && (n === 6 || n === 8) && next.digits.length === 4 && sePersonnummer(g.digits + next.digits)) {
      report(text, g.start, next.end, SE_PNR, emit);
    }
    if (n === 3 && i + 2 < groups.length) {
      const [b, c] = [groups[i + 1]!, groups[i + 2]!];
      if (b.digits.length === 3 && c.digits.length === 4 && c.sep === b.sep && ukNhs(g.digits + b.digits + c.digits)) report(text, g.start, c.end, NHS, emit);
    }
    if (n === 2 && i + 3 < groups.length) {
      const rest = [groups[i + 1]!, groups[i + 2]!, groups[i + 3]!];
      if (rest.every((x) => x.digits.length === 3 && x.sep === " ") && deTaxId(g.digits + rest.map((x) => x.digits).join(""))) report(text, g.start, rest[2]!.end, DE_TAX, emit);
    }
  }
}

export function scanNumbers(text: string, emit: Emit): void {
  scan(text, NUMBER_RUN, (match) => {
    const groups = groupsOf(text, match.index, match.index + match[0].length);
    if (groups.length === 1 && groups[0]!.digits.length < 6) return;
    cards(text, groups, emit);
    ssns(text, groups, emit);
    phones(text, groups, emit);
    ipv4s(text, groups, emit);
    contextual(text, groups, emit);
  });
}
