/**
 * JSON-RPC 2.0 as the MCP proxy reads and writes it: one message per POST (the MCP revisions the
 * gateway speaks, 2025-06-18 and later, removed batching), every message checked for shape before
 * anything else looks at it, and every refusal mapped from the gateway's error code to a JSON-RPC
 * error code and an HTTP status. Pure.
 */
import { type ErrorCode, GatewayError } from "../errors.ts";
import { isRecord } from "../providers/validate.ts";

/** JSON-RPC ids: MCP forbids `null` for requests (2025-06-18 §Requests), and so does the gateway. */
export type JsonRpcId = string | number;

export type JsonRpcMessage =
  | { kind: "request"; id: JsonRpcId; method: string; params: Record<string, unknown> | undefined }
  | { kind: "notification"; method: string; params: Record<string, unknown> | undefined };

/** The JSON-RPC error object (`code`, `message`, `data`). `data.code` is the gateway's error code. */
export interface JsonRpcError {
  code: number;
  message: string;
  data: { code: ErrorCode; requestId: string; [field: string]: unknown };
}

/** JSON-RPC 2.0 §5.1 reserved codes, and the implementation-defined server errors the gateway adds. */
export const JSONRPC = {
  parseError: -32700,
  invalidRequest: -32600,
  methodNotFound: -32601,
  invalidParams: -32602,
  internalError: -32603,
  /** The gateway refused: authentication, policy, a session of another principal. */
  refused: -32001,
  /** The tool answered, but its result may not reach this caller (classified above, too large, not valid). */
  resultWithheld: -32002,
} as const;

const JSONRPC_CODES: Partial<Record<ErrorCode, number>> = {
  invalid_json: JSONRPC.parseError,
  payload_too_large: JSONRPC.invalidRequest,
  unsupported_media_type: JSONRPC.invalidRequest,
  not_acceptable: JSONRPC.invalidRequest,
  mcp_invalid_message: JSONRPC.invalidRequest,
  mcp_batch_unsupported: JSONRPC.invalidRequest,
  mcp_out_of_order: JSONRPC.invalidRequest,
  mcp_protocol_version: JSONRPC.invalidRequest,
  mcp_method_not_found: JSONRPC.methodNotFound,
  invalid_request: JSONRPC.invalidParams,
  tool_not_found: JSONRPC.invalidParams,
  tool_not_offered: JSONRPC.invalidParams,
  tool_arguments_invalid: JSONRPC.invalidParams,
  tool_arguments_too_large: JSONRPC.invalidParams,
  tool_result_invalid: JSONRPC.resultWithheld,
  tool_result_too_large: JSONRPC.resultWithheld,
  tool_result_classified: JSONRPC.resultWithheld,
  output_withheld: JSONRPC.resultWithheld,
  upstream_error: JSONRPC.internalError,
  upstream_timeout: JSONRPC.internalError,
  egress_denied: JSONRPC.internalError,
  audit_unavailable: JSONRPC.internalError,
  config_unavailable: JSONRPC.internalError,
  internal: JSONRPC.internalError,
};

/** Refusals of one well-formed request, answered in-band (HTTP 200) so the client's call fails, not its session. */
const IN_BAND: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  "mcp_method_not_found",
  "invalid_request",
  "tool_not_found",
  "tool_not_offered",
  "tool_arguments_invalid",
  "tool_arguments_too_large",
  "tool_result_invalid",
  "tool_result_too_large",
  "tool_result_classified",
  "output_withheld",
  "policy_denied",
  "forbidden",
  "upstream_error",
  "upstream_timeout",
  "egress_denied",
]);

export function jsonRpcCodeOf(code: ErrorCode): number {
  return JSONRPC_CODES[code] ?? JSONRPC.refused;
}

/** HTTP 200 for a refused call the client should see as a failed request; the error's own status otherwise. */
export function httpStatusOf(error: GatewayError, id: JsonRpcId | null): number {
  return id !== null && IN_BAND.has(error.code) ? 200 : error.status;
}

export function jsonRpcError(error: GatewayError, requestId: string, extra: Record<string, unknown> = {}): JsonRpcError {
  return { code: jsonRpcCodeOf(error.code), message: error.message, data: { ...extra, code: error.code, requestId } };
}

/**
 * Reads one JSON-RPC message from a parsed body. Arrays (batches) are refused: MCP 2025-06-18
 * removed them. Responses from the client are refused too: the gateway forwards no server-initiated
 * requests, so there is nothing a client could be answering.
 */
export function parseJsonRpcMessage(body: unknown): JsonRpcMessage {
  if (Array.isArray(body)) throw new GatewayError("mcp_batch_unsupported", "JSON-RPC batches are not supported (MCP 2025-06-18 and later send one message per POST)");
  if (!isRecord(body) || body.jsonrpc !== "2.0") throw new GatewayError("mcp_invalid_message", 'the body is not a JSON-RPC 2.0 message ("jsonrpc": "2.0")');
  if ("result" in body || "error" in body) {
    throw new GatewayError("mcp_invalid_message", "the gateway sent no request this message could answer");
  }
  const { method, params } = body;
  if (typeof method !== "string" || method.length === 0 || method.length > 128) {
    throw new GatewayError("mcp_invalid_message", '"method" must be a string of 1 to 128 characters');
  }
  if (params !== undefined && !isRecord(params)) throw new GatewayError("mcp_invalid_message", '"params" must be an object (MCP uses named parameters)');
  if (!("id" in body)) return { kind: "notification", method, params };
  const { id } = body;
  const validId = (typeof id === "string" && id.length > 0 && id.length <= 256) || (typeof id === "number" && Number.isSafeInteger(id));
  if (!validId) throw new GatewayError("mcp_invalid_message", '"id" must be a non-empty string or an integer (not null)');
  return { kind: "request", id, method, params };
}

/** The id of a body that failed to parse as a message, when it carried a usable one, so the error can answer it. */
export function idOf(body: unknown): JsonRpcId | null {
  if (!isRecord(body)) return null;
  const { id } = body;
  return (typeof id === "string" && id.length <= 256) || (typeof id === "number" && Number.isSafeInteger(id)) ? id : null;
}
