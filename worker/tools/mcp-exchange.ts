/**
 * What every MCP message is handled with, and the steps they share: the session check, the
 * delegated token that goes with each upstream message, forwarding, and reading the upstream's
 * result. The caller's token never goes upstream: each message carries a fresh one of the gateway's.
 */
import type { Principal, RequestState } from "../context.ts";
import { GatewayError } from "../errors.ts";
import type { Egress } from "../network/index.ts";
import type { RequestEnvironment } from "../policy/index.ts";
import { isRecord } from "../providers/validate.ts";
import type { AuditSink } from "../verify/index.ts";
import type { GatewayConfig, McpServer } from "../workload/index.ts";
import { argumentsDigestOf } from "./authorize.ts";
import { actorClaim, DELEGATED_TOKEN_LIFE_S, DELEGATED_TOKEN_TYPE, type JwsSigner } from "./delegated-token.ts";
import type { JsonRpcId } from "./mcp-jsonrpc.ts";
import { type McpSession, ownedBy } from "./mcp-session.ts";
import { exchange, type UpstreamReply } from "./mcp-upstream.ts";

/** Everything one message is handled with; built per request by the route. */
export interface McpExchange {
  config: GatewayConfig;
  principal: Principal;
  server: McpServer;
  state: RequestState;
  environment: RequestEnvironment;
  sink: AuditSink;
  egress: Egress;
  signer: JwsSigner;
  issuer: string;
  /** The session the message came in, checked (`checkSession`); null for `initialize`. */
  session: McpSession | null;
  signal: AbortSignal;
}

/** What the route answers: a JSON-RPC body (absent: 202 Accepted) and extra headers. */
export interface McpAnswer {
  status: number;
  body?: Record<string, unknown>;
  headers?: Record<string, string>;
}

/** Refusals whose audit record was already committed (a tool-call decision): the route records no second one. */
const audited = new WeakSet<GatewayError>();

export function markAudited(error: GatewayError): GatewayError {
  audited.add(error);
  return error;
}

export function isAudited(error: unknown): boolean {
  return error instanceof GatewayError && audited.has(error);
}

/**
 * The session a message names, checked against the route and the caller: a session of another
 * server is unknown here (404); one of another principal is refused (403) and never reaches the
 * upstream; the `MCP-Protocol-Version` header must be the version negotiated for the session.
 */
export function checkSession(session: McpSession, server: McpServer, principal: Principal, protocolVersion: string | null): McpSession {
  if (session.server !== server.id) throw new GatewayError("mcp_session_unknown", "no such MCP session on this server: initialize a new one");
  if (!ownedBy(session, principal)) throw new GatewayError("mcp_session_forbidden", "this MCP session belongs to another principal");
  if (protocolVersion !== session.protocolVersion) {
    throw new GatewayError("mcp_protocol_version", `MCP-Protocol-Version must be "${session.protocolVersion}", the version negotiated for this session`);
  }
  return session;
}

/**
 * A delegated token for one upstream message other than a tool call: `aud` the server's audience,
 * `tool`/`scope` `mcp:<server>`, `args_sha256` the digest of the exact message (RFC 8785 canonical
 * form of what is sent), 60 s, single use. The server checks it as it checks a tool's token.
 */
export async function mcpMessageToken(x: McpExchange, message: Record<string, unknown>): Promise<string> {
  const iat = Math.floor(Date.now() / 1000);
  const act = actorClaim(x.principal);
  const claims = {
    iss: x.issuer,
    sub: x.principal.id,
    aud: x.server.audience,
    iat,
    exp: iat + DELEGATED_TOKEN_LIFE_S,
    jti: crypto.randomUUID(),
    tenant: x.principal.tenant,
    tool: `mcp:${x.server.id}`,
    scope: `mcp:${x.server.id}`,
    args_sha256: argumentsDigestOf(message),
    ...(act ? { act } : {}),
  };
  return x.signer.signJws(claims, DELEGATED_TOKEN_TYPE);
}

/** Sends one message upstream in the exchange's session, with its own delegated token. */
export async function forward(x: McpExchange, message: Record<string, unknown>, awaitId?: JsonRpcId): Promise<UpstreamReply> {
  return exchange(x.egress, x.server, {
    method: "POST",
    message,
    ...(awaitId !== undefined ? { awaitId } : {}),
    token: await mcpMessageToken(x, message),
    session: x.session?.upstream ?? null,
    protocolVersion: x.session?.protocolVersion ?? null,
    requestId: x.state.requestId,
    signal: x.signal,
  });
}

/** The upstream's JSON-RPC error, as the gateway's own: its message is not relayed (it may hold internals). */
function upstreamRefusal(x: McpExchange, response: Record<string, unknown>): GatewayError | undefined {
  if (!("error" in response)) return undefined;
  const code = isRecord(response.error) && typeof response.error.code === "number" ? response.error.code : "none";
  return new GatewayError("upstream_error", `the MCP server "${x.server.id}" answered with JSON-RPC error ${code}`);
}

export function resultOf(x: McpExchange, response: Record<string, unknown>): Record<string, unknown> {
  const refusal = upstreamRefusal(x, response);
  if (refusal) throw refusal;
  if (!isRecord(response.result)) throw new GatewayError("upstream_error", `the MCP server "${x.server.id}" answered without a result object`);
  return response.result;
}

