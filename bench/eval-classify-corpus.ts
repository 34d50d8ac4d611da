/**
 * The labelled corpus of bench/eval-classify.ts: sentences built from templates with the values the
 * generator embedded and their spans. Uses the global `faker` (seeded by the caller) and localised
 * fakers for phone numbers and addresses.
 */
import { allFakers, faker, type Faker } from "@faker-js/faker";
import { abaRouting, deTaxId, ukNhs } from "../worker/data/classify/checksums.ts";
import { base64url } from "../worker/lib/encoding.ts";
import { sha256Sync } from "../worker/lib/sha256-sync.ts";

export interface Label {
  type: string;
  start: number;
  end: number;
}

export interface Sample {
  text: string;
  labels: Label[];
}

type Part = string | { type: string; value: string };

function sentence(parts: readonly Part[]): Sample {
  let text = "";
  const labels: Label[] = [];
  for (const part of parts) {
    if (typeof part === "string") text += part;
    else {
      labels.push({ type: part.type, start: text.length, end: text.length + part.value.length });
      text += part.value;
    }
  }
  return { text, labels };
}

const pick = <T>(items: readonly T[]): T => faker.helpers.arrayElement(items);
const digits = (n: number) => faker.string.numeric({ length: n, allowLeadingZeros: true });
const filler = () => pick([faker.hacker.phrase(), faker.company.catchPhrase() + ".", faker.lorem.sentence(), ""]);

// ---- value generators -------------------------------------------------------------------------

function card(): string {
  const issuer = pick(["visa", "mastercard", "amex", "discover", "jcb", "diners_club"]);
  const raw = faker.finance.creditCardNumber(issuer);
  const compact = raw.replace(/-/g, "");
  return pick([raw, compact, raw.replace(/-/g, " ")]);
}

function ssn(): string {
  let area = faker.number.int({ min: 1, max: 899 });
  if (area === 666) area = 667;
  const group = faker.number.int({ min: 1, max: 99 });
  const serial = faker.number.int({ min: 1, max: 9999 });
  return `${String(area).padStart(3, "0")}-${String(group).padStart(2, "0")}-${String(serial).padStart(4, "0")}`;
}

const LOCAL_SEED = 6262;
const PHONE_LOCALES = ["en_US", "en_GB", "de", "fr", "es", "it", "nl", "sv", "pl", "pt_BR", "en_AU", "en_CA", "fr_CH", "da", "fi", "nb_NO"];

function phone(): string {
  const local = (allFakers as Record<string, Faker>)[pick(PHONE_LOCALES)]!;
  const value = local.phone.number({ style: pick(["human", "national", "international"]) });
  return value.replace(/\s?x\d+$/, ""); // an extension is not part of the number's span here
}

function base58(bytes: Uint8Array): string {
  const alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
  let n = 0n;
  for (const b of bytes) n = n * 256n + BigInt(b);
  let out = "";
  while (n > 0n) {
    out = alphabet[Number(n % 58n)] + out;
    n /= 58n;
  }
  for (const b of bytes) {
    if (b !== 0) break;
    out = `1${out}`;
  }
  return out;
}

function bitcoinLegacy(): string {
  const payload = Uint8Array.from([pick([0x00, 0x05]), ...faker.helpers.multiple(() => faker.number.int(255), { count: 20 })]);
  const check = sha256Sync(sha256Sync(payload)).subarray(0, 4);
  return base58(Uint8Array.from([...payload, ...check]));
}

function bech32Segwit(): string {
  const charset = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";
  const gen = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];
  const polymod = (values: number[]) => {
    let chk = 1;
    for (const v of values) {
      const top = chk >>> 25;
      chk = ((chk & 0x1ffffff) << 5) ^ v;
      for (let i = 0; i < 5; i++) if ((top >>> i) & 1) chk ^= gen[i]!;
    }
    return chk >>> 0;
  };
  const version = pick([0, 1]);
  const program = faker.helpers.multiple(() => faker.number.int(255), { count: version === 0 ? 20 : 32 });
  const words: number[] = [version];
  let acc = 0;
  let bits = 0;
  for (const b of program) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5) words.push((acc >> (bits -= 5)) & 31);
  }
  if (bits > 0) words.push((acc << (5 - bits)) & 31);
  const constant = version === 0 ? 1 : 0x2bc830a3;
  const mod = polymod([3, 3, 0, 2, 3, ...words, 0, 0, 0, 0, 0, 0]) ^ constant;
  const checksum = [0, 1, 2, 3, 4, 5].map((i) => (mod >>> (5 * (5 - i))) & 31);
  return `bc1${[...words, ...checksum].map((w) => charset[w]).join("")}`;
}

function withValid(make: () => string, valid: (value: string) => boolean): string {
  for (;;) {
    const value = make();
    if (valid(value)) return value;
  }
}

const alnum = (n: number) => faker.string.alphanumeric({ length: n });
function jwt(): string {
  const enc = (o: object) => base64url(new TextEncoder().encode(JSON.stringify(o)));
  return `${enc({ alg: pick(["HS256", "RS256", "ES256"]), typ: "JWT" })}.${enc({ sub: faker.string.uuid(), name: faker.person.fullName(), iat: faker.number.int({ min: 1.6e9, max: 1.8e9 }) })}.${base64url(Uint8Array.from(faker.helpers.multiple(() => faker.number.int(255), { count: 32 })))}`;
}

const SECRETS: ReadonlyArray<() => string> = [
  () => `AKIA${faker.string.fromCharacters("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)}`,
  () => `ghp_${alnum(36)}`,
  () => `github_pat_${alnum(22)}_${alnum(59)}`,
  () => `glpat-${alnum(20)}`,
  () => `xoxb-${digits(12)}-${digits(13)}-${alnum(24)}`,
  () => `sk_live_${alnum(24)}`,
  () => `sk-proj-${alnum(48)}`,
  () => `sk-${alnum(48)}`,
  () => `sk-ant-api03-${faker.string.fromCharacters("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", 93)}AA`,
  () => `AIza${faker.string.fromCharacters("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", 35)}`,
  () => `hf_${alnum(34)}`,
  () => `gsk_${alnum(52)}`,
  jwt,
  () => `-----BEGIN ${pick(["RSA ", "EC ", "OPENSSH ", ""])}PRIVATE KEY-----\n${faker.string.alphanumeric(64)}\n${faker.string.alphanumeric(64)}\n-----END PRIVATE KEY-----`,
  () => `postgres://${faker.internet.username().replace(/\W/g, "")}:${alnum(14)}@${faker.internet.domainName()}:5432/${faker.lorem.word()}`,
  () => `https://${faker.internet.username().replace(/\W/g, "")}:${alnum(12)}@${faker.internet.domainName()}/repo.git`,
];

// ---- positives ------------------------------------------------------------------------------

type Positive = { type: string; make: () => string; templates: ReadonlyArray<(value: Part) => Part[]> };

const v = (type: string, value: string): Part => ({ type, value });

const POSITIVES: readonly Positive[] = [
  {
    type: "CREDIT_CARD", make: card, templates: [
      (x) => ["Please charge ", x, " for the renewal."],
      (x) => ["My card number is ", x, ", expiry 09/28."],
      (x) => ["I paid with ", x, " yesterday but the order failed."],
      (x) => [x, " was declined at checkout."],
      (x) => ["Can you check why ", x, " shows a duplicate transaction? ", filler()],
    ],
  },
  {
    type: "IBAN_CODE", make: () => faker.finance.iban({ formatted: faker.datatype.boolean() }), templates: [
      (x) => ["Wire the money to ", x, " by Friday."],
      (x) => ["IBAN: ", x],
      (x) => ["Our bank details changed; the new account is ", x, ". ", filler()],
      (x) => ["Refund goes to ", x, " please."],
    ],
  },
  {
    type: "US_SSN", make: ssn, templates: [
      (x) => ["My SSN is ", x, "."],
      (x) => ["Employee social security number: ", x],
      (x) => ["Form W-4 lists ", x, " for the applicant."],
      (x) => ["Please verify ", x, " against the payroll record."],
    ],
  },
  {
    type: "EMAIL_ADDRESS", make: () => faker.internet.email(), templates: [
      (x) => ["Send the report to ", x, " before noon."],
      (x) => ["Contact: ", x],
      (x) => ["Reply-To: <", x, ">"],
      (x) => [faker.person.firstName(), " wrote from ", x, ": ", filler()],
    ],
  },
  {
    type: "PHONE_NUMBER", make: phone, templates: [
      (x) => ["You can reach me at ", x, " after 5pm."],
      (x) => ["Call ", x, " to confirm the booking."],
      (x) => ["Phone: ", x],
      (x) => ["My mobile number is ", x, ". ", filler()],
      (x) => ["Tel. ", x, " (office)"],
      (x) => ["Text me on ", x, " if the delivery is late."],
    ],
  },
  {
    type: "IP_ADDRESS", make: () => (faker.datatype.boolean() ? faker.internet.ipv4() : faker.internet.ipv6()), templates: [
      (x) => ["The login came from ", x, " at 03:12 UTC."],
      (x) => ["Block ", x, " on the firewall."],
      (x) => ["server ", x, " is not responding to pings"],
      (x) => ["Client IP: ", x],
    ],
  },
  {
    type: "SECRET", make: () => pick(SECRETS)(), templates: [
      (x) => ["Here is my key ", x, " can you debug this?"],
      (x) => ["export TOKEN=", x],
      (x) => ["config:\n  credential: ", x, "\n"],
      (x) => ["Why does ", x, " return 401?"],
      (x) => ["```\n", x, "\n```"],
    ],
  },
  {
    type: "CRYPTO", make: () => (faker.datatype.boolean() ? bitcoinLegacy() : bech32Segwit()), templates: [
      (x) => ["Send 0.05 BTC to ", x, "."],
      (x) => ["My wallet: ", x],
    ],
  },
  {
    type: "UK_NHS", make: () => withValid(() => digits(10), ukNhs).replace(/^(\d{3})(\d{3})(\d{4})$/, "$1 $2 $3"), templates: [
      (x) => ["Patient NHS number ", x, " was admitted on Monday."],
      (x) => ["NHS No: ", x],
    ],
  },
  {
    type: "ES_NIF", make: () => {
      const n = digits(8);
      return `${n}${"TRWAGMYFPDXBNJZSQVHLCKE"[Number(n) % 23]}`;
    }, templates: [(x) => ["DNI del cliente: ", x], (x) => ["Invoice to NIF ", x, " please."]],
  },
  {
    type: "DE_TAX_ID", make: () => withValid(() => `${faker.number.int({ min: 1, max: 9 })}${digits(10)}`, deTaxId), templates: [
      (x) => ["Steuer-IdNr: ", x],
      (x) => ["Meine steuerliche Identifikationsnummer ist ", x, "."],
    ],
  },
  {
    type: "ABA_ROUTING_NUMBER", make: () => withValid(() => `0${digits(8)}`, abaRouting), templates: [
      (x) => ["Routing number ", x, " for the direct deposit."],
      (x) => ["ABA ", x],
    ],
  },
  {
    type: "PERSON", make: () => faker.person.fullName(), templates: [
      (x) => ["My name is ", x, " and I need help with my account."],
      (x) => ["Dr. ", x, " will see you now."],
      (x) => ["Please forward this to ", x, "."],
      (x) => ["Regards,\n", x],
    ],
  },
  {
    type: "LOCATION", make: () => faker.location.streetAddress(), templates: [
      (x) => ["Ship it to ", x, ", thanks."],
      (x) => ["I moved to ", x, " last month."],
    ],
  },
];

export function positives(perType: number): Sample[] {
  // The localised fakers are instances of their own, not seeded by the caller: seeded here (without
  // drawing from the global faker, whose sequence the rest of the corpus follows), so the corpus repeats.
  PHONE_LOCALES.forEach((locale, i) => (allFakers as Record<string, Faker>)[locale]!.seed(LOCAL_SEED + i));
  const samples: Sample[] = [];
  for (const positive of POSITIVES) {
    for (let i = 0; i < perType; i++) samples.push(sentence(pick(positive.templates)(v(positive.type, positive.make()))));
  }
  return samples;
}

// ---- hard negatives ---------------------------------------------------------------------------

function luhnInvalidCard(): string {
  const raw = faker.finance.creditCardNumber(pick(["visa", "mastercard", "amex", "discover"]));
  const last = Number(raw.at(-1));
  return raw.slice(0, -1) + String((last + 1 + faker.number.int(8)) % 10);
}

function invalidIban(): string {
  const iban = faker.finance.iban();
  const check = Number(iban.slice(2, 4));
  return `${iban.slice(0, 2)}${String((check + 1 + faker.number.int(90)) % 97).padStart(2, "0")}${iban.slice(4)}`;
}

const NEGATIVE_VALUES: ReadonlyArray<() => string> = [
  luhnInvalidCard,
  invalidIban,
  () => digits(faker.number.int({ min: 6, max: 20 })),
  () => faker.system.semver(),
  () => `${faker.number.int(20)}.${faker.number.int(40)}.${faker.number.int(300)}.${faker.number.int(9999)}`,
  () => faker.date.anytime().toISOString(),
  () => faker.date.anytime().toISOString().slice(0, 10),
  () => faker.date.anytime().toLocaleDateString("de-DE"),
  () => faker.date.anytime().toLocaleDateString("en-US"),
  () => faker.date.anytime().toTimeString().slice(0, 8),
  () => faker.string.uuid(),
  () => faker.git.commitSha(),
  () => faker.git.commitSha({ length: 7 }),
  () => faker.internet.mac(),
  () => `978-${faker.number.int(9)}-${digits(2)}-${digits(6)}-${faker.number.int(9)}`,
  () => `#${digits(faker.number.int({ min: 5, max: 9 }))}`,
  () => `$${faker.commerce.price({ min: 100, max: 99999 })}`,
  () => faker.location.zipCode(),
  () => faker.color.rgb(),
  () => `${pick(["000", "666", "912"])}-${digits(2)}-${digits(4)}`,
  () => `${digits(3)}-00-${digits(4)}`,
  () => "********",
  () => `@${faker.internet.username()}`,
  () => faker.system.filePath(),
  () => faker.internet.url(),
  () => `sk-${alnum(8)}`,
  () => `AKIA${alnum(8)}`,
  () => faker.string.hexadecimal({ length: 32, prefix: "" }),
  () => faker.string.alphanumeric(24),
  () => `${faker.number.int({ min: 1, max: 99 })}%`,
  () => `${faker.number.float({ min: 0, max: 1000, fractionDigits: 3 })}`,
  () => `v${faker.system.semver()}`,
  () => faker.phone.imei(),
];

const NEGATIVE_TEMPLATES: ReadonlyArray<(x: string) => string> = [
  (x) => `Order ${x} has shipped.`,
  (x) => `Release ${x} fixes the crash on start-up.`,
  (x) => `See build ${x} for details. ${filler()}`,
  (x) => `The value was ${x} when the test failed.`,
  (x) => `Reference: ${x}`,
  (x) => `${filler()} (${x})`,
  (x) => `ticket ${x} is still open`,
  (x) => `The password field shows ${x} on the form.`,
  (x) => `commit ${x}: bump dependencies`,
];

export function negatives(count: number): Sample[] {
  const samples: Sample[] = [];
  for (let i = 0; i < count; i++) samples.push({ text: pick(NEGATIVE_TEMPLATES)(pick(NEGATIVE_VALUES)()), labels: [] });
  return samples;
}
