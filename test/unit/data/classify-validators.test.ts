/** Each validator's published positives and near-miss negatives, checked through `detectText`. */
import { describe, expect, it } from "vitest";
import { detectText } from "../../../worker/data/index.ts";
import { abaRouting, creditCard, deTaxId, esNif, ibanMod97, luhn, sePersonnummer, ukNhs } from "../../../worker/data/classify/checksums.ts";
import { base58CheckAddress, bech32Address } from "../../../worker/data/classify/crypto-address.ts";
import { ipv6Address } from "../../../worker/data/classify/identifiers.ts";

/** The types found in `text`, with the text each covers. */
function found(text: string): Array<[string, string]> {
  return detectText(text).map((f) => [f.type, text.slice(f.start, f.end)]);
}

const only = (text: string, type: string) => found(text).filter(([t]) => t === type).map(([, value]) => value);

describe("card numbers: scheme IIN and length, then Luhn", () => {
  // Card brands' published test numbers.
  it.each(["4111111111111111", "5555555555554444", "2223003122003222", "378282246310005", "6011111111111117", "3530111333300000", "30569309025904", "6200000000000005", "4222222222222"])(
    "%s is a card",
    (number) => {
      expect(luhn(number) && creditCard(number)).toBe(true);
      expect(only(`pay with ${number} now`, "CREDIT_CARD")).toEqual([number]);
    },
  );
  it.each(["4111 1111 1111 1111", "4111-1111-1111-1111", "3782-822463-10005", "3782 822463 10005"])("grouped %s is a card", (number) => {
    expect(only(`card: ${number}.`, "CREDIT_CARD")).toEqual([number]);
  });
  it.each([
    ["Luhn fails", "4111 1111 1111 1112"],
    ["unknown IIN", "9111111111111111"],
    ["Visa of length 15", "411111111111116"],
    ["mixed separators", "4111 1111-1111 1111"],
    ["IMEI grouping 2-6-6-1", "35-209900-176148-1"],
    ["too long", "41111111111111111111"],
  ])("not a card: %s", (_, number) => {
    expect(only(`pay with ${number}`, "CREDIT_CARD")).toEqual([]);
  });
  it("Maestro (wide ranges) needs a context word", () => {
    expect(only("ref 6759649826438453", "CREDIT_CARD")).toEqual([]);
    expect(only("debit card 6759649826438453", "CREDIT_CARD")).toEqual(["6759649826438453"]);
  });
  it("a context word raises the score; an order or version word lowers it", () => {
    const plain = detectText("4111111111111111")[0]!;
    expect(detectText("my credit card 4111111111111111")[0]!.score).toBeGreaterThan(plain.score);
    expect(detectText("order number 4111111111111111")[0]!.score).toBeLessThan(plain.score);
    // A weaker match (an IPv4-shaped version) falls below the reporting threshold.
    expect(detectText("version 10.2.0.1")).toEqual([]);
  });
  it("finds a card inside a longer run of digits groups", () => {
    expect(only("ref 12 4111 1111 1111 1111", "CREDIT_CARD")).toEqual(["4111 1111 1111 1111"]);
  });
});

describe("IBAN: per-country length and mod-97", () => {
  it.each(["GB82 WEST 1234 5698 7654 32", "GB82WEST12345698765432", "DE89 3704 0044 0532 0130 00", "FR14 2004 1010 0505 0001 3M02 606", "NL91 ABNA 0417 1643 00", "BE68 5390 0754 7034", "NO93 8601 1117 947"])(
    "%s is an IBAN",
    (iban) => {
      expect(ibanMod97(iban.replace(/ /g, ""))).toBe(true);
      expect(only(`Wire it to ${iban} today.`, "IBAN_CODE")).toEqual([iban]);
    },
  );
  it.each([
    ["check digits wrong", "GB83 WEST 1234 5698 7654 32"],
    ["too short for GB", "GB82 WEST 1234 5698 7654 3"],
    ["too long for DE (glued)", "DE89370400440532013000X"],
    ["unknown country", "QQ82 WEST 1234 5698 7654 32"],
  ])("not an IBAN: %s", (_, iban) => {
    expect(only(`IBAN ${iban}`, "IBAN_CODE")).toEqual([]);
  });
  it("does not report the digits inside an IBAN as a phone number", () => {
    expect(found("IBAN DE89 3704 0044 0532 0130 00 thanks")).toEqual([["IBAN_CODE", "DE89 3704 0044 0532 0130 00"]]);
  });
});

describe("US SSN: never-issued ranges excluded", () => {
  it.each(["123-45-6789", "078-05-1121", "899-99-9999", "001-01-0001"])("%s is an SSN", (ssn) => {
    expect(only(`ssn ${ssn}`, "US_SSN")).toEqual([ssn]);
  });
  it.each(["000-12-3456", "666-12-3456", "900-12-3456", "999-12-3456", "123-00-4567", "123-45-0000", "123-456-789", "1234-56-789"])("%s is not", (ssn) => {
    expect(only(`ssn ${ssn}`, "US_SSN")).toEqual([]);
  });
  it("nine bare digits are an SSN only next to the word", () => {
    expect(only("id 123456789", "US_SSN")).toEqual([]);
    expect(only("SSN: 123456789", "US_SSN")).toEqual(["123456789"]);
  });
});

describe("e-mail addresses", () => {
  it.each(["bob@example.com", "first.last+tag@sub.example.co.uk", "x_y-z%1@a-b.io"])("%s", (email) => {
    expect(only(`mail <${email}> now`, "EMAIL_ADDRESS")).toEqual([email]);
  });
  it.each(["user@localhost", "@mention", "a@b.c", "foo@-bad.com", "name@domain.123"])("%s is not an address", (text) => {
    expect(only(`see ${text}`, "EMAIL_ADDRESS")).toEqual([]);
  });
  it("trims a sentence's final dot", () => {
    expect(only("write to bob@example.com.", "EMAIL_ADDRESS")).toEqual(["bob@example.com"]);
  });
});

describe("phone numbers: parsed, international and national", () => {
  it.each(["+1 415 555 2671", "+14155552671", "+44 20 7946 0958", "+44 (0)20 7946 0958", "+49 30 901820", "+33 1 42 68 53 00", "+39 06 6988 4857", "0044 20 7946 0958", "(415) 555-2671", "415-555-2671", "415.555.2671", "1-800-555-0199", "020 7946 0958", "06 12 34 56 78", "030 901820 00"])(
    "%s",
    (phone) => {
      expect(only(`Reach us on ${phone} today`, "PHONE_NUMBER")).toEqual([phone]);
    },
  );
  it.each([
    ["unknown calling code", "+999 1234 5678"],
    ["too short for +44", "+44 20 79"],
    ["NANP area code 1xx", "(115) 555-2671"],
    ["a date", "2024-01-15"],
    ["ZIP+4", "02181-2362"],
    ["a version", "10.4.2"],
  ])("not a phone number: %s", (_, text) => {
    expect(only(`reference ${text} here`, "PHONE_NUMBER")).toEqual([]);
  });
  it("a bare run of digits is a phone number only with a context word", () => {
    expect(only("ref 612345678 attached", "PHONE_NUMBER")).toEqual([]);
    expect(only("call me on 612345678", "PHONE_NUMBER")).toEqual(["612345678"]);
  });
});

describe("IP addresses: parsed", () => {
  it.each(["192.168.1.20", "10.0.0.1", "8.8.8.8", "255.255.255.255"])("IPv4 %s", (ip) => {
    expect(only(`host ${ip} is down`, "IP_ADDRESS")).toEqual([ip]);
  });
  it.each(["256.1.1.1", "1.2.3", "01.2.3.4", "1.2.3.4.5"])("not IPv4: %s", (ip) => {
    expect(only(`host ${ip} is down`, "IP_ADDRESS")).toEqual([]);
  });
  it("a four-part version number is not an address", () => {
    expect(only("version 1.2.3.4 released", "IP_ADDRESS")).toEqual([]);
  });
  it.each(["2001:db8::1", "::1", "fe80::1ff:fe23:4567:890a", "2001:0db8:85a3:0000:0000:8a2e:0370:7334", "::ffff:192.0.2.1"])("IPv6 %s", (ip) => {
    expect(ipv6Address(ip)).toBe(true);
    expect(only(`from ${ip} today`, "IP_ADDRESS")).toEqual([ip]);
  });
  it.each(["12:30:45", "00:1A:2B:3C:4D:5E", "std::vector", "1::2::3", "12345::1"])("not IPv6: %s", (text) => {
    expect(only(`see ${text} here`, "IP_ADDRESS")).toEqual([]);
  });
});

describe("national identifiers with check digits", () => {
  it("UK NHS (mod 11) with context", () => {
    expect(ukNhs("9434765919")).toBe(true);
    expect(ukNhs("9434765918")).toBe(false);
    expect(only("NHS number 943 476 5919", "UK_NHS")).toEqual(["943 476 5919"]);
    expect(only("NHS number 9434765919", "UK_NHS")).toEqual(["9434765919"]);
    expect(only("NHS number 943 476 5918", "UK_NHS")).toEqual([]);
    expect(only("reference 9434765919", "UK_NHS")).toEqual([]);
  });
  it("ES NIF and NIE (mod 23)", () => {
    for (const valid of ["12345678Z", "X1234567L", "12345678-Z"]) expect(only(`DNI ${valid}`, "ES_NIF")).toEqual([valid]);
    expect(esNif("12345678A")).toBe(false);
    expect(only("DNI 12345678A", "ES_NIF")).toEqual([]);
  });
  it("DE Steuer-IdNr (ISO 7064 MOD 11,10 and the digit rule)", () => {
    expect(deTaxId("86095742719")).toBe(true);
    expect(deTaxId("86095742718")).toBe(false);
    expect(deTaxId("12345678903")).toBe(false); // no repeated digit
    expect(only("Steuer-IdNr 86095742719", "DE_TAX_ID")).toEqual(["86095742719"]);
  });
  it("SE personnummer (Luhn, date)", () => {
    expect(sePersonnummer("8112289874")).toBe(true);
    expect(sePersonnummer("8112289873")).toBe(false);
    expect(sePersonnummer("8113289874")).toBe(false);
    expect(only("personnummer 811228-9874", "SE_PERSONNUMMER")).toEqual(["811228-9874"]);
    expect(only("pnr 19811228-9874", "SE_PERSONNUMMER")).toEqual(["19811228-9874"]);
  });
  it("ABA routing numbers (3-7-1 checksum) and bank account numbers need context", () => {
    for (const valid of ["021000021", "011000015", "121000358"]) expect(abaRouting(valid)).toBe(true);
    expect(abaRouting("021000022")).toBe(false);
    expect(found("routing 021000021 account 123456789012")).toEqual([
      ["ABA_ROUTING_NUMBER", "021000021"],
      ["US_BANK_NUMBER", "123456789012"],
    ]);
    expect(found("id 021000021")).toEqual([]);
  });
  it("DEA numbers as MEDICAL_LICENSE (phi)", () => {
    const [finding] = detectText("prescriber DEA AB1234563");
    expect(finding).toMatchObject({ type: "MEDICAL_LICENSE", category: "phi", level: 2 });
    expect(only("DEA AB1234564", "MEDICAL_LICENSE")).toEqual([]);
  });
  it("medical record numbers and ICD-10 codes only with context (phi)", () => {
    expect(detectText("MRN 00482913")[0]).toMatchObject({ type: "MEDICAL_RECORD_NUMBER", category: "phi" });
    expect(detectText("invoice 00482913")).toEqual([]);
    expect(only("diagnosis: E11.9 and I10", "ICD10_CODE")).toEqual(["E11.9", "I10"]);
    expect(only("vitamin B12 and A4 paper", "ICD10_CODE")).toEqual([]);
  });
});

describe("crypto addresses", () => {
  it.each(["1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy"])("Base58Check %s", (address) => {
    expect(base58CheckAddress(address)).toBe(true);
    expect(only(`send to ${address}`, "CRYPTO")).toEqual([address]);
  });
  it.each(["bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq", "bc1p5d7rjq7g6rdk2yhzks9smlaqtedr4dekq08ge8ztwac72sfr9rusxg3297"])("bech32/bech32m %s", (address) => {
    expect(bech32Address(address)).toBe(true);
    expect(only(`send to ${address}`, "CRYPTO")).toEqual([address]);
  });
  it.each(["1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb", "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdr", "bc1qAr0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"])("bad checksum or mixed case: %s", (address) => {
    expect(only(`send to ${address}`, "CRYPTO")).toEqual([]);
  });
});

describe("PERSON and LOCATION: rule-based, low scores", () => {
  it("finds titled and introduced names and addresses", () => {
    expect(only("Dr. Jane Roe will call", "PERSON")).toEqual(["Jane Roe"]);
    expect(only("Hi, my name is Ada Lovelace.", "PERSON")).toEqual(["Ada Lovelace"]);
    expect(only("forward it to Sarah Connor", "PERSON")).toEqual(["Sarah Connor"]);
    expect(only("ship to 221B Baker Street please", "LOCATION")).toEqual(["221B Baker Street"]);
    expect(only("she lives in Berlin", "LOCATION")).toEqual(["Berlin"]);
    for (const f of detectText("Dr. Jane Roe lives in Berlin")) expect(f).toMatchObject({ category: "pii", level: 1 });
  });
  it("does not guess at capitalised words or places mentioned in passing", () => {
    expect(detectText("What is the capital of France? The Eiffel Tower is in Paris.")).toEqual([]);
  });
});
