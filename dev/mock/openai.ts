/**
 * OpenAI's chat completions wire format, as the official API speaks it: bearer API key, `chat.completion`
 * objects, `chat.completion.chunk` SSE frames ending in `data: [DONE]`, `{"error":{…}}` errors.
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
  sseData,
  textPieces,
  type ResponseIdentity,
  type WireFormat,
} from "./wire.ts";

export const openai: WireFormat = {
  name: "openai",
  checkAuth,
  parseRequest,
  completion,
  streamFrames,
  errorBody,
  modelList,
};

function checkAuth(headers: IncomingHttpHeaders, apiKey: string): void {
  const key = bearerToken(headers);
  if (key === undefined) {
    throw new WireError(
      401,
      "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
    );
  }
  // The real API echoes a redacted key; the mock echoes none, so no test output carries one.
  if (key !== apiKey) throw new WireError(401, "Incorrect API key provided.", { code: "invalid_api_key" });
}

function parseRequest(body: unknown): ChatRequest {
  if (!isRecord(body)) throw new WireError(400, "The request body must be a JSON object.");
  const messages = requireMessages(body);
  const stream = optionalBoolean(body, "stream");
  return {
    body,
    model: requireModel(body),
    stream,
    includeUsage: includeUsage(body["stream_options"], stream),
    lastUserText: lastUserText(messages),
    promptChars: promptChars(messages),
  };
}

function includeUsage(options: unknown, stream: boolean): boolean {
  if (options === undefined || options === null) return false;
  if (!stream) {
    throw new WireError(400, "The 'stream_options' parameter is only allowed when 'stream' is enabled.", {
      param: "stream_options",
    });
  }
  return isRecord(options) && options["include_usage"] === true;
}

function completion(reply: Reply, id: ResponseIdentity): unknown {
  return {
    id: completionId(id),
    object: "chat.completion",
    created: id.created,
    model: reply.model,
    system_fingerprint: fingerprint(id),
    choices: [{ index: 0, message: assistantMessage(reply, id), logprobs: null, finish_reason: finishReason(reply) }],
    usage: usage(reply),
  };
}

function assistantMessage(reply: Reply, id: ResponseIdentity): Record<string, unknown> {
  const { content } = reply;
  if (content.kind === "text") return { role: "assistant", content: content.text, refusal: null };
  return {
    role: "assistant",
    content: null,
    refusal: null,
    tool_calls: [
      { id: toolCallId(id), type: "function", function: { name: content.name, arguments: JSON.stringify(content.input) } },
    ],
  };
}

/**
 * A role chunk, content (or tool call) deltas, a chunk with the finish reason, the usage chunk if
 * asked for (`choices: []`, and `usage: null` on every other chunk, as the API does), then `[DONE]`.
 */
function streamFrames(reply: Reply, request: ChatRequest, id: ResponseIdentity): string[] {
  const chunk = (delta: Record<string, unknown>, finishReason: string | null = null) =>
    sseData({
      ...chunkEnvelope(reply, id),
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
      ...(request.includeUsage ? { usage: null } : {}),
    });

  const frames = [chunk({ role: "assistant", content: reply.content.kind === "text" ? "" : null, refusal: null })];
  frames.push(...contentDeltas(reply, id).map((delta) => chunk(delta)));
  frames.push(chunk({}, finishReason(reply)));
  if (request.includeUsage) frames.push(sseData({ ...chunkEnvelope(reply, id), choices: [], usage: usage(reply) }));
  frames.push("data: [DONE]\n\n");
  return frames;
}

function contentDeltas(reply: Reply, id: ResponseIdentity): Record<string, unknown>[] {
  const { content } = reply;
  if (content.kind === "text") return textPieces(content.text, 3).map((piece) => ({ content: piece }));
  const opening = { index: 0, id: toolCallId(id), type: "function", function: { name: content.name, arguments: "" } };
  const argumentDeltas = fragments(JSON.stringify(content.input), 3).map((part) => ({
    tool_calls: [{ index: 0, function: { arguments: part } }],
  }));
  return [{ tool_calls: [opening] }, ...argumentDeltas];
}

function chunkEnvelope(reply: Reply, id: ResponseIdentity): Record<string, unknown> {
  return {
    id: completionId(id),
    object: "chat.completion.chunk",
    created: id.created,
    model: reply.model,
    system_fingerprint: fingerprint(id),
  };
}

function finishReason(reply: Reply): string {
  return reply.content.kind === "tool" ? "tool_calls" : "stop";
}

function usage(reply: Reply): Record<string, number> {
  const { inputTokens, outputTokens } = reply.usage;
  return { prompt_tokens: inputTokens, completion_tokens: outputTokens, total_tokens: inputTokens + outputTokens };
}

function errorBody(error: WireError): unknown {
  return {
    error: {
      message: error.message,
      type: errorType(error.status),
      param: error.details.param ?? null,
      code: error.details.code ?? null,
    },
  };
}

function errorType(status: number): string {
  if (status >= 500) return "server_error";
  if (status === 429) return "requests";
  return "invalid_request_error";
}

function modelList(models: readonly string[], backendId: string): unknown {
  return {
    object: "list",
    data: models.map((model) => ({ id: model, object: "model", created: 1_700_000_000, owned_by: backendId })),
  };
}

function completionId(id: ResponseIdentity): string {
  return `chatcmpl-${id.backendId}-${id.seq}`;
}

function toolCallId(id: ResponseIdentity): string {
  return `call_${id.backendId}_${id.seq}`;
}

function fingerprint(id: ResponseIdentity): string {
  return `fp_${id.backendId}`;
}
