/**
 * End to end: the stack the global set-up started (gateway under wrangler dev, the dev identity
 * provider, the mock backends), driven by the official OpenAI and Anthropic clients with real tokens.
 */
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { beforeAll, describe, expect, it } from "vitest";
import { GATEWAY_ORIGIN } from "../../dev/config.ts";
import { tokenFor } from "../support/tokens.ts";

let alice: string;
let bob: string;
let carol: string;

beforeAll(async () => {
  [alice, bob, carol] = await Promise.all([tokenFor("alice"), tokenFor("bob"), tokenFor("carol")]);
});

function openaiAs(token: string): OpenAI {
  return new OpenAI({ apiKey: token, baseURL: `${GATEWAY_ORIGIN}/v1`, maxRetries: 0 });
}

function anthropicAs(token: string): Anthropic {
  // The gateway takes the caller's access token as a Bearer token (`authToken`), never an API key.
  return new Anthropic({ authToken: token, apiKey: null, baseURL: GATEWAY_ORIGIN, maxRetries: 0 });
}

interface AuditEntries {
  entries: Array<{ index: number; record: { requestId: string; type: string; decision?: string; principal?: { id: string } } }>;
}

async function auditRecordsFor(requestId: string) {
  const response = await fetch(`${GATEWAY_ORIGIN}/audit/acme/entries`, { headers: { authorization: `Bearer ${bob}` } });
  expect(response.status).toBe(200);
  const { entries } = (await response.json()) as AuditEntries;
  return entries.map((e) => e.record).filter((r) => r.requestId === requestId);
}

describe("OpenAI SDK through the gateway", () => {
  it("completes a chat for alice from the EU backend", async () => {
    const completion = await openaiAs(alice).chat.completions.create({
      model: "gpt-4o-mini",
      messages: [{ role: "user", content: "Hello there" }],
    });
    expect(completion.choices[0]?.message.content).toContain("eu-public");
  });

  it("streams a chat completion chunk by chunk", async () => {
    // The output scanner releases text as its bounded look-back allows (worker/data/reply-filter.ts):
    // a reply longer than that look-back arrives in several deltas, not only at the end.
    const said = `Tell me something ${"long ".repeat(600)}`.trim();
    const stream = await openaiAs(alice).chat.completions.create({
      model: "gpt-4o-mini",
      messages: [{ role: "user", content: `#say:${said}` }],
      stream: true,
    });
    const deltas: string[] = [];
    for await (const chunk of stream) deltas.push(chunk.choices[0]?.delta.content ?? "");
    expect(deltas.filter((d) => d.length > 0).length).toBeGreaterThanOrEqual(3);
    expect(deltas.join("")).toBe(said);
  });

  it("relays a streamed tool call whose arguments arrive in fragments", async () => {
    const stream = await openaiAs(alice).chat.completions.create({
      model: "gpt-4o-mini",
      messages: [{ role: "user", content: '#tool:search_documents {"query":"quarterly report"}' }],
      tools: [{ type: "function", function: { name: "search_documents", parameters: { type: "object" } } }],
      stream: true,
    });
    let name = "";
    let args = "";
    for await (const chunk of stream) {
      for (const call of chunk.choices[0]?.delta.tool_calls ?? []) {
        name += call.function?.name ?? "";
        args += call.function?.arguments ?? "";
      }
    }
    expect(name).toBe("search_documents");
    expect(JSON.parse(args)).toEqual({ query: "quarterly report" });
  });

  it("lists only the models alice may use", async () => {
    const ids = [];
    for await (const model of openaiAs(alice).models.list()) ids.push(model.id);
    expect(ids).toContain("gpt-4o-mini");
    expect(ids).not.toContain("claude-haiku-4-5");
  });

  it("gets 401 in OpenAI's shape with a tampered token", async () => {
    const tampered = alice.slice(0, -6) + (alice.endsWith("AAAAAA") ? "BBBBBB" : "AAAAAA");
    const error = await openaiAs(tampered)
      .chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.AuthenticationError);
    expect((error as InstanceType<typeof OpenAI.AuthenticationError>).code).toBe("token_invalid");
  });

  it("gets 401 without a token", async () => {
    const response = await fetch(`${GATEWAY_ORIGIN}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] }),
    });
    expect(response.status).toBe(401);
    expect(response.headers.get("www-authenticate")).toContain("Bearer");
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe("token_missing");
  });

  it("gets 403 for a request policy denies, and the deny is in the audit log", async () => {
    const error = await openaiAs(alice)
      .chat.completions.create({ model: "claude-haiku-4-5", messages: [{ role: "user", content: "hi" }] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.PermissionDeniedError);
    const requestId = (error as InstanceType<typeof OpenAI.PermissionDeniedError>).headers?.get("x-request-id");
    expect(requestId).toBeTruthy();
    const records = await auditRecordsFor(requestId!);
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ type: "decision", decision: "deny", principal: { id: "alice" } });
  });

  it("gets 404 for an unknown model", async () => {
    const error = await openaiAs(alice)
      .chat.completions.create({ model: "gpt-nonexistent", messages: [{ role: "user", content: "hi" }] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.NotFoundError);
  });
});

describe("Anthropic SDK through the gateway", () => {
  it("creates a message for carol from the US backend", async () => {
    const message = await anthropicAs(carol).messages.create({
      model: "claude-haiku-4-5",
      max_tokens: 128,
      messages: [{ role: "user", content: "Hello" }],
    });
    const text = message.content.map((b) => (b.type === "text" ? b.text : "")).join("");
    expect(text).toContain("us-public");
  });

  it("streams a message with a tool call to a tool the gateway does not know: removed, with the notice", async () => {
    // Every proposed call is authorized against the tool registry (test/e2e/tool-calls.test.ts has
    // allowed ones); "lookup" is not registered, so the block is replaced by the refusal notice.
    const stream = anthropicAs(carol).messages.stream({
      model: "claude-haiku-4-5",
      max_tokens: 128,
      messages: [{ role: "user", content: '#tool:lookup {"id":42}' }],
      tools: [{ name: "lookup", input_schema: { type: "object" } }],
    });
    const final = await stream.finalMessage();
    expect(final.content.find((b) => b.type === "tool_use")).toBeUndefined();
    expect(final.content.map((b) => (b.type === "text" ? b.text : "")).join("")).toContain("[verity: tool call to lookup refused (tool_not_found)");
    expect(final.stop_reason).toBe("end_turn");
  });

  it("gets an Anthropic-shaped 401 with a bad token", async () => {
    const error = await anthropicAs("not-a-token")
      .messages.create({ model: "claude-haiku-4-5", max_tokens: 16, messages: [{ role: "user", content: "hi" }] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Anthropic.AuthenticationError);
    expect((error as InstanceType<typeof Anthropic.AuthenticationError>).error).toMatchObject({
      type: "error",
      error: { type: "authentication_error" },
    });
  });
});
