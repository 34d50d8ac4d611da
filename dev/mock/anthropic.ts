/**
 * Anthropic's messages wire format, as the official API speaks it: the API key in `x-api-key` (or, as
 * the official TypeScript SDK 1.x sends it, `Authorization: Bearer`) and a required
 * `anthropic-version`; `message` objects with content blocks; named SSE events (`message_start` …
 * `message_stop`); `{"type":"error","error":{…}}` errors.
 */
import type { IncomingHttpHeaders } from "node:http";
import type { ChatRequest, Reply } from "./reply.ts";
import {
  WireError,
  bearerToken,
  fragments,
  isRecord,
  lastUserText,
  optionalBoolean,
  promptChars,
  requireMessages,
  requireModel,
  textPieces,
  type ResponseIdentity,
  type WireFormat,
} from "./wire.ts";

export const anthropic: WireFormat = {
  name: "anthropic",
  checkAuth,
  parseRequest,
  completion,
  streamFrames,
  errorBody,
  modelList,
};

function checkAuth(headers: IncomingHttpHeaders, apiKey: string): void {
  const key = headers["x-api-key"] ?? bearerToken(headers);
  if (key === undefined) throw new WireError(401, "x-api-key header is required");
  if (key !== apiKey) throw new WireError(401, "invalid x-api-key");
  // Checked after the key, as the API does; a gateway that forgets the header fails here as it would there.
  if (headers["anthropic-version"] === undefined) throw new WireError(400, "anthropic-version: header is required");
}

function parseRequest(body: unknown): ChatRequest {
  if (!isRecord(body)) throw new WireError(400, "The request body must be a JSON object.");
  const messages = requireMessages(body);
  const maxTokens = body["max_tokens"];
  if (typeof maxTokens !== "number" || !Number.isInteger(maxTokens) || maxTokens < 1) {
    throw new WireError(400, "max_tokens: Field required (a positive integer)");
  }
  return {
    body,
    model: requireModel(body),
    stream: optionalBoolean(body, "stream"),
    includeUsage: true,
    lastUserText: lastUserText(messages),
    promptChars: promptChars(messages, body["system"]),
  };
}

function completion(reply: Reply, id: ResponseIdentity): unknown {
  return {
    ...messageEnvelope(reply, id),
    content: [contentBlock(reply, id)],
    stop_reason: stopReason(reply),
    usage: { input_tokens: reply.usage.inputTokens, output_tokens: reply.usage.outputTokens },
  };
}

function contentBlock(reply: Reply, id: ResponseIdentity): Record<string, unknown> {
  const { content } = reply;
  if (content.kind === "text") return { type: "text", text: content.text };
  return { type: "tool_use", id: toolUseId(id), name: content.name, input: content.input };
}

/**
 * message_start, content_block_start, ping, content_block_delta × n (text_delta, or input_json_delta
 * fragments of the tool input), content_block_stop, message_delta (stop reason, output tokens),
 * message_stop: the order the API documents.
 */
function streamFrames(reply: Reply, _request: ChatRequest, id: ResponseIdentity): string[] {
  const { content } = reply;
  const started = content.kind === "text" ? { type: "text", text: "" } : { ...contentBlock(reply, id), input: {} };
  const deltas =
    content.kind === "text"
      ? textPieces(content.text, 3).map((text) => ({ type: "text_delta", text }))
      : fragments(JSON.stringify(content.input), 3).map((partial_json) => ({ type: "input_json_delta", partial_json }));

  return [
    event("message_start", {
      message: {
        ...messageEnvelope(reply, id),
        content: [],
        stop_reason: null,
        usage: { input_tokens: reply.usage.inputTokens, output_tokens: 1 },
      },
    }),
    event("content_block_start", { index: 0, content_block: started }),
    event("ping", {}),
    ...deltas.map((delta) => event("content_block_delta", { index: 0, delta })),
    event("content_block_stop", { index: 0 }),
    event("message_delta", {
      delta: { stop_reason: stopReason(reply), stop_sequence: null },
      usage: { output_tokens: reply.usage.outputTokens },
    }),
    event("message_stop", {}),
  ];
}

function event(type: string, fields: Record<string, unknown>): string {
  return `event: ${type}\ndata: ${JSON.stringify({ type, ...fields })}\n\n`;
}

function messageEnvelope(reply: Reply, id: ResponseIdentity): Record<string, unknown> {
  return { id: `msg_${id.backendId}_${id.seq}`, type: "message", role: "assistant", model: reply.model, stop_sequence: null };
}

function stopReason(reply: Reply): string {
  return reply.content.kind === "tool" ? "tool_use" : "end_turn";
}

function toolUseId(id: ResponseIdentity): string {
  return `toolu_${id.backendId}_${id.seq}`;
}

function errorBody(error: WireError): unknown {
  return { type: "error", error: { type: errorType(error.status), message: error.message } };
}

const ERROR_TYPES: Readonly<Record<number, string>> = {
  400: "invalid_request_error",
  401: "authentication_error",
  403: "permission_error",
  404: "not_found_error",
  413: "request_too_large",
  429: "rate_limit_error",
  500: "api_error",
  529: "overloaded_error",
};

function errorType(status: number): string {
  return ERROR_TYPES[status] ?? (status >= 500 ? "api_error" : "invalid_request_error");
}

function modelList(models: readonly string[]): unknown {
  const data = models.map((model) => ({
    type: "model",
    id: model,
    display_name: model,
    created_at: "2025-01-01T00:00:00Z",
  }));
  return { data, has_more: false, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null };
}
