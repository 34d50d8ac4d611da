/** Reply text filters (worker/data/reply-filter.ts): output scanning with bounded look-back, and detokenizing. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  BLOCK,
  createReplyFilter,
  DEFAULT_CLEARANCE,
  replyClearance,
  replyFilters,
  WINDOW,
  type FilterStep,
  type OutputFinding,
  type ReplyClearance,
  type ReplyFilterOptions,
} from "../../../worker/data/reply-filter.ts";
import { TokenVault } from "../../../worker/data/tokens.ts";
import { parseObligations } from "../../../worker/policy/index.ts";
import { fakeDetect } from "./fake-detector.ts";

const KEY = "AKIAIOSFODNN7EXAMPLE";
const EMAIL = "jane.doe@example.com";
const NONCE = "0a1b2c3d";

interface Run {
  text: string;
  stopped: string | undefined;
  steps: FilterStep[];
}

function feed(deltas: readonly string[], options: Partial<ReplyFilterOptions> = {}): Run {
  const filter = createReplyFilter({ clearance: DEFAULT_CLEARANCE, detect: fakeDetect, ...options });
  const steps = [...deltas.map((d) => filter.push(d)), filter.end()];
  return { text: steps.map((s) => s.text).join(""), stopped: steps.find((s) => s.stop)?.stop?.code, steps };
}

/** `text` cut at the given positions. */
function split(text: string, cuts: readonly number[]): string[] {
  const points = [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((a, b) => a - b);
  const parts: string[] = [];
  let from = 0;
  for (const p of points) {
    parts.push(text.slice(from, p));
    from = p;
  }
  parts.push(text.slice(from));
  return parts;
}

const clearance = (annotation: string): ReplyClearance => replyClearance(parseObligations(annotation, "test"));

describe("output scanning", () => {
  it("redacts a secret in a whole reply by default (secrets never reach a caller)", () => {
    expect(feed([`the key is ${KEY}.`])).toMatchObject({ text: "the key is [REDACTED:SECRET_AWS_ACCESS_KEY].", stopped: undefined });
  });

  it("catches a secret split across chunks, at every split point", () => {
    const reply = `${"lorem ipsum ".repeat(30)}here: ${KEY} and more ${"dolor ".repeat(60)}`;
    const expected = reply.replace(KEY, "[REDACTED:SECRET_AWS_ACCESS_KEY]");
    const start = reply.indexOf(KEY);
    for (let cut = start - 2; cut <= start + KEY.length + 2; cut++) {
      const run = feed([reply.slice(0, cut), reply.slice(cut)]);
      expect(run.text, `cut at ${cut}`).toBe(expected);
    }
    // One character a delta, the way a slow stream might arrive.
    expect(feed([...reply]).text).toBe(expected);
  });

  it("never forwards a prefix of a secret before it is known whole", () => {
    const reply = `${"x ".repeat(200)}${KEY} ${"y ".repeat(200)}`;
    const start = reply.indexOf(KEY);
    const filter = createReplyFilter({ clearance: DEFAULT_CLEARANCE, detect: fakeDetect });
    let out = "";
    for (const ch of reply) {
      out += filter.push(ch).text;
      expect(out.includes("AKIA")).toBe(false);
      if (out.length > start) break;
    }
  });

  it("holds back at most BLOCK + WINDOW − 1 characters, and releases everything at the end", () => {
    const filter = createReplyFilter({ clearance: DEFAULT_CLEARANCE, detect: fakeDetect });
    let received = 0;
    let released = 0;
    for (let i = 0; i < 200; i++) {
      const delta = `word${i} `.repeat(7);
      received += delta.length;
      released += filter.push(delta).text.length;
      expect(received - released).toBeLessThan(BLOCK + WINDOW);
    }
    released += filter.end().text.length;
    expect(released).toBe(received);
  });

  it("a secret longer than the window is redacted to its end", () => {
    const long = `sk-${"A1b2C3d4".repeat(100)}`;
    const reply = `start ${long} end of reply`;
    for (const deltas of [[reply], split(reply, [10, 300, 500, 700]), [...reply]]) {
      const run = feed(deltas);
      expect(run.text).toBe("start [REDACTED:SECRET_OPENAI_API_KEY] end of reply");
    }
  });

  it("stops the reply where policy says stop: text before the finding goes out, then nothing", () => {
    const reply = `${"a ".repeat(100)}key ${KEY} and ${"b ".repeat(300)}`;
    const run = feed(split(reply, [150, 210, 400]), { clearance: clearance("reply:stop=SECRET") });
    expect(run.stopped).toBe("output_withheld");
    expect(run.text).toBe(reply.slice(0, reply.indexOf(KEY)));
    const stopAt = run.steps.findIndex((s) => s.stop);
    for (const later of run.steps.slice(stopAt + 1)) expect(later).toMatchObject({ text: "", stop: { code: "output_withheld" } });
  });

  it("policy adds categories: reply:redact=PII redacts emails; stop wins over redact for the same category", () => {
    expect(feed([`mail ${EMAIL} now`], { clearance: clearance("reply:redact=PII") }).text).toBe("mail [REDACTED:EMAIL_ADDRESS] now");
    expect(feed([`mail ${EMAIL} now`]).text).toBe(`mail ${EMAIL} now`);
    expect(feed([`mail ${EMAIL} now`], { clearance: clearance("reply:redact=PII; reply:stop=EMAIL_ADDRESS") }).stopped).toBe("output_withheld");
  });

  it("reports every finding acted on (type, category, action), never the value", () => {
    const findings: OutputFinding[] = [];
    feed([`${KEY} and ${KEY}`], { onFinding: (f) => findings.push(f) });
    expect(findings).toEqual([
      { type: "SECRET_AWS_ACCESS_KEY", category: "secret", action: "redact" },
      { type: "SECRET_AWS_ACCESS_KEY", category: "secret", action: "redact" },
    ]);
  });
});

describe("detokenizing", () => {
  const vault = new TokenVault(NONCE);
  const placeholder = vault.placeholder("EMAIL_ADDRESS", EMAIL);
  const other = vault.placeholder("US_SSN", "123-45-6789");

  it("restores placeholders split at every position", () => {
    const reply = `Dear ${placeholder}, your SSN ${other} is on file.`;
    const expected = `Dear ${EMAIL}, your SSN 123-45-6789 is on file.`;
    for (let cut = 0; cut <= reply.length; cut++) {
      expect(feed([reply.slice(0, cut), reply.slice(cut)], { tokens: vault }).text, `cut at ${cut}`).toBe(expected);
    }
    expect(feed([...reply], { tokens: vault }).text).toBe(expected);
  });

  it("leaves unknown and broken placeholders as they are", () => {
    const foreign = "⟦EMAIL_ADDRESS_1:ffffffff⟧";
    const reply = `${foreign} ⟦EMAIL_ADDRESS_1:${NONCE} ⟦`;
    expect(feed([...reply], { tokens: vault }).text).toBe(reply);
  });

  it("restores after scanning: the caller's own value is not taken for a finding, a leaked secret still is", () => {
    const findings: OutputFinding[] = [];
    const run = feed([`to ${placeholder} key ${KEY}`], { tokens: vault, clearance: clearance("reply:redact=PII"), onFinding: (f) => findings.push(f) });
    expect(run.text).toBe(`to ${EMAIL} key [REDACTED:SECRET_AWS_ACCESS_KEY]`);
    expect(findings.map((f) => f.type)).toEqual(["SECRET_AWS_ACCESS_KEY"]);
  });
});

describe("the per-request factory", () => {
  it("gives one filter per content block and sums their findings and restorations", () => {
    const vault = new TokenVault(NONCE);
    const placeholder = vault.placeholder("EMAIL_ADDRESS", EMAIL);
    const seen: OutputFinding[] = [];
    const filters = replyFilters({ clearance: clearance("reply:stop=CREDIT_CARD"), tokens: vault, detect: fakeDetect, onFinding: (f) => seen.push(f) });
    const a = filters();
    const b = filters();
    expect(a.push(`hi ${placeholder} ${KEY}`).text + a.end().text).toBe(`hi ${EMAIL} [REDACTED:SECRET_AWS_ACCESS_KEY]`);
    const stopped = b.push("card 4111 1111 1111 1111");
    expect(b.end()).toMatchObject({ stop: { code: "output_withheld" } });
    expect(stopped.text).toBe("");
    expect(filters.summary()).toEqual({ redact: { SECRET_AWS_ACCESS_KEY: 1 }, stop: { CREDIT_CARD: 1 }, restored: 1 });
    expect(seen).toHaveLength(2);
  });
});

describe("property: for any split into deltas, the output is the unsplit reply's", () => {
  const vault = new TokenVault(NONCE);
  const fragments = [
    KEY,
    EMAIL,
    "4111 1111 1111 1111",
    `sk-${"Zz9".repeat(120)}`,
    vault.placeholder("EMAIL_ADDRESS", EMAIL),
    vault.placeholder("CREDIT_CARD", "4111 1111 1111 1111"),
    "⟦",
    "⟧",
    " ",
    "\n",
    "AKIA",
    "@",
  ];
  const reply = fc
    .array(
      fc.oneof(
        fc.constantFrom(...fragments),
        fc.string({ maxLength: 40 }),
        fc.string({ unit: "grapheme", maxLength: 8 }),
        // Long stretches, so that replies span many blocks and windows.
        fc.integer({ min: 1, max: 80 }).map((n) => "lorem ".repeat(n)),
        fc.integer({ min: 1, max: 400 }).map((n) => "Q".repeat(n)),
      ),
      { maxLength: 40 },
    )
    .map((parts) => parts.join(""));
  const options: Array<Partial<ReplyFilterOptions>> = [
    {},
    { tokens: vault },
    { tokens: vault, clearance: clearance("reply:redact=PII") },
    { tokens: vault, clearance: clearance("reply:stop=SECRET; reply:redact=PCI") },
  ];

  it("holds for text, stop and findings", () => {
    fc.assert(
      fc.property(reply, fc.array(fc.nat(), { maxLength: 12 }), fc.constantFrom(...options), (text, cuts, opts) => {
        const whole: OutputFinding[] = [];
        const parts: OutputFinding[] = [];
        const unsplit = feed([text], { ...opts, onFinding: (f) => whole.push(f) });
        const pieces = feed(split(text, cuts), { ...opts, onFinding: (f) => parts.push(f) });
        expect(pieces.text).toBe(unsplit.text);
        expect(pieces.stopped).toBe(unsplit.stopped);
        expect(parts).toEqual(whole);
      }),
      { numRuns: 400 },
    );
  });

  it("and no default-cleared secret survives in the output", () => {
    fc.assert(
      fc.property(reply, fc.array(fc.nat(), { maxLength: 12 }), (text, cuts) => {
        const out = feed(split(text, cuts)).text;
        expect(fakeDetect(out).filter((s) => s.category === "secret")).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });
});
