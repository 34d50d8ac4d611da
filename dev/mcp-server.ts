/**
 * The dev MCP server (MCP_SERVER_ORIGIN, :8797): a real MCP server (`@modelcontextprotocol/sdk`,
 * `McpServer` over the streamable HTTP transport, stateful sessions, SSE replies by default) that
 * sits behind the gateway's `/mcp/acme-docs` and trusts nothing but the gateway's delegated tokens.
 *
 * Every HTTP request must carry one (`Authorization: Bearer`), checked with the verifier tool owners
 * get (worker/tools/verify-delegated-token.ts): the gateway's signature, issuer, a life of at most
 * 60 s, single use (`jti`), and
 *   - for `tools/call`: the called tool's own audience and id, and `args_sha256` over its arguments;
 *   - for every other message: this server's audience, `tool` `mcp:acme-docs`, and `args_sha256`
 *     over the whole JSON-RPC message (a DELETE: over `{}`).
 * A session is bound to the subject of the token that initialized it; a token for anyone else is
 * refused in that session. Refusals are JSON-RPC errors (401/403) and run nothing.
 *
 * Tools: `search_documents` and `send_email` (registry tools), and `export_all_documents`, which is
 * in no registry: the gateway must never list it nor let a call reach it. `search_documents` steers
 * on its query: `#secret` adds a hit holding a credential (the gateway must withhold the result).
 *
 * - `GET /__mock/calls`: the last messages received (method, tool, outcome, token subject), newest
 *   last, so tests can see what reached the server; `DELETE` clears it.
 * - `POST /__mock/trusted-keys` (a JWKS): TEST-ONLY, as in dev/tools.ts: the workerd tests' own
 *   in-process gateway signs with a key ring no URL serves, so they hand its keys over here.
 *
 * Run directly (`tsx dev/mcp-server.ts`) it listens on MCP_SERVER_ORIGIN's port.
 */
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { createRemoteJWKSet, type JSONWebKeySet, type JWTVerifyGetKey } from "jose";
import { z } from "zod";
import seededServers from "../kv-seeds/mcp-servers.json" with { type: "json" };
import seededTools from "../kv-seeds/tools.json" with { type: "json" };
import { DEFAULT_GATEWAY_ISSUER } from "../worker/tools/delegated-token-claims.ts";
import { DelegatedTokenError, memoryReplayStore, verifyDelegatedToken } from "../worker/tools/verify-delegated-token.ts";
import { GATEWAY_ORIGIN, MCP_SERVER_ORIGIN } from "./config.ts";
import { trustedGatewayKeys } from "./lib/gateway-keys.ts";
import { closeServer, isEntryPoint, listen, readBodyAtMost } from "./lib/http-server.ts";

/** The seeded server this process plays (kv-seeds/mcp-servers.json). */
const SERVER_ID = "acme-docs";

export interface DevMcpServerOptions {
  /** 0 picks a free port (tests). */
  port: number;
  host?: string;
  /** The gateway's keys; default: its JWKS at `<gatewayOrigin>/.well-known/jwks.json`. */
  keys?: JWTVerifyGetKey;
  gatewayOrigin?: string;
  issuer?: string;
  /** Answer with JSON bodies instead of SSE streams (the transport's `enableJsonResponse`). */
  json?: boolean;
}

export interface McpCallLogEntry {
  method: string;
  tool?: string;
  /** `ok`, or the refusal code. */
  outcome: string;
  sub?: string;
  /** The caller's request id, as the gateway sent it. */
  requestId: string | null;
  time: string;
}

export interface RunningDevMcpServer {
  origin: string;
  /** The streamable HTTP endpoint. */
  url: string;
  calls(): readonly McpCallLogEntry[];
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 256 * 1024;
const LOG_CAPACITY = 100;
/** Sessions kept at most; the oldest is dropped past it (a dev server, not a store). */
const MAX_SESSIONS = 500;

const seeded = seededServers.find((s) => s.id === SERVER_ID);
if (!seeded) throw new TypeError(`kv-seeds/mcp-servers.json has no server "${SERVER_ID}"`);
const SERVER_AUDIENCE = seeded.audience;
const TOOL_AUDIENCES: Record<string, string> = Object.fromEntries(seededTools.map((t) => [t.id, t.audience]));

function hits(query: string): string {
  const lines = [`acme/handbook — Employee handbook: … ${query} …`, `acme/roadmap — Product roadmap: … ${query} …`];
  if (query.includes("#secret")) lines.push("acme/ops-notes — Ops notes: deploy key AKIAIOSFODNN7EXAMPLE");
  return lines.join("\n");
}

/** One MCP server per session, as the SDK's stateful examples do. */
function mcpServer(): McpServer {
  const server = new McpServer({ name: "verity-dev-acme-docs", version: "1.0.0" });
  server.registerTool(
    "search_documents",
    { description: "Search acme's documents", inputSchema: { query: z.string().min(1), matter: z.string().optional() } },
    ({ query, matter }) => ({ content: [{ type: "text", text: hits(query) }], structuredContent: { query, ...(matter ? { matter } : {}), count: query.includes("#secret") ? 3 : 2 } }),
  );
  server.registerTool(
    "send_email",
    { description: "Send an email", inputSchema: { to: z.string(), subject: z.string(), body: z.string() } },
    ({ to, subject }) => ({ content: [{ type: "text", text: `sent "${subject}" to ${to}` }] }),
  );
  server.registerTool(
    "export_all_documents",
    { description: "Exports every document of every tenant (never registered: the gateway must hide it)", inputSchema: {} },
    () => ({ content: [{ type: "text", text: "everything" }] }),
  );
  return server;
}

function refuse(response: ServerResponse, status: number, code: string, message: string): void {
  response.writeHead(status, { "content-type": "application/json" });
  response.end(JSON.stringify({ jsonrpc: "2.0", id: null, error: { code: -32001, message, data: { code } } }));
}

interface Session {
  transport: StreamableHTTPServerTransport;
  /** `<tenant>/<sub>` of the token that initialized it. */
  owner: string;
}

/** What the token for this message must be for: its audience, `tool` claim and the bytes `args_sha256` covers. */
function expectationsFor(method: string | undefined, message: Record<string, unknown> | undefined, body: string): { audience: string; tool: string; body: string } {
  const params = message?.params as { name?: unknown; arguments?: unknown } | undefined;
  if (method === "tools/call" && typeof params?.name === "string" && params.name in TOOL_AUDIENCES) {
    return { audience: TOOL_AUDIENCES[params.name]!, tool: params.name, body: JSON.stringify(params.arguments ?? {}) };
  }
  return { audience: SERVER_AUDIENCE, tool: `mcp:${SERVER_ID}`, body };
}

export async function startDevMcpServer(options: DevMcpServerOptions): Promise<RunningDevMcpServer> {
  const host = options.host ?? "127.0.0.1";
  const { keys, trust } = trustedGatewayKeys(options.keys ?? createRemoteJWKSet(new URL("/.well-known/jwks.json", options.gatewayOrigin ?? GATEWAY_ORIGIN)));
  const issuer = options.issuer ?? DEFAULT_GATEWAY_ISSUER;
  const replay = memoryReplayStore();
  const sessions = new Map<string, Session>();
  let log: McpCallLogEntry[] = [];

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const body = request.method === "POST" ? await readBodyAtMost(request, MAX_BODY_BYTES) : "{}";
    let message: Record<string, unknown> | undefined;
    try {
      message = request.method === "POST" && body !== undefined ? (JSON.parse(body) as Record<string, unknown>) : undefined;
    } catch {
      message = undefined;
    }
    const method = request.method === "POST" ? (typeof message?.method === "string" ? message.method : "?") : request.method ?? "?";
    const tool = method === "tools/call" ? String((message?.params as { name?: unknown } | undefined)?.name) : undefined;
    const requestId = typeof request.headers["x-request-id"] === "string" ? request.headers["x-request-id"] : null;
    const entry: McpCallLogEntry = { method, ...(tool ? { tool } : {}), outcome: "ok", requestId, time: new Date().toISOString() };
    log.push(entry);
    if (log.length > LOG_CAPACITY) log.shift();
    const fail = (status: number, code: string, text: string) => {
      entry.outcome = code;
      refuse(response, status, code, text);
    };
    if (body === undefined) return fail(413, "payload_too_large", "the message is too large");
    const token = /^Bearer ([\w-]+\.[\w-]+\.[\w-]+)$/.exec(request.headers.authorization ?? "")?.[1];
    if (!token) return fail(401, "token_missing", "a delegated token from the gateway is required");
    let owner: string;
    try {
      const expected = expectationsFor(method, message, body);
      const claims = await verifyDelegatedToken(token, { keys, issuer, replay, ...expected });
      owner = `${claims.tenant}/${claims.sub}`;
      entry.sub = claims.sub;
    } catch (error) {
      if (error instanceof DelegatedTokenError) return fail(401, error.code, error.message);
      return fail(500, "internal", "the dev MCP server failed");
    }

    const sessionId = request.headers["mcp-session-id"];
    if (typeof sessionId === "string") {
      const session = sessions.get(sessionId);
      if (!session) return fail(404, "session_unknown", "no such session");
      if (session.owner !== owner) return fail(403, "session_forbidden", "this session belongs to another subject");
      await session.transport.handleRequest(request, response, message);
      if (request.method === "DELETE") sessions.delete(sessionId);
      return;
    }
    if (method !== "initialize") return fail(400, "session_required", "initialize first");
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      enableJsonResponse: options.json ?? false,
      onsessioninitialized: (id) => {
        sessions.set(id, { transport, owner });
        if (sessions.size > MAX_SESSIONS) {
          const oldest = sessions.keys().next().value!;
          void sessions.get(oldest)?.transport.close();
          sessions.delete(oldest);
        }
      },
    });
    await mcpServer().connect(transport);
    await transport.handleRequest(request, response, message);
  }

  const server = createServer((request, response) => {
    const path = new URL(request.url ?? "/", "http://localhost").pathname;
    if (path === "/__mock/calls") {
      if (request.method === "DELETE") log = [];
      response.writeHead(200, { "content-type": "application/json" });
      return response.end(JSON.stringify(request.method === "DELETE" ? [] : log));
    }
    if (path === "/__mock/trusted-keys" && request.method === "POST") {
      void readBodyAtMost(request, MAX_BODY_BYTES).then((body) => {
        try {
          trust(JSON.parse(body ?? "") as JSONWebKeySet);
          response.writeHead(204).end();
        } catch {
          refuse(response, 400, "invalid_request", "a JWKS is required");
        }
      });
      return;
    }
    if (path !== "/mcp") return refuse(response, 404, "not_found", "the MCP endpoint is /mcp");
    handle(request, response).catch(() => {
      if (!response.headersSent) refuse(response, 500, "internal", "the dev MCP server failed");
    });
  });
  const port = await listen(server, options.port, host);
  const origin = `http://${host}:${port}`;
  return {
    origin,
    url: `${origin}/mcp`,
    calls: () => log,
    close: async () => {
      await Promise.allSettled([...sessions.values()].map((s) => s.transport.close()));
      await closeServer(server);
    },
  };
}

if (isEntryPoint(import.meta.url)) {
  const running = await startDevMcpServer({ port: Number(new URL(MCP_SERVER_ORIGIN).port) });
  console.log(`dev MCP server on ${running.url} (acme-docs; call log at /__mock/calls)`);
}
