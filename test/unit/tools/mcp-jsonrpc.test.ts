/** JSON-RPC as the MCP proxy reads it, and how each refusal maps to a JSON-RPC code and HTTP status. */
import { describe, expect, it } from "vitest";
import { GatewayError } from "../../../worker/errors.ts";
import { httpStatusOf, idOf, JSONRPC, jsonRpcCodeOf, jsonRpcError, parseJsonRpcMessage } from "../../../worker/tools/mcp-jsonrpc.ts";

function codeOf(body: unknown): string {
  try {
    parseJsonRpcMessage(body);
  } catch (error) {
    return (error as GatewayError).code;
  }
  return "accepted";
}

describe("parseJsonRpcMessage", () => {
  it("reads requests and notifications", () => {
    expect(parseJsonRpcMessage({ jsonrpc: "2.0", id: 1, method: "tools/list" })).toEqual({ kind: "request", id: 1, method: "tools/list", params: undefined });
    expect(parseJsonRpcMessage({ jsonrpc: "2.0", method: "notifications/initialized", params: {} })).toEqual({
      kind: "notification",
      method: "notifications/initialized",
      params: {},
    });
  });

  it("refuses batches, responses, other versions, bad ids, methods and params", () => {
    expect(codeOf([{ jsonrpc: "2.0", id: 1, method: "ping" }])).toBe("mcp_batch_unsupported");
    expect(codeOf([])).toBe("mcp_batch_unsupported");
    expect(codeOf({ jsonrpc: "2.0", id: 1, result: {} })).toBe("mcp_invalid_message");
    expect(codeOf({ jsonrpc: "1.0", id: 1, method: "ping" })).toBe("mcp_invalid_message");
    expect(codeOf({ jsonrpc: "2.0", id: null, method: "ping" })).toBe("mcp_invalid_message");
    expect(codeOf({ jsonrpc: "2.0", id: 1.5, method: "ping" })).toBe("mcp_invalid_message");
    expect(codeOf({ jsonrpc: "2.0", id: "", method: "ping" })).toBe("mcp_invalid_message");
    expect(codeOf({ jsonrpc: "2.0", id: 1, method: "" })).toBe("mcp_invalid_message");
    expect(codeOf({ jsonrpc: "2.0", id: 1, method: 7 })).toBe("mcp_invalid_message");
    expect(codeOf({ jsonrpc: "2.0", id: 1, method: "tools/call", params: ["positional"] })).toBe("mcp_invalid_message");
    expect(codeOf("ping")).toBe("mcp_invalid_message");
  });

  it("idOf finds a usable id in a message that failed, so its error can answer it", () => {
    expect(idOf({ id: 3, method: 1 })).toBe(3);
    expect(idOf({ id: { x: 1 } })).toBeNull();
    expect(idOf([{ id: 1 }])).toBeNull();
  });
});

describe("refusals as JSON-RPC errors", () => {
  it("maps gateway codes to JSON-RPC codes", () => {
    expect(jsonRpcCodeOf("invalid_json")).toBe(JSONRPC.parseError);
    expect(jsonRpcCodeOf("mcp_out_of_order")).toBe(JSONRPC.invalidRequest);
    expect(jsonRpcCodeOf("mcp_method_not_found")).toBe(JSONRPC.methodNotFound);
    expect(jsonRpcCodeOf("tool_arguments_invalid")).toBe(JSONRPC.invalidParams);
    expect(jsonRpcCodeOf("tool_result_classified")).toBe(JSONRPC.resultWithheld);
    expect(jsonRpcCodeOf("policy_denied")).toBe(JSONRPC.refused);
    expect(jsonRpcCodeOf("token_invalid")).toBe(JSONRPC.refused);
    expect(jsonRpcCodeOf("internal")).toBe(JSONRPC.internalError);
  });

  it("a refused call is in-band (200) when it has an id; transport refusals keep their status", () => {
    expect(httpStatusOf(new GatewayError("policy_denied", "no"), 1)).toBe(200);
    expect(httpStatusOf(new GatewayError("mcp_method_not_found", "no"), null)).toBe(400);
    expect(httpStatusOf(new GatewayError("mcp_session_forbidden", "no"), 1)).toBe(403);
    expect(httpStatusOf(new GatewayError("insufficient_user_authentication", "step up"), 1)).toBe(401);
  });

  it("carries the gateway code and request id in data, and never a cause", () => {
    const error = new GatewayError("internal", "The gateway could not complete the request.", { cause: new Error("db password xyz") });
    expect(jsonRpcError(error, "req-1")).toEqual({ code: JSONRPC.internalError, message: "The gateway could not complete the request.", data: { code: "internal", requestId: "req-1" } });
  });
});
