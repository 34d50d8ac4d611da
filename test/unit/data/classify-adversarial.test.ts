/**
 * Bad input: pathological strings for every scanner (200 KB each), odd Unicode that hides a value,
 * invalid UTF-8. Each must finish and return findings (no catastrophic backtracking, no throw); the
 * benchmark, not this test, measures how fast.
 */
import { describe, expect, it } from "vitest";
import { classify, detectText } from "../../../worker/data/index.ts";

const SIZE = 200 * 1024;
const fill = (unit: string, tail = "") => unit.repeat(Math.ceil(SIZE / unit.length)).slice(0, SIZE) + tail;

const PATHOLOGICAL: Array<[string, string]> = [
  ["digits", fill("1")],
  ["digits and spaces", fill("1 ")],
  ["digit groups with every separator", fill("12-3.4 (5)/6 ")],
  ["plus and parentheses", fill("+1 (")],
  ["letters", fill("a")],
  ["capitalised words", fill("Aaaa ")],
  ["titled names", fill("Dr. Aaaa ")],
  ["street-like", fill("1 Aaaa ")],
  ["e-mail local parts without @", fill("a.")],
  ["many @", fill("a@")],
  ["domain dots after @", fill("@a.")],
  ["@ then long domain", `a@${fill("a-")}`],
  ["JWT prefixes with dashes", fill("eyJ-")],
  ["JWT segments", fill("eyJaaaaa.")],
  ["AWS prefixes", fill("AKIA")],
  ["OpenAI prefixes", fill("sk-")],
  ["Anthropic prefixes", fill("sk-ant-")],
  ["GitHub prefixes", fill("ghp_")],
  ["private key headers", fill("-----BEGIN ")],
  ["private key without END", `-----BEGIN PRIVATE KEY-----${fill("A")}`],
  ["URL authorities", fill("://a:b")],
  ["URL with long user info", `https://${fill("a:")}@x`],
  ["keyword assignments", fill("api_key=")],
  ["keyword then long value", `token=${fill("aB3")}`],
  ["password keywords", fill("password:")],
  ["IBAN-like", fill("DE89 ")],
  ["IBAN head then letters", `DE89${fill("A ")}`],
  ["colons", fill(":")],
  ["hex and colons", fill("0:")],
  ["double colons", fill("a::")],
  ["NIF-like", fill("X1234567")],
  ["base58 run", fill("1a")],
  ["bech32 prefix then data", `bc1${fill("q")}`],
  ["ICD-like", fill("A01.")],
  ["0x prefixes", fill("0x")],
  ["zero-width between digits", fill("1\u200b")],
  ["full-width digits", fill("１")],
  ["replacement characters", fill("\ufffd")],
  ["lone surrogates", fill("\ud800")],
  ["mixed symbols", fill("+(-./ :@=\"'")],
];

describe("pathological inputs finish (200 KB each)", () => {
  it.each(PATHOLOGICAL)("%s", (_, text) => {
    expect(Array.isArray(detectText(text))).toBe(true);
  });
});

describe("odd Unicode is folded before matching, offsets stay in the original", () => {
  it("full-width digits in a card number", () => {
    const text = "card ４１１１ １１１１ １１１１ １１１１ ok";
    const [finding] = detectText(text);
    expect(finding).toMatchObject({ type: "CREDIT_CARD" });
    expect(text.slice(finding!.start, finding!.end)).toBe("４１１１ １１１１ １１１１ １１１１");
  });
  it("zero-width characters inside a number and a key", () => {
    const card = "4111\u200b1111\u200c1111\u200d1111";
    expect(detectText(`pay ${card}`).map((f) => f.type)).toEqual(["CREDIT_CARD"]);
    const key = "AKIA\u2060IOSFODNN7\ufeffEXAMPLE";
    const text = `key ${key}.`;
    const [finding] = detectText(text);
    expect(finding).toMatchObject({ type: "SECRET_AWS_ACCESS_KEY", start: 4, end: 4 + key.length });
  });
  it("Cyrillic and Greek look-alikes in a key", () => {
    const key = "АKIАIOSFОDNN7EXAMPLE"; // Cyrillic А, А, О
    expect(detectText(`my key ${key}`).map((f) => f.type)).toEqual(["SECRET_AWS_ACCESS_KEY"]);
    expect(detectText("ghp_\u0391bcdefghijklmnopqrstuvwxyz0123456789").map((f) => f.type)).toEqual(["SECRET_GITHUB_TOKEN"]);
  });
  it("no-break spaces and Unicode dashes as separators", () => {
    expect(detectText("ssn 123\u201145\u20116789").map((f) => f.type)).toEqual(["US_SSN"]);
    expect(detectText("card 4111\u00a01111\u00a01111\u00a01111").map((f) => f.type)).toEqual(["CREDIT_CARD"]);
  });
  it("other scripts' decimal digits and mathematical digits (astral, two code units each)", () => {
    const arabic = "٤١١١١١١١١١١١١١١١";
    expect(detectText(`card ${arabic}`).map((f) => f.type)).toEqual(["CREDIT_CARD"]);
    const math = "𝟒𝟏𝟏𝟏𝟏𝟏𝟏𝟏𝟏𝟏𝟏𝟏𝟏𝟏𝟏𝟏";
    const text = `card ${math}!`;
    const [finding] = detectText(text);
    expect(finding).toMatchObject({ type: "CREDIT_CARD", start: 5, end: 5 + math.length });
  });
  it("text that folding shortens is read to its folded end only (nothing past it, nothing from a longer text before)", () => {
    // The scanners read one byte per code unit from a buffer reused from text to text: past the folded
    // text it must hold nothing (not the tail of the unfolded text, not the previous text's bytes).
    const text = `${"\u200b".repeat(6)}Dr. Smith`;
    detectText(`Dr. Smithsonian Institution ${"x".repeat(64)}`);
    const findings = detectText(text);
    expect(findings.map((f) => [f.type, text.slice(f.start, f.end)])).toEqual([["PERSON", "Smith"]]);
    expect(detectText(`${"\u200b".repeat(6)}0x${"ab12".repeat(10)}`).map((f) => f.end)).toEqual([48]);
  });
  it("invalid UTF-8 (U+FFFD) and lone surrogates never crash, and do not hide what is around them", () => {
    const bytes = new Uint8Array([0x6d, 0x61, 0x69, 0x6c, 0x20, 0xff, 0xfe, 0x20]);
    const text = `${new TextDecoder().decode(bytes)}bob@example.com \ud800 ssn 123-45-6789 \udfff`;
    expect(classify([text]).findings.map((f) => f.type)).toEqual(["EMAIL_ADDRESS", "US_SSN"]);
    const [email] = detectText(text);
    expect(text.slice(email!.start, email!.end)).toBe("bob@example.com");
  });
});
