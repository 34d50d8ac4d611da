/**
 * Transform by obligation through the whole Worker, with the seeded policies (model.pii-redacted-on-public:
 * `redact:PII` on a public-tier backend). The mock backends' `#echo` and request log show exactly what
 * left the gateway: the redacted values are absent from every text, and the decision record counts what
 * was done (never the values). The defence-in-depth re-check refuses what a transform could not reach.
 */
import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { receivedWith } from "../support/gateway.ts";
import { seedKv } from "../support/seed.ts";
import { tokenFor } from "../support/tokens.ts";
import { EMAIL, marker, OTHER_EMAIL, post, recordsOf, replyText } from "./data-support.ts";

let alice: string;
let carol: string;

beforeAll(async () => {
  await seedKv(env.CONFIG);
  [alice, carol] = await Promise.all([tokenFor("alice"), tokenFor("carol")]);
});

describe("redact:PII on a public backend (seeded policy)", () => {
  it("OpenAI: alice's addresses reach eu-public redacted in every text; the caller sees the same echo; the decision counts", async () => {
    const m = marker();
    const body = {
      model: "gpt-4o-mini",
      messages: [
        { role: "system", content: `Sign as ${OTHER_EMAIL}.` },
        { role: "user", content: [{ type: "text", text: `#echo write to ${EMAIL} about ${m}` }] },
      ],
    };
    const response = await post("/v1/chat/completions", body, alice);
    expect(response.status).toBe(200);
    const received = await receivedWith("eu-public", m);
    expect(received).toBeDefined();
    const sent = received!.body as typeof body;
    expect(JSON.stringify(sent)).not.toContain(EMAIL);
    expect(JSON.stringify(sent)).not.toContain(OTHER_EMAIL);
    expect(sent.messages[0]!.content).toBe("Sign as [REDACTED:EMAIL_ADDRESS].");
    expect(sent.messages[1]!.content).toEqual([{ type: "text", text: `#echo write to [REDACTED:EMAIL_ADDRESS] about ${m}` }]);
    expect(JSON.parse(await replyText(response))).toEqual(sent);

    const [decision] = await recordsOf("acme", response);
    expect(decision).toMatchObject({
      decision: "allow",
      resource: { id: "eu-public" },
      obligations: [{ kind: "redact", category: "PII" }],
      transforms: { redact: { EMAIL_ADDRESS: 2 } },
    });
    expect(JSON.stringify(decision)).not.toContain(EMAIL);
  });

  it("OpenAI, streamed: what left is redacted, and so is the streamed echo", async () => {
    const m = marker();
    const response = await post("/v1/chat/completions", { model: "gpt-4o-mini", stream: true, messages: [{ role: "user", content: `#echo to ${EMAIL} ${m}` }] }, alice);
    expect(response.status).toBe(200);
    const echoed = JSON.parse(await replyText(response)) as { messages: Array<{ content: string }> };
    expect(echoed.messages[0]!.content).toBe(`#echo to [REDACTED:EMAIL_ADDRESS] ${m}`);
    expect(JSON.stringify((await receivedWith("eu-public", m))!.body)).not.toContain(EMAIL);
  });

  it("Anthropic: carol's (globex, US) system prompt and text blocks reach us-public redacted", async () => {
    const m = marker();
    const body = {
      model: "claude-haiku-4-5",
      max_tokens: 256,
      system: [{ type: "text", text: `Operator contact: ${OTHER_EMAIL}` }],
      messages: [{ role: "user", content: [{ type: "text", text: `#echo mail ${EMAIL} re ${m}` }] }],
    };
    const response = await post("/v1/messages", body, carol);
    expect(response.status).toBe(200);
    const sent = (await receivedWith("us-public", m))!.body as typeof body;
    expect(sent.system).toEqual([{ type: "text", text: "Operator contact: [REDACTED:EMAIL_ADDRESS]" }]);
    expect(sent.messages[0]!.content).toEqual([{ type: "text", text: `#echo mail [REDACTED:EMAIL_ADDRESS] re ${m}` }]);
    const [decision] = await recordsOf("globex", response);
    expect(decision).toMatchObject({ decision: "allow", resource: { id: "us-public" }, transforms: { redact: { EMAIL_ADDRESS: 2 } } });
  });

  it("data without personal findings leaves untouched, and the decision record has no transforms", async () => {
    const m = marker();
    const response = await post("/v1/chat/completions", { model: "gpt-4o-mini", messages: [{ role: "user", content: `#echo nothing personal ${m}` }] }, alice);
    expect(response.status).toBe(200);
    expect(((await receivedWith("eu-public", m))!.body as { messages: Array<{ content: string }> }).messages[0]!.content).toBe(`#echo nothing personal ${m}`);
    const [decision] = await recordsOf("acme", response);
    expect(decision).not.toHaveProperty("transforms");
  });
});

describe("defence in depth: what a transform cannot reach is refused, audited, and never sent", () => {
  it("an address in a tool input's key (transforms rewrite values, not keys): 403 redaction_incomplete", async () => {
    const m = marker();
    const body = {
      model: "claude-haiku-4-5",
      max_tokens: 64,
      messages: [
        { role: "user", content: `look this up ${m}` },
        { role: "assistant", content: [{ type: "tool_use", id: "toolu_1", name: "lookup", input: { [EMAIL]: true } }] },
        { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_1", content: "done" }] },
      ],
    };
    const response = await post("/v1/messages", body, carol);
    expect(response.status).toBe(403);
    expect(await response.json()).toMatchObject({ type: "error", error: { type: "permission_error" } });
    const [decision] = await recordsOf("globex", response);
    expect(decision).toMatchObject({ decision: "deny", code: "redaction_incomplete", resource: { id: "us-public" }, survivors: { EMAIL_ADDRESS: 1 } });
    expect(await receivedWith("us-public", m)).toBeUndefined();
  });

  it("a secret in a field the classifier does not read (metadata, a message name): refused, never sent", async () => {
    for (const extra of [{ metadata: { note: "AKIAIOSFODNN7EXAMPLE" } }, { user: "AKIAIOSFODNN7EXAMPLE" }]) {
      const m = marker();
      const response = await post("/v1/chat/completions", { model: "gpt-4o-mini", messages: [{ role: "user", content: `hi ${m}` }], ...extra }, alice);
      expect(response.status, JSON.stringify(extra)).toBe(403);
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe("redaction_incomplete");
      const [decision] = await recordsOf("acme", response);
      expect(decision).toMatchObject({ decision: "deny", code: "redaction_incomplete", survivors: { SECRET_AWS_ACCESS_KEY: 1 } });
      for (const backend of ["eu-public", "us-public", "eu-confidential"]) expect(await receivedWith(backend, m)).toBeUndefined();
    }
  });
});
