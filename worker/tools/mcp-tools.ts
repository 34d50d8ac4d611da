/**
 * MCP `tools/list` and `tools/call` through the gateway.
 *
 * `tools/list`: the upstream's list, cut down to the tools that are (a) registered for this server,
 * and (b) ones the PDP lets this caller call at all (`call_tool` with empty, public arguments). Each
 * listed tool is described by the signed registry (name, description, argument schema), never by
 * the upstream's own text, so a server cannot widen a schema or slip instructions to the model.
 *
 * `tools/call`: `authorizeToolCall` (origin "caller", offered = the server's registered tools) →
 * the decision committed → the call forwarded with a delegated token for that tool and those
 * arguments → the result classified by the data plane (withheld above the tool's classification,
 * or holding a secret, as `POST /v1/tools/{tool}/invoke` does) → the completion committed.
 */
import { commit, decisionRecord, principalRef } from "../caller.ts";
import { classify } from "../data/index.ts";
import { asGatewayError, GatewayError } from "../errors.ts";
import { callToolRequest } from "../policy/index.ts";
import { isRecord } from "../providers/validate.ts";
import type { AuditRecord } from "../verify/index.ts";
import type { Tool } from "../workload/index.ts";
import { authorizeToolCall, textsOf, toolDecisionRecord, toolResultRefusal, verdictError, type ToolCall } from "./authorize.ts";
import { issueDelegatedToken } from "./delegated-token.ts";
import { forward, isAudited, markAudited, type McpExchange, resultOf } from "./mcp-exchange.ts";
import type { JsonRpcId } from "./mcp-jsonrpc.ts";
import { exchange } from "./mcp-upstream.ts";

/** The server's registered tools this caller may call at all, in registry order. */
function callableTools(x: McpExchange): Tool[] {
  const principal = principalRef(x.principal);
  return x.server.tools.flatMap((id) => {
    const tool = x.config.registry.tools.get(id);
    if (!tool) return [];
    const decision = x.config.pdp.decide(
      callToolRequest({ ...x.environment, principal, tool: id, origin: "caller", classification: { level: 0, categories: [] } }),
    );
    return decision.effect === "allow" ? [tool] : [];
  });
}

function definitionOf(tool: Tool): Record<string, unknown> {
  return { name: tool.id, ...(tool.description ? { description: tool.description } : {}), inputSchema: tool.arguments };
}

function sessionFields(x: McpExchange): Record<string, string> {
  return { mcpServer: x.server.id, mcpSession: x.session?.id ?? "" };
}

export async function listTools(x: McpExchange, id: JsonRpcId, params: Record<string, unknown> | undefined): Promise<Record<string, unknown>> {
  const cursor = params?.cursor;
  if (cursor !== undefined && (typeof cursor !== "string" || cursor.length > 1024)) throw new GatewayError("invalid_request", '"cursor" must be a string of at most 1024 characters');
  const reply = await forward(x, { jsonrpc: "2.0", id, method: "tools/list", params: cursor === undefined ? {} : { cursor } }, id);
  const result = resultOf(x, reply.response!);
  if (!Array.isArray(result.tools)) throw new GatewayError("upstream_error", `the MCP server "${x.server.id}" listed no tools array`);
  const offered = new Set(result.tools.flatMap((tool: unknown) => (isRecord(tool) && typeof tool.name === "string" ? [tool.name] : [])));
  const listed = callableTools(x).filter((tool) => offered.has(tool.id));
  await commit(
    x.sink,
    decisionRecord(x.state, x.principal, {
      action: "mcp_list_tools",
      decision: "allow",
      ...sessionFields(x),
      listed: listed.map((tool) => tool.id),
      withheld: result.tools.length - listed.length,
      configVersion: x.config.version,
    }),
  );
  const next = typeof result.nextCursor === "string" ? { nextCursor: result.nextCursor } : {};
  return { tools: listed.map(definitionOf), ...next };
}

function completionRecord(x: McpExchange, tool: string, fields: Record<string, unknown>): AuditRecord {
  return {
    type: "completion",
    requestId: x.state.requestId,
    tenant: x.principal.tenant,
    time: new Date().toISOString(),
    action: "call_tool",
    tool,
    ...sessionFields(x),
    ...fields,
  } as AuditRecord;
}

export async function callTool(x: McpExchange, id: JsonRpcId, params: Record<string, unknown> | undefined): Promise<Record<string, unknown>> {
  const name = params?.name;
  const args = params?.arguments;
  if (typeof name !== "string" || name.length === 0) throw new GatewayError("invalid_request", 'tools/call needs "name", a non-empty string');
  if (args !== undefined && !isRecord(args)) throw new GatewayError("invalid_request", '"arguments" must be an object');
  const call: ToolCall = { tool: name, arguments: JSON.stringify(args ?? {}), origin: "caller", offered: x.server.tools };
  const verdict = authorizeToolCall(x.config, x.principal, x.environment, call);
  await commit(x.sink, { ...toolDecisionRecord(x.state, x.principal, call, verdict), ...sessionFields(x) });
  if (!verdict.allowed) throw markAudited(verdictError(verdict));

  const { tool, argumentsDigest } = verdict;
  let jti: string | undefined;
  try {
    const issued = await issueDelegatedToken(x.signer, { issuer: x.issuer, principal: x.principal, tool, argumentsDigest, now: Date.now() });
    jti = issued.claims.jti;
    const message = { jsonrpc: "2.0", id, method: "tools/call", params: { name: tool.id, arguments: verdict.args } };
    const reply = await exchange(x.egress, x.server, {
      method: "POST",
      message,
      awaitId: id,
      token: issued.token,
      session: x.session?.upstream ?? null,
      protocolVersion: x.session?.protocolVersion ?? null,
      requestId: x.state.requestId,
      signal: x.signal,
    });
    const result = resultOf(x, reply.response!);
    const classification = classify(textsOf(result));
    const withheld = toolResultRefusal(tool, classification);
    const summary = { level: classification.level, categories: classification.categories, findings: classification.findings.length };
    await commit(
      x.sink,
      completionRecord(x, tool.id, { jti, resultBytes: reply.bytes, classification: summary, isError: result.isError === true, ...(withheld ? { error: withheld.code } : {}) }),
    );
    if (withheld) throw markAudited(withheld);
    return result;
  } catch (error) {
    const failure = asGatewayError(error);
    if (!isAudited(failure) && failure.code !== "audit_unavailable") {
      await commit(x.sink, completionRecord(x, tool.id, { ...(jti ? { jti } : {}), error: failure.code })).catch(() => undefined);
    }
    throw markAudited(failure);
  }
}
