/**
 * Identifiers with letters in them: e-mail addresses, IBANs, IPv6 addresses, Spanish NIF/NIE, DEA
 * numbers (MEDICAL_LICENSE), ICD-10 codes near a diagnosis, and cryptocurrency addresses. Each scanner
 * regex starts behind a negative lookbehind or a literal, with bounded quantifiers only (see `scan`).
 */
import { bech32Address, base58CheckAddress } from "./crypto-address.ts";
import { deaNumber, esNif, ibanLength, ibanMod97 } from "./checksums.ts";
import { allowed, attempt, charTable, type Emit, type OnMatch, report, type Rule, scanAt } from "./scan.ts";

const EMAIL: Rule = { type: "EMAIL_ADDRESS", category: "pii", level: 1, score: 0.9 };
const IBAN: Rule = { type: "IBAN_CODE", category: "pii", level: 2, score: 0.9, context: ["iban", "account", "bank"] };
const IPV6: Rule = { type: "IP_ADDRESS", category: "pii", level: 1, score: 0.7, context: ["ip", "address", "host"] };
const NIF: Rule = { type: "ES_NIF", category: "pii", level: 2, score: 0.6, context: ["nif", "dni", "nie", "documento"] };
const DEA: Rule = { type: "MEDICAL_LICENSE", category: "phi", level: 2, score: 0.6, context: ["dea", "license", "licence", "prescriber"] };
const ICD10: Rule = { type: "ICD10_CODE", category: "phi", level: 2, score: 0.4, requiresContext: true, context: ["icd", "diagnos", "dx", "condition code"] };
const CRYPTO: Rule = { type: "CRYPTO", category: "pii", level: 1, score: 0.9 };
const ETH: Rule = { ...CRYPTO, score: 0.5, context: ["eth", "wallet", "ether", "send to", "address"] };

// E-mail: characters allowed in a local part (dot-atom subset) and in a domain.
const LOCAL = charTable("A-Za-z0-9._%+-");
const DOMAIN = charTable("A-Za-z0-9.-");
const MAX_LOCAL = 64; // RFC 5321 §4.5.3.1.1
const MAX_DOMAIN = 253; // RFC 1035 name length as text
const DOT = 46;
const HYPHEN = 45;
const MAX_LABEL = 63; // RFC 1035 §2.3.4
const MIN_TLD = 2;
const MAX_TLD = 24;

/**
 * Whether text[from, to), all DOMAIN characters, is a domain: two labels or more split by ".", each as
 * /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/ (1–63 characters, no "-" first or last: the others
 * are letters, digits or "-" already), the last as /^[A-Za-z]{2,24}$/. Read on the code units: no
 * split, no string per label.
 */
function isDomain(text: string, from: number, to: number): boolean {
  let labelStart = from;
  for (let i = from; i < to; i++) {
    if (text.charCodeAt(i) !== DOT) continue;
    if (!isLabel(text, labelStart, i)) return false;
    labelStart = i + 1;
  }
  if (labelStart === from || to - labelStart < MIN_TLD || to - labelStart > MAX_TLD) return false;
  for (let i = labelStart; i < to; i++) if (!isLetter(text.charCodeAt(i))) return false;
  return true;
}

const isLabel = (text: string, from: number, to: number) =>
  to > from && to - from <= MAX_LABEL && text.charCodeAt(from) !== HYPHEN && text.charCodeAt(to - 1) !== HYPHEN;

/** E-mail addresses, found from each "@" outwards (bounded both ways), so no pattern can backtrack. */
export function emails(text: string, emit: Emit): void {
  for (let at = text.indexOf("@"); at >= 0; ) {
    let start = at;
    while (start > 0 && at - start < MAX_LOCAL && allowed(LOCAL, text.charCodeAt(start - 1))) start--;
    while (start < at && text.charCodeAt(start) === DOT) start++;
    let end = at + 1;
    while (end < text.length && end - at <= MAX_DOMAIN && allowed(DOMAIN, text.charCodeAt(end))) end++;
    while (end > at + 1 && (text.charCodeAt(end - 1) === DOT || text.charCodeAt(end - 1) === HYPHEN)) end--;
    const tooLong = start > 0 && at - start === MAX_LOCAL && allowed(LOCAL, text.charCodeAt(start - 1));
    // After "//" it is a URL's user name ("https://user@host"), not an address.
    const inUrl = text.charCodeAt(start - 1) === 47;
    if (start < at && !tooLong && !inUrl && text.charCodeAt(at - 1) !== DOT && isDomain(text, at + 1, end)) {
      report(text, start, end, EMAIL, emit);
      at = text.indexOf("@", end);
    } else at = text.indexOf("@", at + 1);
  }
}

// Two capital letters and two check digits, then up to 40 letters, digits and single spaces.
const IBAN_RUN = /(?<![A-Za-z0-9])[A-Z]{2}[0-9]{2}[ A-Z0-9]{10,40}/y;

/**
 * The `…At` functions below try one scanner at one position the sweep (sweep.ts) found, and return
 * where that scanner's scan resumes, or -1 when it has no match there.
 */
export const ibanAt = (text: string, at: number, emit: Emit) => attempt(text, IBAN_RUN, at, emit, onIban);

function onIban(text: string, match: RegExpExecArray, emit: Emit): number | void {
  const length = ibanLength(match[0].slice(0, 2));
  if (length === undefined) return;
  let compact = "";
  let i = match.index;
  while (compact.length < length && i < text.length) {
    const c = text[i]!;
    if (c === " ") {
      if (text[i + 1] === " " || compact.length < 4) return;
    } else if (/[A-Z0-9]/.test(c)) compact += c;
    else break;
    i++;
  }
  if (compact.length !== length || /[A-Za-z0-9]/.test(text[i] ?? "") || !ibanMod97(compact)) return;
  report(text, match.index, i, IBAN, emit);
  return i;
}

const IPV6_CHAR = charTable("0-9A-Fa-f:.");
const WORD_CHAR = charTable("A-Za-z0-9_");
/** The longest text form: eight groups of four and seven colons, or six and an IPv4 (45). */
const MAX_IPV6 = 45;

/** RFC 4291 §2.2 text forms: eight groups, or fewer with one "::", the last two possibly an IPv4. */
export function ipv6Address(value: string): boolean {
  const halves = value.split("::");
  if (halves.length > 2) return false;
  const parts = halves.map((h) => (h === "" ? [] : h.split(":")));
  const groups = parts.flat();
  let count = 0;
  for (let k = 0; k < groups.length; k++) {
    const group = groups[k]!;
    if (k === groups.length - 1 && group.includes(".")) {
      const octets = group.split(".");
      if (octets.length !== 4 || !octets.every((o) => /^(?:0|[1-9][0-9]{0,2})$/.test(o) && Number(o) <= 255)) return false;
      count += 2;
    } else if (/^[0-9A-Fa-f]{1,4}$/.test(group)) count++;
    else return false;
  }
  return halves.length === 2 ? count <= 7 && count >= 1 : count === 8;
}

function hasSecondColon(text: string, start: number, end: number): boolean {
  let colons = 0;
  for (let i = start; i < end && colons < 2; i++) if (text.charCodeAt(i) === 58) colons++;
  return colons === 2;
}

/** From each ":" not already inside a run, the run of hex digits, colons and dots around it (bounded). */
export function ipv6s(text: string, emit: Emit): void {
  let runEnd = 0;
  for (let colon = text.indexOf(":"); colon >= 0; colon = text.indexOf(":", Math.max(colon + 1, runEnd))) {
    let start = colon;
    while (start > 0 && colon - start < MAX_IPV6 && allowed(IPV6_CHAR, text.charCodeAt(start - 1))) start--;
    let end = colon + 1;
    while (end < text.length && end - start < MAX_IPV6 + 1 && allowed(IPV6_CHAR, text.charCodeAt(end))) end++;
    runEnd = end;
    if (start > 0 && allowed(WORD_CHAR, text.charCodeAt(start - 1))) continue;
    if (end < text.length && allowed(WORD_CHAR, text.charCodeAt(end))) continue;
    // An address has "::" or seven colons: a run with one colon (a time, a JSON key) is not read further.
    if (!hasSecondColon(text, start, end)) continue;
    let value = text.slice(start, end);
    while (value.endsWith(".") || (value.endsWith(":") && !value.endsWith("::"))) value = value.slice(0, -1);
    while (value.startsWith(".") || (value.startsWith(":") && !value.startsWith("::"))) {
      value = value.slice(1);
      start++;
    }
    if ((value.includes("::") || value.split(":").length === 8) && ipv6Address(value)) report(text, start, start + value.length, IPV6, emit);
  }
}

const NIF_RUN = /(?<![A-Za-z0-9])[XYZxyz]?[0-9]{7,8}-?[A-Za-z](?![A-Za-z0-9])/y;
const DEA_RUN = /(?<![A-Za-z0-9])[ABCDEFGHJKLMPRSTUX][A-Z9][0-9]{7}(?![A-Za-z0-9])/y;
// The optional group holds a literal "." first, so it cannot match in two ways.
const ICD10_RUN = /(?<![A-Za-z0-9.])[A-TV-Z][0-9][0-9AB](?:\.[0-9A-TV-Z]{1,4})?(?![A-Za-z0-9])/y;
const BASE58_RUN = /(?<![A-Za-z0-9])[13][1-9A-HJ-NP-Za-km-z]{25,34}(?![A-Za-z0-9])/y;
const BECH32_RUN = /(?<![A-Za-z0-9])(?:bc1|BC1)[02-9ac-hj-np-zAC-HJ-NP-Z]{11,87}(?![A-Za-z0-9])/y;
const ETH_RUN = /(?<![A-Za-z0-9])0x[0-9a-fA-F]{40}(?![A-Za-z0-9])/y;

const onNif: OnMatch = (text, m, emit) => void (esNif(m[0].replace("-", "")) && report(text, m.index, m.index + m[0].length, NIF, emit));
const onDea: OnMatch = (text, m, emit) => void (deaNumber(m[0]) && report(text, m.index, m.index + m[0].length, DEA, emit));
const onIcd10: OnMatch = (text, m, emit) => report(text, m.index, m.index + m[0].length, ICD10, emit);
const onBase58: OnMatch = (text, m, emit) => void (base58CheckAddress(m[0]) && report(text, m.index, m.index + m[0].length, CRYPTO, emit));
export const deaAt = (text: string, at: number, emit: Emit) => attempt(text, DEA_RUN, at, emit, onDea);
export const icd10At = (text: string, at: number, emit: Emit) => attempt(text, ICD10_RUN, at, emit, onIcd10);

const isDigit = (c: number) => c >= 48 && c <= 57;
const isLetter = (c: number) => (c >= 97 && c <= 122) || (c >= 65 && c <= 90);

/**
 * NIF_RUN is tried only where its body stands, checked on the code units (`codes`, sweep.ts): after
 * the NIE letter if there is one, 7 or 8 digits and then a letter or "-". Most digit runs (dates,
 * card numbers, the digits of a UUID) fail this at once.
 */
export function nifAt(text: string, codes: Uint8Array, at: number, emit: Emit): number {
  const digitsStart = isDigit(codes[at]!) ? at : at + 1;
  let end = digitsStart;
  while (end - digitsStart < 9 && isDigit(codes[end]!)) end++;
  const count = end - digitsStart;
  if ((count !== 7 && count !== 8) || !(isLetter(codes[end]!) || codes[end] === 45)) return -1;
  return attempt(text, NIF_RUN, at, emit, onNif);
}

const BASE58_CHAR = charTable("1-9A-HJ-NP-Za-km-z");
/** The fewest characters after a Base58Check address's first one (BASE58_RUN). */
const MIN_BASE58_TAIL = 25;

/** BASE58_RUN is tried only where its first 26 characters are Base58 (`codes`: the sweep's code units). */
export function base58At(text: string, codes: Uint8Array, at: number, emit: Emit): number {
  for (let k = 1; k <= MIN_BASE58_TAIL; k++) if (!allowed(BASE58_CHAR, codes[at + k]!)) return -1;
  return attempt(text, BASE58_RUN, at, emit, onBase58);
}

const onBech32: OnMatch = (text, m, emit) => void (bech32Address(m[0]) && report(text, m.index, m.index + m[0].length, CRYPTO, emit));
const onEth: OnMatch = (text, m, emit) => report(text, m.index, m.index + m[0].length, ETH, emit);

/** An Ethereum address at `at`, where the sweep found "0x" at the start of a word. */
export const ethAt = (text: string, at: number, emit: Emit) => attempt(text, ETH_RUN, at, emit, onEth);

/** Segwit addresses, tried where their prefix stands (most texts hold none). */
export function segwitAddresses(text: string, emit: Emit): void {
  // No "b" or "1" follows a segwit prefix inside an address, so no match holds the other spelling:
  // looking for one spelling after the other finds what one scan of the text would.
  scanAt(text, "bc1", BECH32_RUN, emit, onBech32);
  scanAt(text, "BC1", BECH32_RUN, emit, onBech32);
}
