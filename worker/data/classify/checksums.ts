/**
 * Validators that turn a number-shaped string into an identifier: check digits and issuing rules.
 * All take the digits (or characters) already stripped of separators, and never throw.
 */

export function luhn(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (d < 0 || d > 9) return false;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

/** Card schemes' issuer identification number (IIN) ranges and the lengths each issues. */
export function cardScheme(digits: string): boolean {
  const n = digits.length;
  const p2 = Number(digits.slice(0, 2));
  const p3 = Number(digits.slice(0, 3));
  const p4 = Number(digits.slice(0, 4));
  if (digits[0] === "4") return n === 13 || n === 16 || n === 19; // Visa
  if ((p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720)) return n === 16; // Mastercard
  if (p2 === 34 || p2 === 37) return n === 15; // American Express
  if (p4 === 6011 || p2 === 65 || (p3 >= 644 && p3 <= 649)) return n >= 16 && n <= 19; // Discover
  if (p2 === 62) return n >= 16 && n <= 19; // UnionPay
  if (p4 >= 3528 && p4 <= 3589) return n >= 16 && n <= 19; // JCB
  if (p2 === 36 || (p3 >= 300 && p3 <= 305) || p2 === 38 || p2 === 39) return n >= 14 && n <= 19; // Diners
  return false;
}

/** Maestro's ranges (50, 56–69) and lengths (12–19) are so wide that a match needs context. */
export function maestro(digits: string): boolean {
  const p2 = Number(digits.slice(0, 2));
  return (p2 === 50 || (p2 >= 56 && p2 <= 69)) && digits.length >= 12 && digits.length <= 19 && luhn(digits);
}

export function creditCard(digits: string): boolean {
  return digits.length >= 13 && digits.length <= 19 && cardScheme(digits) && luhn(digits);
}

/** SSA rules: area 000, 666 and 900–999, group 00 and serial 0000 are never issued. */
export function usSsn(area: string, group: string, serial: string): boolean {
  const a = Number(area);
  return area.length === 3 && group.length === 2 && serial.length === 4 && a !== 0 && a !== 666 && a < 900 && group !== "00" && serial !== "0000";
}

/** IBAN length per country (SWIFT IBAN registry). */
const IBAN_LENGTHS: Readonly<Record<string, number>> = {
  AD: 24, AE: 23, AL: 28, AT: 20, AZ: 28, BA: 20, BE: 16, BG: 22, BH: 22, BI: 27, BR: 29, BY: 28, CH: 21, CR: 22,
  CY: 28, CZ: 24, DE: 22, DJ: 27, DK: 18, DO: 28, EE: 20, EG: 29, ES: 24, FI: 18, FK: 18, FO: 18, FR: 27, GB: 22,
  GE: 22, GI: 23, GL: 18, GR: 27, GT: 28, HN: 28, HR: 21, HU: 28, IE: 22, IL: 23, IQ: 23, IS: 26, IT: 27, JO: 30,
  KW: 30, KZ: 20, LB: 28, LC: 32, LI: 21, LT: 20, LU: 20, LV: 21, LY: 25, MC: 27, MD: 24, ME: 22, MK: 19, MN: 20,
  MR: 27, MT: 31, MU: 30, NI: 28, NL: 18, NO: 15, OM: 23, PK: 24, PL: 28, PS: 29, PT: 25, QA: 29, RO: 24, RS: 22,
  RU: 33, SA: 24, SC: 31, SD: 18, SE: 24, SI: 19, SK: 24, SM: 27, SO: 23, ST: 25, SV: 28, TL: 23, TN: 24, TR: 26,
  UA: 29, VA: 22, VG: 24, XK: 20, YE: 30,
  // Partial adopters (national IBAN formats in use, not in the SWIFT registry).
  AO: 25, BF: 28, BJ: 28, CF: 27, CG: 27, CI: 28, CM: 27, CV: 25, DZ: 26, GA: 27, GQ: 27, GW: 25, IR: 26, KM: 27,
  MA: 28, MG: 27, ML: 28, MZ: 25, NE: 28, SN: 28, TD: 27, TG: 28,
};

export function ibanLength(country: string): number | undefined {
  return IBAN_LENGTHS[country];
}

/** ISO 13616 / ISO 7064 MOD 97-10 over the rearranged IBAN (letters as 10–35). */
export function ibanMod97(iban: string): boolean {
  const rearranged = iban.slice(4) + iban.slice(0, 4);
  let remainder = 0;
  for (let i = 0; i < rearranged.length; i++) {
    const c = rearranged.charCodeAt(i);
    if (c >= 48 && c <= 57) remainder = (remainder * 10 + (c - 48)) % 97;
    else if (c >= 65 && c <= 90) remainder = (remainder * 100 + (c - 55)) % 97;
    else return false;
  }
  return remainder === 1;
}

/** UK NHS number: weights 10..2 over the first nine digits, 11 − (sum mod 11), 10 never issued. */
export function ukNhs(digits: string): boolean {
  if (digits.length !== 10) return false;
  let sum = 0;
  for (let i = 0; i < 9; i++) sum += (digits.charCodeAt(i) - 48) * (10 - i);
  let check = 11 - (sum % 11);
  if (check === 11) check = 0;
  return check !== 10 && check === digits.charCodeAt(9) - 48;
}

const NIF_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE";

/** Spanish NIF/DNI (8 digits + letter) and NIE (X/Y/Z + 7 digits + letter): the letter is number mod 23. */
export function esNif(value: string): boolean {
  const upper = value.toUpperCase();
  const letter = upper[upper.length - 1]!;
  let body = upper.slice(0, -1);
  const nie = "XYZ".indexOf(body[0]!);
  if (nie >= 0) body = String(nie) + body.slice(1);
  if (!/^[0-9]{8}$/.test(body)) return false;
  return NIF_LETTERS[Number(body) % 23] === letter;
}

/**
 * German tax identification number (Steuer-IdNr): 11 digits, first not 0, ISO 7064 MOD 11,10 check
 * digit, and in the first ten digits exactly one digit appears twice or three times.
 */
export function deTaxId(digits: string): boolean {
  if (digits.length !== 11 || digits[0] === "0") return false;
  const counts = new Array<number>(10).fill(0);
  for (let i = 0; i < 10; i++) counts[digits.charCodeAt(i) - 48]!++;
  const repeated = counts.filter((n) => n > 1);
  if (repeated.length !== 1 || repeated[0]! > 3) return false;
  let product = 10;
  for (let i = 0; i < 10; i++) {
    let sum = (digits.charCodeAt(i) - 48 + product) % 10;
    if (sum === 0) sum = 10;
    product = (sum * 2) % 11;
  }
  let check = 11 - product;
  if (check === 10) check = 0;
  return check === digits.charCodeAt(10) - 48;
}

/**
 * Swedish personnummer: YYMMDD + serial + Luhn check digit over the ten digits (YYYYMMDD accepted).
 * The day may be +60 (samordningsnummer, coordination numbers).
 */
export function sePersonnummer(digits: string): boolean {
  const ten = digits.length === 12 ? digits.slice(2) : digits;
  if (ten.length !== 10) return false;
  const month = Number(ten.slice(2, 4));
  let day = Number(ten.slice(4, 6));
  if (day > 60) day -= 60;
  return month >= 1 && month <= 12 && day >= 1 && day <= 31 && luhn(ten);
}

/** ABA routing transit number: Federal Reserve prefixes and the 3-7-1 weighted checksum. */
export function abaRouting(digits: string): boolean {
  if (digits.length !== 9) return false;
  const prefix = Number(digits.slice(0, 2));
  if (!(prefix <= 12 || (prefix >= 21 && prefix <= 32) || (prefix >= 61 && prefix <= 72) || prefix === 80)) return false;
  const d = (i: number) => digits.charCodeAt(i) - 48;
  const sum = 3 * (d(0) + d(3) + d(6)) + 7 * (d(1) + d(4) + d(7)) + (d(2) + d(5) + d(8));
  return sum % 10 === 0 && digits !== "000000000";
}

/** US DEA registration number: two letters, seven digits, (d1+d3+d5) + 2(d2+d4+d6) ends in d7. */
export function deaNumber(value: string): boolean {
  const d = (i: number) => value.charCodeAt(2 + i) - 48;
  const sum = d(0) + d(2) + d(4) + 2 * (d(1) + d(3) + d(5));
  return sum % 10 === d(6);
}

/** Shannon entropy in bits per character. */
export function entropy(value: string): number {
  const counts = new Map<number, number>();
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    counts.set(c, (counts.get(c) ?? 0) + 1);
  }
  let bits = 0;
  for (const n of counts.values()) {
    const p = n / value.length;
    bits -= p * Math.log2(p);
  }
  return bits;
}
