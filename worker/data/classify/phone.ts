/**
 * Phone numbers, parsed rather than matched: an international number is a country calling code
 * (ITU-T E.164; codes are prefix-free) followed by a national significant number of a plausible
 * length for that country; a national one must look written as a phone number (NANP
 * `(NXX) NXX-XXXX`, or a trunk "0" followed by grouped digits). A bare run of digits is not a phone
 * number unless a context word says so. No library: the table below is the plausible-length subset
 * of libphonenumber's metadata that matters for detection (not for formatting or carrier lookup).
 */

/** Calling code → [min, max] national significant number length. */
const NSN_LENGTHS: Readonly<Record<string, readonly [number, number]>> = {
  "1": [10, 10], "7": [10, 10], "20": [8, 10], "27": [9, 9], "30": [10, 10], "31": [9, 9], "32": [8, 9],
  "33": [9, 9], "34": [9, 9], "36": [8, 9], "39": [6, 11], "40": [9, 9], "41": [9, 9], "43": [7, 13],
  "44": [9, 10], "45": [8, 8], "46": [6, 10], "47": [8, 8], "48": [9, 9], "49": [6, 13], "51": [8, 9],
  "52": [10, 10], "53": [8, 8], "54": [10, 11], "55": [10, 11], "56": [9, 9], "57": [8, 10], "58": [10, 10],
  "60": [7, 10], "61": [9, 9], "62": [8, 12], "63": [8, 10], "64": [8, 10], "65": [8, 8], "66": [8, 9],
  "81": [9, 10], "82": [8, 10], "84": [9, 10], "86": [10, 11], "90": [10, 10], "91": [10, 10], "92": [9, 10],
  "93": [9, 9], "94": [9, 9], "95": [8, 10], "98": [10, 10], "212": [9, 9], "213": [8, 9], "216": [8, 8],
  "234": [8, 10], "254": [9, 9], "255": [9, 9], "256": [9, 9], "351": [9, 9], "352": [6, 11], "353": [7, 9],
  "354": [7, 9], "355": [8, 9], "356": [8, 8], "357": [8, 8], "358": [6, 12], "359": [7, 9], "370": [8, 8],
  "371": [8, 8], "372": [7, 8], "373": [8, 8], "374": [8, 8], "375": [9, 10], "376": [6, 9], "377": [8, 9],
  "380": [9, 9], "381": [8, 9], "382": [8, 8], "385": [8, 9], "386": [8, 8], "387": [8, 8], "389": [8, 8],
  "420": [9, 9], "421": [9, 9], "423": [7, 9], "852": [8, 8], "853": [8, 8], "855": [8, 9], "880": [10, 10],
  "886": [8, 9], "961": [7, 8], "962": [8, 9], "964": [8, 10], "965": [8, 8], "966": [9, 9], "968": [8, 8],
  "971": [8, 9], "972": [8, 9], "973": [8, 8], "974": [8, 8], "977": [8, 10], "994": [9, 9], "995": [9, 9],
  "998": [9, 9],
};

/** `digits` after "+" (or "00"): does a known calling code with a plausible national number fit? */
export function internationalNumber(digits: string): boolean {
  for (let codeLength = 1; codeLength <= 3; codeLength++) {
    const lengths = NSN_LENGTHS[digits.slice(0, codeLength)];
    if (!lengths) continue;
    let national = digits.slice(codeLength);
    // Italy keeps its leading 0 after +39; elsewhere "+44 (0)20 …" writes the trunk prefix inside.
    if (codeLength === 2 && digits.startsWith("39")) return national.length >= lengths[0] && national.length <= lengths[1];
    if (national[0] === "0") national = national.slice(1);
    return national.length >= lengths[0] && national.length <= lengths[1] && national[0] !== "0";
  }
  return false;
}

/** North American Numbering Plan: area code and exchange both NXX (N = 2–9), area not N11. */
export function nanpNumber(digits: string): boolean {
  const ten = digits.length === 11 && digits[0] === "1" ? digits.slice(1) : digits;
  if (ten.length !== 10) return false;
  return ten[0]! >= "2" && !(ten[1] === "1" && ten[2] === "1") && ten[3]! >= "2";
}

/** A national number with a trunk "0": 9–11 digits, the second not 0 (else it is an international prefix). */
export function trunkNumber(digits: string): boolean {
  return digits.length >= 9 && digits.length <= 11 && digits[0] === "0" && digits[1] !== "0";
}
