/**
 * The event-level relay (worker/providers/relay.ts, sse.ts, reply-text.ts): events parsed once and
 * passed on byte for byte unless changed, wherever the upstream cut its chunks; malformed or oversized
 * events end the stream with the provider's error event; reply text filters per choice / block;
 * proposed tool calls authorized before they are released.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { GatewayError } from "../../../worker/errors.ts";
import { anthropic } from "../../../worker/providers/anthropic.ts";
import { openai } from "../../../worker/providers/openai.ts";
import { relayReply, TOOL_REFUSALS_HEADER, type RelayOutcome } from "../../../worker/providers/relay.ts";
import type { ReplyFilterFactory } from "../../../worker/providers/reply-text.ts";
import { createSseParser, MalformedEventError, MAX_EVENT_CHARS, serialise } from "../../../worker/providers/sse.ts";
import type { WireProvider } from "../../../worker/providers/types.ts";
import type { ToolCallGate } from "../../../worker/tools/proposals.ts";

const encode = (text: string) => new TextEncoder().encode(text);
const envelope = { id: "c1", object: "chat.completion.chunk", created: 1, model: "gpt-4o-mini" };
const chunk = (delta: Record<string, unknown>, finish: string | null = null) =>
  `data: ${JSON.stringify({ ...envelope, choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
const named = (type: string, fields: Record<string, unknown>) => `event: ${type}\ndata: ${JSON.stringify({ type, ...fields })}\n\n`;

const OPENAI_TEXT = chunk({ role: "assistant", content: "" }) + chunk({ content: "Hello " }) + chunk({ content: "world" }) + chunk({}, "stop") + "data: [DONE]\n\n";
const ANTHROPIC_TEXT =
  named("message_start", { message: { type: "message", model: "claude-haiku-4-5", content: [], usage: { input_tokens: 3, output_tokens: 1 } } }) +
  named("content_block_start", { index: 0, content_block: { type: "text", text: "" } }) +
  named("content_block_delta", { index: 0, delta: { type: "text_delta", text: "Hello " } }) +
  named("content_block_delta", { index: 0, delta: { type: "text_delta", text: "world" } }) +
  named("content_block_stop", { index: 0 }) +
  named("message_delta", { delta: { stop_reason: "end_turn" }, usage: { output_tokens: 2 } }) +
  named("message_stop", {});

function upstream(pieces: readonly string[]): Response {
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const piece of pieces) controller.enqueue(encode(piece));
      controller.close();
    },
  });
  return new Response(stream, { headers: { "content-type": "text/event-stream" } });
}

async function relay(provider: WireProvider, pieces: readonly string[], extra: { replyFilter?: ReplyFilterFactory; toolCalls?: ToolCallGate; stream?: boolean } = {}) {
  let outcome: RelayOutcome | undefined;
  const stream = extra.stream ?? true;
  const source = stream ? upstream(pieces) : new Response(pieces.join(""), { headers: { "content-type": "application/json" } });
  const model = provider.format === "openai" ? "gpt-4o-mini" : "claude-haiku-4-5";
  const response = await relayReply(provider, source, {
    stream,
    requestId: "req-1",
    timeoutMs: 5000,
    pin: { backendId: "b", requested: model, models: [model] },
    ...extra,
    done: (o) => (outcome = o),
  });
  const text = await response.text();
  return { text, outcome: outcome!, response };
}

/** Cuts text at the given points (any of them may fall inside a multi-byte character's UTF-16 pair). */
function cutAt(text: string, at: number[]): string[] {
  const points = [...new Set(at.map((p) => p % (text.length + 1)))].sort((a, b) => a - b);
  return [...points, text.length].map((end, i) => text.slice(i === 0 ? 0 : points[i - 1], end));
}

describe("the SSE parser", () => {
  it("finds the same events wherever the bytes are cut, with CRLF or LF line ends", () => {
    fc.assert(
      fc.property(fc.boolean(), fc.array(fc.nat(), { maxLength: 12 }), (crlf, at) => {
        const text = crlf ? ANTHROPIC_TEXT.replace(/\n/g, "\r\n") : ANTHROPIC_TEXT;
        const bytes = encode(text);
        const points = [...new Set(at.map((p) => p % (bytes.length + 1)))].sort((a, b) => a - b);
        const parser = createSseParser();
        const seen = [...points, bytes.length].flatMap((end, i) => parser.push(bytes.slice(i === 0 ? 0 : points[i - 1], end)));
        seen.push(...parser.end());
        expect(seen.map((e) => e.data)).toEqual(createSseParser().push(encode(ANTHROPIC_TEXT)).map((e) => e.data));
        expect(seen.map((e) => e.name)).toEqual(["message_start", "content_block_start", "content_block_delta", "content_block_delta", "content_block_stop", "message_delta", "message_stop"]);
      }),
    );
  });

  it("keeps comments as events of their own, reads [DONE], joins data lines, and takes a last event without its blank line", () => {
    const parser = createSseParser();
    const events = [...parser.push(encode(': keep-alive\n\ndata: {"a":\ndata: 1}\n\ndata: [DONE]\n\ndata: {"b":2}')), ...parser.end()];
    expect(events.map((e) => [e.data, e.done ?? false])).toEqual([[undefined, false], [{ a: 1 }, false], [undefined, true], [{ b: 2 }, false]]);
    expect(serialise(events[0]!)).toBe(": keep-alive\n\n");
  });

  it("refuses data that is not a JSON object, and an event past the size limit, even without its end", () => {
    expect(() => createSseParser().push(encode("data: {not json\n\n"))).toThrow(MalformedEventError);
    expect(() => createSseParser().push(encode("data: [1,2]\n\n"))).toThrow(MalformedEventError);
    expect(() => createSseParser().push(encode(`data: "${"x".repeat(MAX_EVENT_CHARS)}`))).toThrow(MalformedEventError);
  });
});

describe("streams", () => {
  it("passes an unchanged stream byte for byte, however the upstream cut it (OpenAI and Anthropic)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom<[WireProvider, string]>([openai, OPENAI_TEXT], [anthropic, ANTHROPIC_TEXT]), fc.array(fc.nat(), { maxLength: 8 }), async ([provider, text], at) => {
        const identity: ReplyFilterFactory = () => ({ push: (t) => ({ text: t }), end: () => ({ text: "" }) });
        const { text: out, outcome } = await relay(provider, cutAt(text, at), { replyFilter: identity, toolCalls: { decide: async () => ({ allowed: true }) } });
        expect(out).toBe(text);
        expect(outcome).toMatchObject({ stream: true, aborted: false, status: 200 });
        expect(outcome.error).toBeUndefined();
      }),
      { numRuns: 50 },
    );
  });

  it("reads usage from the events (Anthropic message_start and message_delta)", async () => {
    const { outcome } = await relay(anthropic, [ANTHROPIC_TEXT]);
    expect(outcome).toMatchObject({ model: "claude-haiku-4-5", inputTokens: 3, outputTokens: 2 });
  });

  it("ends the stream with OpenAI's error event when the upstream sends a malformed event, forwarding what came before", async () => {
    const { text, outcome } = await relay(openai, [chunk({ content: "Hi" }), "data: {broken\n\n", chunk({ content: "never" })]);
    const events = text.split("\n\n").filter(Boolean);
    expect(events[0]).toContain('"Hi"');
    expect(JSON.parse(events[1]!.slice("data: ".length))).toMatchObject({ error: { code: "upstream_error" } });
    expect(text).not.toContain("never");
    expect(outcome.error).toBe("upstream_error");
  });

  it("ends the stream with Anthropic's `event: error` when an event exceeds the size limit", async () => {
    const { text, outcome } = await relay(anthropic, [ANTHROPIC_TEXT.slice(0, 200), `data: "${"x".repeat(MAX_EVENT_CHARS + 10)}"\n\n`]);
    expect(text.split("\n\n").filter(Boolean).at(-1)).toMatch(/^event: error\ndata: \{"type":"error","error":\{"type":"api_error"/);
    expect(outcome.error).toBe("upstream_error");
  });

  it("changes only the text the filter changed, and ends the stream when a filter stops", async () => {
    const shouting: ReplyFilterFactory = () => ({ push: (t) => (t.includes("world") ? { text: t.toUpperCase(), stop: new GatewayError("policy_denied", "no") } : { text: t }), end: () => ({ text: "" }) });
    const { text, outcome } = await relay(openai, [OPENAI_TEXT], { replyFilter: shouting });
    expect(text).toContain('"content":"Hello "');
    expect(text).toContain('"content":"WORLD"');
    expect(text).toContain('"code":"policy_denied"');
    expect(text).not.toContain("[DONE]");
    expect(outcome.error).toBe("policy_denied");
  });

  it("releases what a filter held back at the end of a block, before the block ends (Anthropic)", async () => {
    const holdAll: ReplyFilterFactory = () => {
      let held = "";
      return { push: (t) => ((held += t), { text: "" }), end: () => ({ text: held }) };
    };
    const { text } = await relay(anthropic, [ANTHROPIC_TEXT], { replyFilter: holdAll });
    const deltas = [...text.matchAll(/"text_delta","text":"([^"]*)"/g)].map((m) => m[1]);
    expect(deltas.join("")).toBe("Hello world");
    expect(text.indexOf('"text":"Hello world"')).toBeLessThan(text.indexOf("content_block_stop"));
  });

  it("ends the stream (fail closed) when the gate cannot record a decision", async () => {
    const broken: ToolCallGate = { decide: async () => Promise.reject(new GatewayError("audit_unavailable", "the audit log is unavailable")) };
    const call = chunk({ tool_calls: [{ index: 0, id: "a", type: "function", function: { name: "search_documents", arguments: "{}" } }] });
    const { text, outcome } = await relay(openai, [chunk({ role: "assistant" }), call, chunk({}, "tool_calls"), "data: [DONE]\n\n"], { toolCalls: broken });
    expect(text).not.toContain("search_documents");
    expect(text).toContain('"code":"audit_unavailable"');
    expect(outcome.error).toBe("audit_unavailable");
  });
});

describe("whole replies", () => {
  const completion = {
    id: "c1",
    object: "chat.completion",
    model: "gpt-4o-mini",
    choices: [{ index: 0, message: { role: "assistant", content: null, tool_calls: [{ id: "a", type: "function", function: { name: "send_email", arguments: "{}" } }] }, finish_reason: "tool_calls" }],
  };
  const refuse: ToolCallGate = { decide: async () => ({ allowed: false, error: new GatewayError("insufficient_user_authentication", "step up"), refuseReply: false }) };

  it("goes out as the backend sent it when nothing changed", async () => {
    const text = JSON.stringify({ ...completion, choices: [{ index: 0, message: { role: "assistant", content: "hi" }, finish_reason: "stop" }] }).replace(/,/g, ", ");
    const { text: out } = await relay(openai, [text], { stream: false, toolCalls: refuse });
    expect(out).toBe(text);
  });

  it("removes a refused call, names it in x-verity-tool-refusals, and says stop", async () => {
    const { text, response } = await relay(openai, [JSON.stringify(completion)], { stream: false, toolCalls: refuse });
    expect(response.headers.get(TOOL_REFUSALS_HEADER)).toBe("send_email=insufficient_user_authentication");
    const reply = JSON.parse(text);
    expect(reply.choices[0]).toMatchObject({ finish_reason: "stop", message: { content: "[verity: tool call to send_email refused (insufficient_user_authentication): step up]" } });
    expect(reply.choices[0].message.tool_calls).toBeUndefined();
  });

  it("refuses the whole reply when the filter stops, recording the completion with its code", async () => {
    const stop: ReplyFilterFactory = () => ({ push: () => ({ text: "", stop: new GatewayError("policy_denied", "withheld") }), end: () => ({ text: "" }) });
    const text = JSON.stringify({ ...completion, choices: [{ index: 0, message: { role: "assistant", content: "secret" }, finish_reason: "stop" }] });
    let outcome: RelayOutcome | undefined;
    await expect(
      relayReply(openai, new Response(text), { stream: false, requestId: "r", timeoutMs: 1000, pin: { backendId: "b", requested: "gpt-4o-mini", models: ["gpt-4o-mini"] }, replyFilter: stop, done: (o) => (outcome = o) }),
    ).rejects.toMatchObject({ code: "policy_denied" });
    expect(outcome).toMatchObject({ error: "policy_denied", stream: false });
  });
});
