/**
 * The data plane's other obligations through the whole Worker, each under a policy variant published
 * for the describe block: `tokenize:PII` (the backend sees placeholders, the caller gets the original
 * values back, whole and streamed, both wire formats), `mask:PII`, and reply scanning
 * (`reply:redact=EMAIL_ADDRESS; reply:stop=PHONE_NUMBER`: the model's output is redacted or stopped).
 */
import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { receivedWith } from "../support/gateway.ts";
import { seedKv } from "../support/seed.ts";
import { tokenFor } from "../support/tokens.ts";
import { EMAIL, marker, OTHER_EMAIL, post, recordsOf, replyText, streamError } from "./data-support.ts";

let alice: string;
let bob: string;
let carol: string;

beforeAll(async () => {
  [alice, bob, carol] = await Promise.all([tokenFor("alice"), tokenFor("bob"), tokenFor("carol")]);
});

/** Publishes the seeded world with the PII-on-public obligation replaced, and optionally one more policy file. */
async function publish(obligation: string, extra?: string): Promise<void> {
  await seedKv(env.CONFIG, (files) => {
    const models = files.policies["models.cedar"]!;
    expect(models).toContain('@obligation("redact:PII")');
    files.policies["models.cedar"] = models.replace('@obligation("redact:PII")', `@obligation("${obligation}")`);
    if (extra) files.policies["zz-test.cedar"] = extra;
  });
}

const PLACEHOLDER = /⟦EMAIL_ADDRESS_(\d+):([0-9a-f]{8})⟧/g;

describe("tokenize:PII", () => {
  beforeAll(() => publish("tokenize:PII"));

  it("whole reply: eu-public sees placeholders (same value, same placeholder); the caller gets the values back", async () => {
    const m = marker();
    const prompt = `#echo to ${EMAIL} and ${OTHER_EMAIL}, again ${EMAIL} ${m}`;
    const response = await post("/v1/chat/completions", { model: "gpt-4o-mini", messages: [{ role: "user", content: prompt }] }, alice);
    expect(response.status).toBe(200);
    const sent = ((await receivedWith("eu-public", m))!.body as { messages: Array<{ content: string }> }).messages[0]!.content;
    expect(sent).not.toContain(EMAIL);
    expect(sent).not.toContain(OTHER_EMAIL);
    const placeholders = [...sent.matchAll(PLACEHOLDER)];
    expect(placeholders.map((p) => p[1])).toEqual(["1", "2", "1"]);
    expect(new Set(placeholders.map((p) => p[2])).size).toBe(1);
    expect(sent).toBe(`#echo to ${placeholders[0]![0]} and ${placeholders[1]![0]}, again ${placeholders[0]![0]} ${m}`);

    const echoed = JSON.parse(await replyText(response)) as { messages: Array<{ content: string }> };
    expect(echoed.messages[0]!.content).toBe(prompt);

    const records = await recordsOf("acme", response, ["decision", "completion"]);
    expect(records.find((r) => r.type === "decision")).toMatchObject({ decision: "allow", transforms: { tokenize: { EMAIL_ADDRESS: 3 } } });
    expect(records.find((r) => r.type === "completion")).toMatchObject({ output: { restored: 3 } });
    expect(JSON.stringify(records)).not.toContain(EMAIL);
  });

  it("streamed: placeholders split across deltas are restored; no placeholder reaches the caller", async () => {
    const m = marker();
    const prompt = `#echo to ${EMAIL} and ${OTHER_EMAIL} ${m}`;
    const response = await post("/v1/chat/completions", { model: "gpt-4o-mini", stream: true, messages: [{ role: "user", content: prompt }] }, alice);
    expect(response.status).toBe(200);
    const raw = await response.clone().text();
    expect(raw).not.toContain("⟦");
    expect((JSON.parse(await replyText(response)) as { messages: Array<{ content: string }> }).messages[0]!.content).toBe(prompt);
    expect(((await receivedWith("eu-public", m))!.body as { messages: Array<{ content: string }> }).messages[0]!.content).not.toContain(EMAIL);
  });

  it("Anthropic, streamed: carol's values are tokenized for us-public and restored for her", async () => {
    const m = marker();
    const prompt = `#echo write to ${EMAIL} ${m}`;
    const response = await post("/v1/messages", { model: "claude-haiku-4-5", max_tokens: 512, stream: true, messages: [{ role: "user", content: prompt }] }, carol);
    expect(response.status).toBe(200);
    const sent = JSON.stringify((await receivedWith("us-public", m))!.body);
    expect(sent).not.toContain(EMAIL);
    expect(sent).toMatch(PLACEHOLDER);
    expect((JSON.parse(await replyText(response)) as { messages: Array<{ content: string }> }).messages[0]!.content).toBe(prompt);
  });

  describe("tool calls the model proposes with placeholders", () => {
    const TOOLS = [{ type: "function", function: { name: "send_email", parameters: { type: "object" } } }];
    const callTo = (to: string, m: string) => `#tool:send_email {"to":"${to}","subject":"hi","body":"${m}"}`;

    it("are decided on, and reach the caller with, the values they stand for", async () => {
      const m = marker();
      const response = await post("/v1/chat/completions", { model: "gpt-4o-mini", tools: TOOLS, messages: [{ role: "user", content: callTo("carol@acme.example", m) }] }, bob);
      expect(response.status).toBe(200);
      expect(JSON.stringify((await receivedWith("eu-public", m))!.body)).not.toContain("carol@acme.example");
      const reply = (await response.json()) as { choices: Array<{ message: { tool_calls: Array<{ function: { name: string; arguments: string } }> } }> };
      expect(JSON.parse(reply.choices[0]!.message.tool_calls[0]!.function.arguments)).toEqual({ to: "carol@acme.example", subject: "hi", body: m });
      expect((await recordsOf("acme", response, ["decision", "completion"])).find((r) => r.action === "call_tool")).toMatchObject({ decision: "allow" });
    });

    it("a tokenized recipient outside the tenant's domain meets the recipient policy as the address it is", async () => {
      const m = marker();
      const response = await post("/v1/chat/completions", { model: "gpt-4o-mini", stream: true, tools: TOOLS, messages: [{ role: "user", content: callTo("eve@evil.example", m) }] }, bob);
      expect(response.status).toBe(200);
      expect(JSON.stringify((await receivedWith("eu-public", m))!.body)).not.toContain("eve@evil.example");
      const raw = await response.text();
      expect(raw).toContain("refused (policy_denied)");
      expect(raw).not.toContain("⟦");
      const call = (await recordsOf("acme", response, ["decision", "completion"])).find((r) => r.action === "call_tool");
      expect(call).toMatchObject({ decision: "deny", reasons: ["tool.email-own-domain"], principal: { id: "bob" } });
    });
  });

  it("each request has its own placeholders' nonce", async () => {
    const nonces: string[] = [];
    for (let i = 0; i < 2; i++) {
      const m = marker();
      await (await post("/v1/chat/completions", { model: "gpt-4o-mini", messages: [{ role: "user", content: `to ${EMAIL} ${m}` }] }, alice)).text();
      nonces.push([...JSON.stringify((await receivedWith("eu-public", m))!.body).matchAll(PLACEHOLDER)][0]![2]!);
    }
    expect(nonces[0]).not.toBe(nonces[1]);
  });
});

describe("mask:PII", () => {
  beforeAll(() => publish("mask:PII"));

  it("eu-public sees masked values: a phone number keeps its last four digits, an address its first letter and TLD", async () => {
    const m = marker();
    const response = await post("/v1/chat/completions", { model: "gpt-4o-mini", messages: [{ role: "user", content: `call +44 20 7946 0958 or ${EMAIL} ${m}` }] }, alice);
    expect(response.status).toBe(200);
    const sent = ((await receivedWith("eu-public", m))!.body as { messages: Array<{ content: string }> }).messages[0]!.content;
    expect(sent).toBe(`call +** ** **** 0958 or j***@***.com ${m}`);
    const [decision] = await recordsOf("acme", response);
    expect(decision).toMatchObject({ transforms: { mask: { PHONE_NUMBER: 1, EMAIL_ADDRESS: 1 } } });
  });
});

describe("reply scanning by obligation (reply:redact=EMAIL_ADDRESS; reply:stop=PHONE_NUMBER)", () => {
  // Labelled confidential, alice's requests go to eu-confidential, which sees her prompt unredacted, so
  // the mock can be made to "leak" data in its answer (#say:).
  const CONFIDENTIAL = { "x-verity-classification": "confidential" };
  beforeAll(() =>
    publish(
      "redact:PII",
      `@id("test.reply-scanning")
@obligation("reply:redact=EMAIL_ADDRESS; reply:stop=PHONE_NUMBER")
permit (principal, action == Action::"invoke_model", resource is Backend)
when { resource.region == principal.tenant.residency };
`,
    ),
  );

  for (const stream of [false, true]) {
    it(`redacts an address in the model's ${stream ? "streamed" : "whole"} answer, and records the finding`, async () => {
      const response = await post("/v1/chat/completions", { model: "gpt-4o-mini", stream, messages: [{ role: "user", content: `#say:please mail ${EMAIL} soon` }] }, alice, CONFIDENTIAL);
      expect(response.status).toBe(200);
      expect(await replyText(response)).toBe("please mail [REDACTED:EMAIL_ADDRESS] soon");
      const records = await recordsOf("acme", response, ["decision", "completion"]);
      expect(records.find((r) => r.type === "decision")).toMatchObject({ resource: { id: "eu-confidential" } });
      expect(records.find((r) => r.type === "completion")).toMatchObject({ output: { redact: { EMAIL_ADDRESS: 1 } } });
    });
  }

  it("stops a whole answer that carries a phone number: 502 output_withheld, recorded", async () => {
    const response = await post("/v1/chat/completions", { model: "gpt-4o-mini", messages: [{ role: "user", content: "#say:call me at +44 20 7946 0958 now" }] }, alice, CONFIDENTIAL);
    expect(response.status).toBe(502);
    const body = (await response.json()) as { error: { code: string } };
    expect(body.error.code).toBe("output_withheld");
    expect(JSON.stringify(body)).not.toContain("7946");
    const records = await recordsOf("acme", response, ["decision", "completion"]);
    expect(records.find((r) => r.type === "completion")).toMatchObject({ error: "output_withheld", output: { stop: { PHONE_NUMBER: 1 } } });
  });

  it("ends a streamed answer cleanly before the phone number, with the provider's error event (Anthropic too)", async () => {
    const openai = await post("/v1/chat/completions", { model: "gpt-4o-mini", stream: true, messages: [{ role: "user", content: "#say:call me at +44 20 7946 0958 now" }] }, alice, CONFIDENTIAL);
    const raw = await openai.clone().text();
    expect(raw).not.toContain("7946");
    expect(streamError(raw)).toMatchObject({ code: "output_withheld" });
    expect(await replyText(openai)).toBe("call me at ");

    const anthropic = await post(
      "/v1/messages",
      { model: "claude-sonnet-4-5", max_tokens: 256, stream: true, messages: [{ role: "user", content: "#say:call me at +44 20 7946 0958 now" }] },
      alice,
      CONFIDENTIAL,
    );
    const events = await anthropic.text();
    expect(events).not.toContain("7946");
    expect(events).toContain("event: error");
  });
});
