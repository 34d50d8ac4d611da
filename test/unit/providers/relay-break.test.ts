/**
 * A stream whose upstream breaks off after its first events (connection lost, or cut by the egress
 * size bound) ends with the provider's own error event, and the completion says so — it is neither a
 * silent truncation nor recorded as a caller that went away. (No retry either: worker/pipeline.ts.)
 */
import { describe, expect, it } from "vitest";
import { GatewayError } from "../../../worker/errors.ts";
import { anthropic } from "../../../worker/providers/anthropic.ts";
import { openai } from "../../../worker/providers/openai.ts";
import { relayReply, type RelayOutcome } from "../../../worker/providers/relay.ts";
import type { WireProvider } from "../../../worker/providers/types.ts";

const encode = (text: string) => new TextEncoder().encode(text);
const OPENAI_FIRST = `data: ${JSON.stringify({ id: "c1", object: "chat.completion.chunk", created: 1, model: "gpt-4o-mini", choices: [{ index: 0, delta: { content: "Hel" }, finish_reason: null }] })}\n\n`;
const ANTHROPIC_FIRST = `event: message_start\ndata: ${JSON.stringify({ type: "message_start", message: { type: "message", model: "claude-haiku-4-5", content: [], usage: { input_tokens: 3, output_tokens: 1 } } })}\n\n`;

/** An upstream that sends `first` (and half an event after it), then fails with `error`. */
function breaking(first: string, error: unknown): Response {
  let sent = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent === 0) controller.enqueue(encode(first));
      else if (sent === 1) controller.enqueue(encode('data: {"id":"c1","choi'));
      else controller.error(error);
      sent++;
    },
  });
  return new Response(stream, { headers: { "content-type": "text/event-stream" } });
}

async function relay(provider: WireProvider, first: string, error: unknown) {
  let outcome: RelayOutcome | undefined;
  const model = provider.format === "openai" ? "gpt-4o-mini" : "claude-haiku-4-5";
  const response = await relayReply(provider, breaking(first, error), {
    stream: true,
    requestId: "req-1",
    timeoutMs: 5000,
    pin: { backendId: "b", requested: model, models: [model] },
    done: (o) => (outcome = o),
  });
  return { text: await response.text(), outcome: outcome!, status: response.status };
}

describe("an upstream stream that breaks off", () => {
  it("OpenAI: what came before goes out, then OpenAI's error event; the completion records upstream_error, not an abort", async () => {
    const { text, outcome, status } = await relay(openai, OPENAI_FIRST, new TypeError("Network connection lost."));
    expect(status).toBe(200);
    expect(text.startsWith(OPENAI_FIRST)).toBe(true);
    const last = text.split("\n\n").filter(Boolean).at(-1)!;
    expect(JSON.parse(last.slice("data: ".length))).toMatchObject({ error: { code: "upstream_error", type: "api_error" } });
    expect(text).not.toContain("Network connection lost");
    expect(outcome).toMatchObject({ stream: true, aborted: false, error: "upstream_error" });
  });

  it("Anthropic: ends with `event: error`", async () => {
    const { text, outcome } = await relay(anthropic, ANTHROPIC_FIRST, new TypeError("Network connection lost."));
    expect(text.startsWith(ANTHROPIC_FIRST)).toBe(true);
    expect(text.split("\n\n").filter(Boolean).at(-1)).toMatch(/^event: error\ndata: \{"type":"error","error":\{"type":"api_error"/);
    expect(outcome).toMatchObject({ aborted: false, error: "upstream_error" });
  });

  it("a body cut by the egress size bound keeps its own code", async () => {
    const { text, outcome } = await relay(openai, OPENAI_FIRST, new GatewayError("upstream_response_too_large", "the upstream answer exceeded its size limit"));
    expect(text).toContain('"code":"upstream_response_too_large"');
    expect(outcome).toMatchObject({ aborted: false, error: "upstream_response_too_large" });
  });
});
