/**
 * One exchange with an upstream MCP server (streamable HTTP): the gateway POSTs one JSON-RPC message
 * with a delegated token of its own (never the caller's) and reads the one reply it needs, whether
 * the server answers with a JSON body or an SSE stream. The read is bounded in bytes and in time;
 * other messages on the stream (progress, logging, requests to the client) are skipped, since the
 * gateway relays no server-initiated traffic. Upstream bodies are never passed on as they are.
 */
import { GatewayError } from "../errors.ts";
import { readAtMost, TooLargeError } from "../lib/bounded-read.ts";
import { parseStrictJson } from "../lib/strict-json.ts";
import type { Egress } from "../network/index.ts";
import { createSseParser, MalformedEventError } from "../providers/sse.ts";
import { isRecord } from "../providers/validate.ts";
import type { McpServer } from "../workload/index.ts";
import { MAX_TOOL_RESULT_BYTES, TOOL_TIMEOUT_MS } from "./invoke.ts";
import type { JsonRpcId } from "./mcp-jsonrpc.ts";

/**
 * The MCP revisions the gateway speaks. Both send one JSON-RPC message per POST (2025-06-18 removed
 * batching) and carry `MCP-Protocol-Version` on every request after `initialize`.
 */
export const MCP_PROTOCOL_VERSIONS: readonly string[] = ["2025-11-25", "2025-06-18"];

/**
 * The largest upstream reply read, in bytes: a tool result's limit (MAX_TOOL_RESULT_BYTES, 256 KiB)
 * plus 64 KiB for the JSON-RPC envelope, SSE framing and the messages the gateway skips.
 */
export const MAX_UPSTREAM_REPLY_BYTES = MAX_TOOL_RESULT_BYTES + 64 * 1024;

export interface UpstreamRequest {
  method: "POST" | "DELETE";
  /** The JSON-RPC message to send (POST). */
  message?: Record<string, unknown>;
  /** The request id whose response to wait for; absent for a notification (the server answers 202). */
  awaitId?: JsonRpcId;
  token: string;
  /** The upstream's own session id; null before `initialize` or when it keeps none. */
  session: string | null;
  protocolVersion: string | null;
  requestId: string;
  /** Cancels the exchange when the caller goes away. */
  signal: AbortSignal;
}

export interface UpstreamReply {
  status: number;
  /** The `Mcp-Session-Id` the upstream assigned (on `initialize`). */
  session: string | null;
  /** The JSON-RPC response to `awaitId`. */
  response?: Record<string, unknown>;
  bytes: number;
}

function isResponseTo(message: unknown, id: JsonRpcId): message is Record<string, unknown> {
  return isRecord(message) && message.jsonrpc === "2.0" && message.id === id && ("result" in message || "error" in message);
}

/** Reads an SSE reply until the response to `id` arrives, then cancels the rest. */
async function responseFromStream(body: ReadableStream<Uint8Array>, id: JsonRpcId): Promise<{ response?: Record<string, unknown>; bytes: number }> {
  const parser = createSseParser();
  const reader = body.getReader();
  let bytes = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (!done) bytes += value.byteLength;
      if (bytes > MAX_UPSTREAM_REPLY_BYTES) throw new TooLargeError(MAX_UPSTREAM_REPLY_BYTES);
      // One event over the parser's MAX_EVENT_CHARS (256 Ki) is malformed: MalformedEventError.
      const events = done ? parser.end() : parser.push(value);
      const match = events.find((event) => isResponseTo(event.data, id));
      if (match) return { response: match.data, bytes };
      if (done) return { bytes };
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}

async function responseFromJson(body: ReadableStream<Uint8Array> | null, id: JsonRpcId): Promise<{ response?: Record<string, unknown>; bytes: number }> {
  const raw = await readAtMost(body, MAX_UPSTREAM_REPLY_BYTES);
  const parsed = parseStrictJson(new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(raw));
  return { response: isResponseTo(parsed, id) ? parsed : undefined, bytes: raw.byteLength };
}

/**
 * Sends one message and reads its reply. Failures are the gateway's upstream errors: an unknown
 * upstream session (404) becomes `mcp_session_unknown` so the client starts a new one; a reply too
 * large is `tool_result_too_large`; anything unreadable is `upstream_error`; no answer in
 * TOOL_TIMEOUT_MS is `upstream_timeout`.
 */
export async function exchange(egress: Egress, server: McpServer, request: UpstreamRequest): Promise<UpstreamReply> {
  const deadline = new AbortController();
  const abort = () => deadline.abort(request.signal.reason);
  request.signal.addEventListener("abort", abort, { once: true });
  const timer = setTimeout(() => deadline.abort(new DOMException("the MCP server took too long", "TimeoutError")), TOOL_TIMEOUT_MS);
  const timedOut = () => deadline.signal.reason instanceof DOMException && deadline.signal.reason.name === "TimeoutError";
  const headers: Record<string, string> = {
    authorization: `Bearer ${request.token}`,
    accept: "application/json, text/event-stream",
    "x-request-id": request.requestId,
  };
  if (request.message) headers["content-type"] = "application/json";
  if (request.session !== null) headers["mcp-session-id"] = request.session;
  if (request.protocolVersion !== null) headers["mcp-protocol-version"] = request.protocolVersion;
  try {
    const response = await egress(server.endpoint, {
      method: request.method,
      headers,
      ...(request.message ? { body: JSON.stringify(request.message) } : {}),
      signal: deadline.signal,
    });
    const session = response.headers.get("mcp-session-id");
    if (!response.ok || request.awaitId === undefined) {
      await response.body?.cancel().catch(() => undefined);
      if (response.status === 404 && request.session !== null) {
        throw new GatewayError("mcp_session_unknown", "the MCP server ended this session: initialize a new one");
      }
      if (!response.ok && !(request.method === "DELETE" && response.status === 405)) {
        throw new GatewayError("upstream_error", `the MCP server "${server.id}" answered with status ${response.status}`);
      }
      return { status: response.status, session, bytes: 0 };
    }
    const type = response.headers.get("content-type") ?? "";
    let read: { response?: Record<string, unknown>; bytes: number };
    if (/^text\/event-stream\s*(;|$)/i.test(type) && response.body) read = await responseFromStream(response.body, request.awaitId);
    else if (/^application\/json\s*(;|$)/i.test(type)) read = await responseFromJson(response.body, request.awaitId);
    else throw new GatewayError("upstream_error", `the MCP server "${server.id}" answered with neither JSON nor SSE`);
    if (!read.response) throw new GatewayError("upstream_error", `the MCP server "${server.id}" sent no response to the request`);
    return { status: response.status, session, response: read.response, bytes: read.bytes };
  } catch (error) {
    if (error instanceof GatewayError) throw error;
    if (error instanceof TooLargeError) throw new GatewayError("tool_result_too_large", `the reply of the MCP server "${server.id}" exceeds ${MAX_UPSTREAM_REPLY_BYTES} bytes`);
    if (timedOut()) throw new GatewayError("upstream_timeout", `the MCP server "${server.id}" did not answer in time`, { cause: error });
    const what = error instanceof MalformedEventError || error instanceof SyntaxError ? "sent a malformed reply" : "broke off its reply";
    throw new GatewayError("upstream_error", `the MCP server "${server.id}" ${what}`, { cause: error });
  } finally {
    clearTimeout(timer);
    request.signal.removeEventListener("abort", abort);
  }
}
