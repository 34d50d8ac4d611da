/**
 * The MCP proxy's core: one client message, from an authenticated principal, in a session checked
 * to be theirs, handled in protocol order. The gateway speaks MCP's tools only:
 *
 *   initialize                  forwarded; the gateway issues its own session id (mcp-session.ts)
 *   notifications/initialized   forwarded (202)
 *   notifications/cancelled     forwarded (202)
 *   ping                        answered by the gateway
 *   tools/list                  forwarded; the result cut down to what the PDP lets this caller call
 *   tools/call                  authorized like any tool call, then forwarded (mcp-tools.ts)
 *
 * Any other method is refused (`mcp_method_not_found`): resources, prompts, completion and logging
 * would carry data past the PDP, and the gateway relays no server-initiated requests (sampling,
 * elicitation, roots), so it declares no client capabilities upstream. Every upstream message goes
 * with a fresh delegated token for that message (mcp-exchange.ts); the caller's token never does.
 */
import { commit, decisionRecord } from "../caller.ts";
import { GatewayError } from "../errors.ts";
import { isRecord } from "../providers/validate.ts";
import { forward, type McpAnswer, type McpExchange, resultOf } from "./mcp-exchange.ts";
import type { JsonRpcId, JsonRpcMessage } from "./mcp-jsonrpc.ts";
import { issueSession, type McpSession } from "./mcp-session.ts";
import { callTool, listTools } from "./mcp-tools.ts";
import { MCP_PROTOCOL_VERSIONS } from "./mcp-upstream.ts";

function answer(id: JsonRpcId, result: Record<string, unknown>, headers?: Record<string, string>): McpAnswer {
  return { status: 200, body: { jsonrpc: "2.0", id, result }, ...(headers ? { headers } : {}) };
}

async function initialize(x: McpExchange, id: JsonRpcId, params: Record<string, unknown> | undefined): Promise<McpAnswer> {
  if (typeof params?.protocolVersion !== "string" || !isRecord(params.clientInfo)) {
    throw new GatewayError("invalid_request", 'initialize needs "protocolVersion" (a string) and "clientInfo" (an object)');
  }
  const session: Omit<McpSession, "upstream" | "protocolVersion"> = {
    id: crypto.randomUUID(),
    server: x.server.id,
    tenant: x.principal.tenant,
    kind: x.principal.kind,
    principal: x.principal.id,
  };
  await commit(
    x.sink,
    decisionRecord(x.state, x.principal, {
      action: "mcp_initialize",
      decision: "allow",
      mcpServer: x.server.id,
      mcpSession: session.id,
      requestedVersion: params.protocolVersion,
      configVersion: x.config.version,
    }),
  );
  // No client capabilities upstream: the gateway relays no sampling, elicitation or roots requests.
  const message = { jsonrpc: "2.0", id, method: "initialize", params: { protocolVersion: params.protocolVersion, capabilities: {}, clientInfo: params.clientInfo } };
  const reply = await forward(x, message, id);
  const result = resultOf(x, reply.response!);
  const version = result.protocolVersion;
  if (typeof version !== "string" || !MCP_PROTOCOL_VERSIONS.includes(version)) {
    throw new GatewayError("mcp_protocol_version", `the MCP server negotiated protocol version "${String(version)}"; the gateway supports ${MCP_PROTOCOL_VERSIONS.join(", ")}`);
  }
  const sessionId = await issueSession(x.signer, x.issuer, { ...session, upstream: reply.session, protocolVersion: version }, Date.now());
  // Only the tools capability is passed on, and the server's own instructions are not: they are
  // text for the model that no policy has seen (the tool descriptions come from the registry).
  const capabilities = isRecord(result.capabilities) && isRecord(result.capabilities.tools) ? { tools: {} } : {};
  const info = isRecord(result.serverInfo) ? result.serverInfo : {};
  const serverInfo = { name: typeof info.name === "string" ? info.name : x.server.id, version: typeof info.version === "string" ? info.version : "unknown" };
  return answer(id, { protocolVersion: version, capabilities, serverInfo }, { "mcp-session-id": sessionId });
}

const FORWARDED_NOTIFICATIONS: ReadonlySet<string> = new Set(["notifications/initialized", "notifications/cancelled"]);

/** Handles one checked message of an authenticated principal; throws GatewayError refusals. */
export async function handleMessage(x: McpExchange, message: JsonRpcMessage): Promise<McpAnswer> {
  if (message.method === "initialize") {
    if (x.session) throw new GatewayError("mcp_out_of_order", "this session is already initialized: initialize comes once, without a session id");
    if (message.kind !== "request") throw new GatewayError("mcp_invalid_message", "initialize must be a request (with an id)");
    return initialize(x, message.id, message.params);
  }
  if (!x.session) throw new GatewayError("mcp_out_of_order", `"${message.method}" before initialize: send initialize first (this message carries no Mcp-Session-Id)`);
  if (message.kind === "notification") {
    if (!FORWARDED_NOTIFICATIONS.has(message.method)) throw new GatewayError("mcp_method_not_found", `the gateway does not relay "${message.method}"`);
    await forward(x, { jsonrpc: "2.0", method: message.method, ...(message.params ? { params: message.params } : {}) });
    return { status: 202 };
  }
  switch (message.method) {
    case "ping":
      return answer(message.id, {});
    case "tools/list":
      return answer(message.id, await listTools(x, message.id, message.params));
    case "tools/call":
      return answer(message.id, await callTool(x, message.id, message.params));
    default:
      throw new GatewayError("mcp_method_not_found", `the gateway does not relay "${message.method}" (it speaks MCP tools only)`);
  }
}
