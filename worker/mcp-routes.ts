/**
 * `/mcp/{server}`: the MCP proxy (streamable HTTP), and the gateway as the protected resource the
 * MCP client sees (RFC 9728 metadata at `/.well-known/oauth-protected-resource/mcp/{server}`).
 *
 *   POST    one JSON-RPC message → one JSON answer (`application/json`), or 202 for a notification
 *   GET     405: the gateway offers no server-initiated stream (it relays no server requests)
 *   DELETE  ends the session upstream (the session must be the caller's)
 *
 * Every answer is JSON-RPC: a refusal is a JSON-RPC error whose `data.code` is the gateway's error
 * code (worker/tools/mcp-jsonrpc.ts maps them), with the HTTP status the transport calls for, and is
 * committed to the audit log. A 401 names the metadata document (`resource_metadata`).
 */
import type { Context } from "hono";
import { authenticateCaller, commit, configAudit, decisionRecord, egressFor, requestEnvironment, type PipelineDeps } from "./caller.ts";
import type { Principal } from "./context.ts";
import type { AppEnv } from "./env.ts";
import { asGatewayError, DPOP_ALGORITHMS, errorResponse, GatewayError } from "./errors.ts";
import { parseStrictJson } from "./lib/strict-json.ts";
import { readBoundedBody } from "./network/index.ts";
import { MAX_TOOL_ARGUMENT_BYTES, assertKeyRetention, DEFAULT_GATEWAY_ISSUER, type JwsSigner, handleMessage, checkSession, isAudited, type McpAnswer, type McpExchange, mcpMessageToken, httpStatusOf, idOf, type JsonRpcId, jsonRpcError, parseJsonRpcMessage, createSessionVerifier, type McpSession, type PublishedKeys, type SessionVerifier, exchange } from "./tools/index.ts";
import { KEY_RING_NAME, keyRingPolicy } from "./verify/index.ts";
import type { GatewayConfig, McpServer } from "./workload/index.ts";

/**
 * The largest MCP message accepted, in bytes: 128 KiB, twice the largest tool arguments
 * (MAX_TOOL_ARGUMENT_BYTES, 64 KiB), which covers the JSON-RPC envelope and JSON escaping.
 */
export const MAX_MCP_MESSAGE_BYTES = 2 * MAX_TOOL_ARGUMENT_BYTES;

const SERVER_ID = /^[a-z0-9][a-z0-9_-]{0,62}$/;

type KeyRingStub = JwsSigner & { publicKeys: PublishedKeys };

function keyRing(env: AppEnv["Bindings"]): KeyRingStub {
  return env.KEY_RING.get(env.KEY_RING.idFromName(KEY_RING_NAME)) as unknown as KeyRingStub;
}

function issuerOf(env: AppEnv["Bindings"]): string {
  return env.GATEWAY_ISSUER || DEFAULT_GATEWAY_ISSUER;
}

/** One session verifier per isolate and issuer: it caches the KeyRing's imported public keys. */
const verifiers = new Map<string, SessionVerifier>();

function sessionVerifier(env: AppEnv["Bindings"]): SessionVerifier {
  const issuer = issuerOf(env);
  let verifier = verifiers.get(issuer);
  if (!verifier) {
    verifier = createSessionVerifier(issuer, () => keyRing(env).publicKeys());
    verifiers.set(issuer, verifier);
  }
  return verifier;
}

function resourceOf(c: Context<AppEnv>, server: string): string {
  return `${new URL(c.req.url).origin}/mcp/${server}`;
}

function metadataUrlOf(c: Context<AppEnv>, server: string): string {
  return `${new URL(c.req.url).origin}/.well-known/oauth-protected-resource/mcp/${server}`;
}

function jsonRpcResponse(c: Context<AppEnv>, status: number, body: Record<string, unknown>, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", "x-request-id": c.var.state.requestId, ...headers } });
}

/** A refusal as a JSON-RPC error; a 401 keeps the gateway's challenge and adds where the metadata is. */
function refusalResponse(c: Context<AppEnv>, error: GatewayError, id: JsonRpcId | null): Response {
  const requestId = c.var.state.requestId;
  const server = c.req.param("server") ?? "";
  const headers: Record<string, string> = { ...error.headers };
  if (error.status === 401) {
    const withMetadata = SERVER_ID.test(server)
      ? new GatewayError(error.code, error.message, { challenge: { ...error.challenge, resourceMetadata: metadataUrlOf(c, server) } })
      : error;
    headers["www-authenticate"] = errorResponse(withMetadata, "openai", requestId).headers.get("www-authenticate") ?? "";
  }
  const extra = error.challenge?.acrValues ? { acrValues: error.challenge.acrValues } : {};
  return jsonRpcResponse(c, httpStatusOf(error, id), { jsonrpc: "2.0", id, error: jsonRpcError(error, requestId, extra) }, headers);
}

interface Refusable {
  principal?: Principal;
  id: JsonRpcId | null;
  method?: string;
  session?: McpSession;
}

/**
 * Answers a refusal after recording it. Authentication refusals were recorded by
 * `authenticateCaller`, tool-call refusals by their decision record; everything else is recorded here.
 */
async function refuse(c: Context<AppEnv>, deps: PipelineDeps, error: unknown, seen: Refusable): Promise<Response> {
  const refusal = asGatewayError(error);
  if (refusal.status >= 500) {
    console.error(JSON.stringify({ event: "mcp_failed", requestId: c.var.state.requestId, code: refusal.code, cause: String(refusal.cause ?? refusal) }));
  }
  if (seen.principal && !isAudited(error) && refusal.code !== "audit_unavailable") {
    await commit(
      deps.audit(c.env),
      decisionRecord(c.var.state, seen.principal, {
        action: "mcp",
        mcpServer: c.req.param("server") ?? "",
        method: seen.method ?? null,
        decision: "deny",
        code: refusal.code,
        reason: refusal.message,
        // The session's owner, when another principal presented it: the record of a hijack attempt.
        ...(seen.session ? { mcpSession: seen.session.id, sessionOwner: `${seen.session.tenant}/${seen.session.principal}` } : {}),
      }),
    ).catch(() => undefined);
  }
  return refusalResponse(c, refusal, seen.id);
}

/** The server named by the route, if it is the caller's tenant's (another tenant's server is not found). */
function serverFor(config: GatewayConfig, principal: Principal, id: string): McpServer {
  const server = config.registry.mcpServers.get(id);
  if (!server || server.tenant !== principal.tenant) throw new GatewayError("not_found", `no MCP server "${id}"`);
  return server;
}

function checkPostHeaders(c: Context<AppEnv>): void {
  const accept = (c.req.header("accept") ?? "").toLowerCase();
  if (!accept.includes("application/json") || !accept.includes("text/event-stream")) {
    throw new GatewayError("not_acceptable", "Accept must list both application/json and text/event-stream");
  }
  if (!/^application\/json\s*(;|$)/i.test(c.req.header("content-type") ?? "")) {
    throw new GatewayError("unsupported_media_type", "the body must be application/json");
  }
}

async function readMessageBody(c: Context<AppEnv>): Promise<unknown> {
  const bytes = await readBoundedBody(c.req.raw, MAX_MCP_MESSAGE_BYTES);
  try {
    return parseStrictJson(new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes));
  } catch (cause) {
    throw new GatewayError("invalid_json", "the body is not valid JSON (or repeats a member name)", { cause });
  }
}

/** The session a request names, checked (null when it names none). */
async function sessionOf(c: Context<AppEnv>, server: McpServer, principal: Principal, seen: Refusable): Promise<McpSession | null> {
  const id = c.req.header("mcp-session-id");
  if (id === undefined) return null;
  const session = await sessionVerifier(c.env)(id, Date.now());
  seen.session = session;
  return checkSession(session, server, principal, c.req.header("mcp-protocol-version") ?? null);
}

interface Caller {
  config: GatewayConfig;
  principal: Principal;
  server: McpServer;
}

async function callerOf(c: Context<AppEnv>, deps: PipelineDeps, seen: Refusable): Promise<Caller> {
  const { config, principal } = await authenticateCaller(c, deps);
  // `Origin` (MCP transports §Security, DNS rebinding) was checked by authenticateCaller: a
  // cross-origin request is admitted only from an origin the principal's tenant lists (network/cors.ts).
  seen.principal = principal;
  return { config, principal, server: serverFor(config, principal, c.req.param("server") ?? "") };
}

function exchangeOf(c: Context<AppEnv>, deps: PipelineDeps, { config, principal, server }: Caller, session: McpSession | null): McpExchange {
  // No delegated token is minted that could outlive the key verifying it (start-up check of the invoke route too).
  assertKeyRetention(keyRingPolicy(c.env).retainMs);
  return {
    config,
    principal,
    server,
    state: c.var.state,
    environment: requestEnvironment(principal, c.req.raw, c.var.state.receivedAt),
    sink: deps.audit(c.env),
    egress: egressFor(config),
    signer: keyRing(c.env),
    issuer: issuerOf(c.env),
    session,
    signal: c.req.raw.signal,
  };
}

function answerResponse(c: Context<AppEnv>, answer: McpAnswer): Response {
  if (answer.body === undefined) return new Response(null, { status: answer.status, headers: { "x-request-id": c.var.state.requestId, ...answer.headers } });
  return jsonRpcResponse(c, answer.status, answer.body, answer.headers);
}

/** `POST /mcp/{server}`: one JSON-RPC message. */
export async function handleMcpPost(c: Context<AppEnv>, deps: PipelineDeps): Promise<Response> {
  const seen: Refusable = { id: null };
  try {
    const caller = await callerOf(c, deps, seen);
    checkPostHeaders(c);
    const body = await readMessageBody(c);
    seen.id = idOf(body);
    const message = parseJsonRpcMessage(body);
    seen.method = message.method;
    const session = await sessionOf(c, caller.server, caller.principal, seen);
    return answerResponse(c, await handleMessage(exchangeOf(c, deps, caller, session), message));
  } catch (error) {
    return refuse(c, deps, error, seen);
  }
}

/** `DELETE /mcp/{server}`: the client ends its session; the upstream is told, with a token of the gateway's. */
export async function handleMcpDelete(c: Context<AppEnv>, deps: PipelineDeps): Promise<Response> {
  const seen: Refusable = { id: null, method: "DELETE" };
  try {
    const caller = await callerOf(c, deps, seen);
    const session = await sessionOf(c, caller.server, caller.principal, seen);
    if (!session) throw new GatewayError("mcp_out_of_order", "DELETE needs the Mcp-Session-Id of the session to end");
    const x = exchangeOf(c, deps, caller, session);
    await commit(x.sink, decisionRecord(x.state, x.principal, { action: "mcp_end_session", decision: "allow", mcpServer: x.server.id, mcpSession: session.id }));
    const reply = await exchange(x.egress, x.server, {
      method: "DELETE",
      token: await mcpMessageToken(x, {}),
      session: session.upstream,
      protocolVersion: session.protocolVersion,
      requestId: x.state.requestId,
      signal: x.signal,
    });
    // 405: the upstream does not let clients end sessions (MCP transports §Session Management).
    return new Response(null, { status: reply.status === 405 ? 405 : 204, headers: { "x-request-id": c.var.state.requestId, ...(reply.status === 405 ? { allow: "POST" } : {}) } });
  } catch (error) {
    return refuse(c, deps, error, seen);
  }
}

/** `GET /mcp/{server}`: no server-initiated stream is offered (the transport allows 405). */
export function handleMcpGet(c: Context<AppEnv>): Response {
  return jsonRpcResponse(
    c,
    405,
    { jsonrpc: "2.0", id: null, error: jsonRpcError(new GatewayError("method_not_allowed", "the gateway offers no server-initiated stream: POST messages"), c.var.state.requestId) },
    { allow: "POST, DELETE" },
  );
}

/**
 * `GET /.well-known/oauth-protected-resource/mcp/{server}` (RFC 9728 §3, path-inserted form): which
 * authorization servers issue tokens this resource accepts (the registry's issuers of the server's
 * tenant), how to present them, and the scopes to ask for. Public, like any discovery document.
 */
export async function handleMcpResourceMetadata(c: Context<AppEnv>, deps: PipelineDeps): Promise<Response> {
  const id = c.req.param("server") ?? "";
  const config = await deps.config.current(c.env, configAudit(() => deps.audit(c.env), c.var.state));
  const server = config.registry.mcpServers.get(id);
  if (!server) throw new GatewayError("not_found", `no MCP server "${id}"`);
  const issuers = config.registry.issuers.filter((issuer) => issuer.kind === "oidc" && issuer.tenants.includes(server.tenant));
  return c.json(
    {
      resource: resourceOf(c, server.id),
      authorization_servers: issuers.map((issuer) => issuer.issuer),
      bearer_methods_supported: ["header"],
      ...(server.scopes ? { scopes_supported: server.scopes } : {}),
      ...(server.description ? { resource_name: server.description } : {}),
      dpop_signing_alg_values_supported: [...DPOP_ALGORITHMS],
    },
    200,
    { "cache-control": "public, max-age=300" },
  );
}
