/**
 * The classifier's differential fixture: texts and the exact findings and level the classifier gives
 * them, written to test/unit/data/fixtures/classify-findings.json and asserted by
 * test/unit/data/classify-differential.test.ts. Regenerate only when a change of findings is intended
 * (a speed-up must leave the fixture as it is).
 *
 * Texts: the evaluation corpus (bench/eval-classify-corpus.ts, its seed), the same sentences laid end
 * to end in groups (context words and resume points across sentences), the benchmark's mixed text,
 * the corpus with odd Unicode put in (full-width digits, zero-width characters, look-alike letters,
 * odd spaces and dashes: the folding path), small pathological strings, and seeded random strings
 * built from the fragments every scanner keys on.
 *
 *   tsx bench/classify-fixture.ts
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { faker } from "@faker-js/faker";
import { classify, detectText } from "../worker/data/index.ts";
import { mixedText } from "./classify.ts";
import { negatives, positives } from "./eval-classify-corpus.ts";

const EVAL_SEED = 20261126;
const FUZZ_SEED = 6006;

/** Odd Unicode a sender may use to hide a value, each with what it folds from. */
const FULL_WIDTH_DIGIT = (d: string) => String.fromCharCode(0xff10 + Number(d));
const INVISIBLE = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u202e"];
const LOOK_ALIKE: Readonly<Record<string, string>> = { A: "А", E: "Е", O: "О", a: "а", e: "е", o: "о", p: "р", c: "с", K: "Κ", I: "І", x: "х" };

function disguise(text: string): string {
  let out = "";
  for (const char of text) {
    const roll = faker.number.int(99);
    if (char >= "0" && char <= "9" && roll < 30) out += FULL_WIDTH_DIGIT(char);
    else if (char === " " && roll < 15) out += faker.helpers.arrayElement(["\u00a0", "\u2009", "\u3000"]);
    else if (char === "-" && roll < 40) out += faker.helpers.arrayElement(["\u2010", "\u2212", "\u2013"]);
    else if (LOOK_ALIKE[char] && roll < 20) out += LOOK_ALIKE[char];
    else out += char;
    if (faker.number.int(99) < 4) out += faker.helpers.arrayElement(INVISIBLE);
  }
  return out;
}

/** What the scanners key on, and what sits near their edges. */
const FRAGMENTS = [
  "AKIA", "ASIA", "AIza", "ghp_", "github_pat_", "glpat-", "xoxb-", "sk-", "sk-ant-", "sk_live_", "hf_", "gsk_", "xai-", "r8_", "pplx-",
  "npm_", "SG.", "dop_v1_", "shpat_", "eyJ", "eyJhbGciOiJIUzI1NiJ9", ".eyJzdWIiOiIxIn0.", "-----BEGIN ", "PRIVATE KEY-----", "-----END ",
  "Q~", "://", "postgres://", "https://", "user:", "pass@", "@", "@example.com", ".com", "a.b", ":", "::", "=", ":=", "=>", "\"", "'",
  "api_key", "apiKey", "secret", "token", "password", "pwd", "auth", "credential", "0", "1", "12", "123", "1234", "4111", "555", "0x",
  "bc1q", "3J98", "DE89", "GB82", "X123", "A01.", " ", "  ", "\n", "-", ".", "/", "(", ")", "+", "+1 ", "+44 ", "00", ",", ";", "Dr. ",
  "Mr ", "Ms. ", "John ", "Mary ", "Smith", "Roe", "my name is ", "lives in ", "Berlin", "Main ", "Street", "Ave", "Regards,\n",
  "card ", "ssn ", "phone ", "tel ", "iban ", "routing ", "account ", "nhs ", "order ", "version ", "ip ", "host ", "wallet ",
  "mrn ", "dx ", "icd ", "dea ", "personnummer ", "AB1234563", "811228-9874", "J45.909", "0123:4567", "fe80::1", "fax ",
  "aB3xY9qZ", "ABCDEFGHIJKLMNOP", "abcdefghijklmnopqrstuvwxyz", "0123456789", "\u200b", "１", "А", "\ufffd",
];

function fuzz(): string {
  let text = "";
  const parts = faker.number.int({ min: 3, max: 60 });
  for (let i = 0; i < parts; i++) {
    text += faker.number.int(3) === 0 ? faker.string.alphanumeric(faker.number.int({ min: 1, max: 40 })) : faker.helpers.arrayElement(FRAGMENTS);
  }
  return text;
}

const PATHOLOGICAL_UNITS = [
  "1", "1 ", "12-3.4 (5)/6 ", "+1 (", "Aaaa ", "Dr. Aaaa ", "1 Aaaa ", "a.", "a@", "@a.", "eyJ-", "eyJaaaaa.", "AKIA", "sk-", "sk-ant-",
  "ghp_", "-----BEGIN ", "://a:b", "api_key=", "password:", "DE89 ", ":", "0:", "a::", "X1234567", "1a", "A01.", "0x", "1\u200b", "１",
  "+(-./ :@=\"'",
];

function texts(): string[] {
  faker.seed(EVAL_SEED);
  const corpus = [...positives(300), ...negatives(3000)].map((s) => s.text);
  const joined: string[] = [];
  for (let i = 0; i < corpus.length; i += 25) joined.push(corpus.slice(i, i + 25).join(faker.helpers.arrayElement([" ", "\n", "\n\n", ". "])));
  faker.seed(FUZZ_SEED);
  const disguised = corpus.filter((_, i) => i % 4 === 0).map(disguise);
  const fuzzed = Array.from({ length: 3000 }, fuzz);
  const pathological = PATHOLOGICAL_UNITS.map((unit) => unit.repeat(Math.ceil(2048 / unit.length)));
  faker.seed(4096); // the benchmark's prompt and the start of its mixed text (bench/classify.ts)
  const bench = [mixedText(4 * 1024), mixedText(256 * 1024)];
  return [...corpus, ...joined, ...disguised, ...fuzzed, ...pathological, ...bench];
}

export interface FixtureCase {
  text: string;
  level: number;
  /** [type, start, end, score, category, level] per finding, in the order detectText returns them. */
  findings: Array<[string, number, number, number, string, number]>;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const cases: FixtureCase[] = texts().map((text) => ({
    text,
    level: classify([text]).level,
    findings: detectText(text).map((f) => [f.type, f.start, f.end, f.score, f.category, f.level]),
  }));
  const dir = join(import.meta.dirname, "../test/unit/data/fixtures");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "classify-findings.json"), `${JSON.stringify({ generatedBy: "tsx bench/classify-fixture.ts", cases })}\n`);
  console.log(`${cases.length} texts, ${cases.reduce((n, c) => n + c.findings.length, 0)} findings`);
}
