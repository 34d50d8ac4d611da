/** Request transforms by obligation (worker/data/transform.ts) on both wire formats, and the token vault. */
import { describe, expect, it } from "vitest";
import { TokenVault } from "../../../worker/data/tokens.ts";
import { knownCategory, masked, transformRequest, transformRules, transformText, type TransformCounts, type TransformRule } from "../../../worker/data/transform.ts";
import { parseObligations } from "../../../worker/policy/index.ts";
import { PROVIDERS } from "../../../worker/providers/index.ts";
import { FAKE_TYPES, fakeDetect } from "./fake-detector.ts";

const NONCE = "0a1b2c3d";
const EMAIL = "jane.doe@example.com";
const CARD = "4111 1111 1111 1111";
const rules = (annotation: string): TransformRule[] => transformRules(parseObligations(annotation, "test"));

function run(text: string, annotation: string, vault = new TokenVault(NONCE)) {
  const counts: TransformCounts = {};
  return { text: transformText(text, fakeDetect(text), rules(annotation), vault, counts), counts, vault };
}

describe("obligation grammar: mask, tokenize, reply", () => {
  it("parses the new kinds", () => {
    expect(parseObligations("mask:PCI; tokenize:EMAIL_ADDRESS; reply:stop=SECRET; reply:redact=PII", "p")).toEqual([
      { kind: "mask", category: "PCI" },
      { kind: "tokenize", category: "EMAIL_ADDRESS" },
      { kind: "reply", action: "stop", category: "SECRET" },
      { kind: "reply", action: "redact", category: "PII" },
    ]);
  });
  it("refuses malformed items", () => {
    for (const bad of ["mask:", "mask:pii", "tokenize:", "reply:SECRET", "reply:drop=SECRET", "reply:stop=", "reply:stop=secret"]) {
      expect(() => parseObligations(bad, "p"), bad).toThrow(/bad @obligation/);
    }
  });
  it("knows the category groups and the classifier's types, nothing else", () => {
    for (const category of ["PII", "PCI", "PHI", "SECRET", "CUSTOM", "EMAIL_ADDRESS"]) expect(knownCategory(category, FAKE_TYPES), category).toBe(true);
    expect(knownCategory("NOT_A_TYPE", FAKE_TYPES)).toBe(false);
  });
});

describe("transforms of one text", () => {
  it("redacts by category and by type, counting per type", () => {
    const out = run(`mail ${EMAIL} or ${EMAIL}, ssn 123-45-6789`, "redact:PII");
    expect(out.text).toBe("mail [REDACTED:EMAIL_ADDRESS] or [REDACTED:EMAIL_ADDRESS], ssn [REDACTED:US_SSN]");
    expect(out.counts).toEqual({ redact: { EMAIL_ADDRESS: 2, US_SSN: 1 } });
    expect(run(`mail ${EMAIL}, ssn 123-45-6789`, "redact:US_SSN").text).toBe(`mail ${EMAIL}, ssn [REDACTED:US_SSN]`);
  });

  it("masks: cards keep their last four, emails their first letter and TLD, secrets nothing", () => {
    expect(run(`card ${CARD}`, "mask:PCI").text).toBe("card **** **** **** 1111");
    expect(run("card 4111-1111-1111-1111", "mask:CREDIT_CARD").text).toBe("card ****-****-****-1111");
    expect(run(`to ${EMAIL}`, "mask:EMAIL_ADDRESS").text).toBe("to j***@***.com");
    expect(run("ssn 123-45-6789", "mask:PII").text).toBe("ssn ***-**-6789");
    expect(masked({ type: "SECRET_AWS_ACCESS_KEY", category: "secret" }, "AKIAIOSFODNN7EXAMPLE")).toBe("****");
    expect(masked({ type: "PERSON", category: "pii" }, "Jane")).toBe("****");
  });

  it("tokenizes: same value → same placeholder, a new number per new value, nonce in each", () => {
    const out = run(`${EMAIL}, a@b.io and ${EMAIL}`, "tokenize:PII");
    expect(out.text).toBe(`⟦EMAIL_ADDRESS_1:${NONCE}⟧, ⟦EMAIL_ADDRESS_2:${NONCE}⟧ and ⟦EMAIL_ADDRESS_1:${NONCE}⟧`);
    expect(out.counts).toEqual({ tokenize: { EMAIL_ADDRESS: 3 } });
    expect(out.vault.size).toBe(2);
    expect(out.vault.restore(out.text)).toEqual({ text: `${EMAIL}, a@b.io and ${EMAIL}`, restored: 3 });
  });

  it("the strongest obligation wins where several match: redact > tokenize > mask", () => {
    expect(run(`to ${EMAIL}`, "mask:PII; tokenize:EMAIL_ADDRESS").text).toBe(`to ⟦EMAIL_ADDRESS_1:${NONCE}⟧`);
    expect(run(`to ${EMAIL}`, "tokenize:PII; redact:EMAIL_ADDRESS; mask:PII").text).toBe("to [REDACTED:EMAIL_ADDRESS]");
  });

  it("leaves text without findings of an obligated category as it is", () => {
    const text = `card ${CARD}, no email here`;
    expect(run(text, "redact:PII")).toMatchObject({ text, counts: {} });
  });

  it("a vault's nonce is random per request and placeholders of another vault are not restored", () => {
    const a = new TokenVault();
    const b = new TokenVault();
    expect(a.nonce).toMatch(/^[0-9a-f]{8}$/);
    expect(a.nonce).not.toBe(b.nonce);
    const placeholder = a.placeholder("EMAIL_ADDRESS", EMAIL);
    b.placeholder("EMAIL_ADDRESS", "other@example.com");
    expect(b.restore(`x ${placeholder}`)).toEqual({ text: `x ${placeholder}`, restored: 0 });
    expect(() => new TokenVault("not-hex!")).toThrow(TypeError);
  });
});

describe("transformRequest on the OpenAI wire format", () => {
  const body = {
    model: "gpt-4o-mini",
    temperature: 0.2,
    messages: [
      { role: "system", content: `Reply to ${EMAIL}.` },
      { role: "user", content: [{ type: "text", text: `My card is ${CARD}` }, { type: "image_url", image_url: { url: "https://x/y.png" } }] },
      {
        role: "assistant",
        content: null,
        tool_calls: [{ id: "call_1", type: "function", function: { name: "send_email", arguments: JSON.stringify({ to: EMAIL, n: 4111111111111111 }) } }],
      },
      { role: "tool", tool_call_id: "call_1", content: `sent to ${EMAIL}` },
    ],
  };

  it("rewrites every classified text, keeps the rest, never mutates the caller's body", () => {
    const before = JSON.stringify(body);
    const out = transformRequest(PROVIDERS.openai, body, rules("redact:PII; mask:PCI"), new TokenVault(NONCE), fakeDetect, []);
    expect(JSON.stringify(body)).toBe(before);
    const sent = out.body as typeof body;
    expect(sent.temperature).toBe(0.2);
    expect(sent.messages[0]!.content).toBe("Reply to [REDACTED:EMAIL_ADDRESS].");
    expect(sent.messages[1]!.content).toEqual([{ type: "text", text: "My card is **** **** **** 1111" }, body.messages[1]!.content![1]]);
    const call = (sent.messages[2] as { tool_calls: Array<{ function: { arguments: string } }> }).tool_calls[0]!;
    expect(JSON.parse(call.function.arguments)).toEqual({ to: "[REDACTED:EMAIL_ADDRESS]", n: "************1111" });
    expect(sent.messages[3]!.content).toBe("sent to [REDACTED:EMAIL_ADDRESS]");
    expect(out.applied).toEqual({ redact: { EMAIL_ADDRESS: 3 }, mask: { CREDIT_CARD: 2 } });
    expect(out.survivors).toEqual({});
    expect(JSON.stringify(out.body)).not.toContain(EMAIL);
  });

  it("tool-call arguments without findings stay byte for byte", () => {
    const args = '{ "q" : "weather" }';
    const plain = { model: "m", messages: [{ role: "assistant", tool_calls: [{ id: "c", type: "function", function: { name: "f", arguments: args } }] }, { role: "user", content: EMAIL }] };
    const out = transformRequest(PROVIDERS.openai, plain, rules("redact:PII"), new TokenVault(NONCE), fakeDetect, []);
    expect((out.body.messages as Array<{ tool_calls?: Array<{ function: { arguments: string } }> }>)[0]!.tool_calls![0]!.function.arguments).toBe(args);
  });

  it("no rules: the very same body", () => {
    expect(transformRequest(PROVIDERS.openai, body, [], new TokenVault(NONCE), fakeDetect, []).body).toBe(body);
  });
});

describe("transformRequest on the Anthropic wire format", () => {
  it("rewrites the system prompt (string or blocks), text blocks, tool results and tool inputs", () => {
    const body = {
      model: "claude-haiku-4-5",
      max_tokens: 100,
      system: [{ type: "text", text: `Operator: ${EMAIL}` }],
      messages: [
        { role: "user", content: `write to ${EMAIL}` },
        { role: "assistant", content: [{ type: "tool_use", id: "t1", name: "send_email", input: { to: EMAIL, cc: ["x@y.org"] } }] },
        { role: "user", content: [{ type: "tool_result", tool_use_id: "t1", content: [{ type: "text", text: `ok ${EMAIL}` }] }] },
      ],
    };
    const vault = new TokenVault(NONCE);
    const out = transformRequest(PROVIDERS.anthropic, body, rules("tokenize:EMAIL_ADDRESS"), vault, fakeDetect, []);
    const p1 = `⟦EMAIL_ADDRESS_1:${NONCE}⟧`;
    expect(out.body).toEqual({
      ...body,
      system: [{ type: "text", text: `Operator: ${p1}` }],
      messages: [
        { role: "user", content: `write to ${p1}` },
        { role: "assistant", content: [{ type: "tool_use", id: "t1", name: "send_email", input: { to: p1, cc: [`⟦EMAIL_ADDRESS_2:${NONCE}⟧`] } }] },
        { role: "user", content: [{ type: "tool_result", tool_use_id: "t1", content: [{ type: "text", text: `ok ${p1}` }] }] },
      ],
    });
    expect(out.applied).toEqual({ tokenize: { EMAIL_ADDRESS: 5 } });
    expect(vault.restore(JSON.stringify(out.body)).text).toBe(JSON.stringify(body));
  });

  it("a system prompt given as a string is rewritten as a string", () => {
    const body = { model: "m", max_tokens: 1, system: `be nice to ${EMAIL}`, messages: [{ role: "user", content: "hi" }] };
    expect(transformRequest(PROVIDERS.anthropic, body, rules("redact:PII"), new TokenVault(NONCE), fakeDetect, []).body.system).toBe("be nice to [REDACTED:EMAIL_ADDRESS]");
  });

  it("defence in depth: a finding the transform cannot reach (a JSON key) is reported as a survivor", () => {
    const body = {
      model: "m",
      max_tokens: 1,
      messages: [{ role: "assistant", content: [{ type: "tool_use", id: "t", name: "f", input: { [EMAIL]: true } }] }, { role: "user", content: "hi" }],
    };
    const out = transformRequest(PROVIDERS.anthropic, body, rules("redact:PII"), new TokenVault(NONCE), fakeDetect, []);
    expect(out.survivors).toEqual({ EMAIL_ADDRESS: 1 });
  });
});

describe("defence in depth: secrets policy never saw", () => {
  const KEY = "AKIAIOSFODNN7EXAMPLE";
  it("a secret in a field the classifier does not read (metadata, a message name, a key) is a survivor, even without rules", () => {
    for (const body of [
      { model: "m", metadata: { note: KEY }, messages: [{ role: "user", content: "hi" }] },
      { model: "m", messages: [{ role: "user", name: KEY, content: "hi" }] },
      { model: "m", messages: [{ role: "user", content: "hi" }], tools: [{ type: "function", function: { name: "f", parameters: { [KEY]: {} } } }] },
    ]) {
      const out = transformRequest(PROVIDERS.openai, body, [], new TokenVault(NONCE), fakeDetect, []);
      expect(out.survivors, JSON.stringify(body)).toEqual({ SECRET_AWS_ACCESS_KEY: 1 });
    }
  });
  it("unless policy saw secrets in this request and allowed them", () => {
    const body = { model: "m", metadata: { note: KEY }, messages: [{ role: "user", content: "hi" }] };
    expect(transformRequest(PROVIDERS.openai, body, [], new TokenVault(NONCE), fakeDetect, ["secret"]).survivors).toEqual({});
  });
});
