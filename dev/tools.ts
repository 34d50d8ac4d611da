/**
 * The mock tool server (TOOLS_ORIGIN, :8795): the seeded tools' endpoints, acting as a careful tool
 * owner would. Every call must carry a delegated token from the gateway (`Authorization: Bearer`),
 * checked with the verifier tool owners get (worker/tools/verify-delegated-token.ts): signature by a
 * key of the gateway's JWKS, issuer, this tool's audience, a life of at most 60 s, the SHA-256 of
 * the body against `args_sha256`, and its `jti` never seen before. Anything else is refused (401,
 * `{ "error": <code>, "message" }`) and the tool does not run.
 *
 * - `POST /tools/search_documents`: deterministic fake hits for the query. Queries steer the result
 *   for the gateway's tests: `#big` (a result over the gateway's 256 KiB limit), `#text` (not JSON),
 *   `#secret` (a hit holding a credential), `#fail` (status 500).
 * - `POST /tools/send_email`: a message id derived from the arguments' hash.
 * - `GET /__mock/calls`: the last calls, newest last, each with the token and body received and the
 *   outcome (`ok` or the refusal code), so tests can replay a token; `DELETE` clears it.
 * - `POST /__mock/trusted-keys` (a JWKS): TEST-ONLY, adds keys to those fetched from the gateway.
 *   The workerd tests (test/worker) run their own in-process gateway, whose key ring no URL serves;
 *   they hand its published keys over here. The e2e tests use the real chain (the gateway's JWKS URL).
 *
 * Run directly (`tsx dev/tools.ts`) it listens on TOOLS_ORIGIN's port.
 */
import { createServer, type ServerResponse } from "node:http";
import { createRemoteJWKSet, type JSONWebKeySet, type JWTVerifyGetKey } from "jose";
import { trustedGatewayKeys } from "./lib/gateway-keys.ts";
import seededTools from "../kv-seeds/tools.json" with { type: "json" };
import { DEFAULT_GATEWAY_ISSUER } from "../worker/tools/delegated-token-claims.ts";
import { DelegatedTokenError, memoryReplayStore, verifyDelegatedToken, type ReplayStore } from "../worker/tools/verify-delegated-token.ts";
import { GATEWAY_ORIGIN, TOOLS_ORIGIN } from "./config.ts";
import { closeServer, isEntryPoint, listen, readBodyAtMost } from "./lib/http-server.ts";

export interface MockToolsOptions {
  /** 0 picks a free port (tests). */
  port: number;
  host?: string;
  /** The gateway's keys; default: its JWKS at `<gatewayOrigin>/.well-known/jwks.json`. */
  keys?: JWTVerifyGetKey;
  gatewayOrigin?: string;
  issuer?: string;
  /** Tool id → audience; default: the seeded tools (kv-seeds/tools.json). */
  audiences?: Readonly<Record<string, string>>;
  /** Epoch milliseconds (tests freeze time). */
  now?: () => number;
}

export interface ToolCallLogEntry {
  tool: string;
  /** `ok`, or the refusal code. */
  outcome: string;
  token: string | null;
  body: string;
  /** The verified token's subject and id, when it verified. */
  sub?: string;
  jti?: string;
  /** The caller's request id, as the gateway sent it. */
  requestId: string | null;
  time: string;
}

export interface RunningMockTools {
  origin: string;
  calls(): readonly ToolCallLogEntry[];
  close(): Promise<void>;
}

/** The verifier refuses larger bodies anyway (the gateway caps arguments at 64 KiB); a little headroom. */
const MAX_BODY_BYTES = 80 * 1024;
const LOG_CAPACITY = 50;

function send(response: ServerResponse, status: number, body: unknown, type = "application/json"): void {
  response.writeHead(status, { "content-type": type });
  response.end(typeof body === "string" && type !== "application/json" ? body : JSON.stringify(body));
}

/** What a seeded tool answers; the arguments verified against the token. */
function run(tool: string, args: Record<string, unknown>, argsSha256: string, response: ServerResponse): void {
  if (tool === "send_email") {
    return send(response, 200, { messageId: `msg-${argsSha256.slice(0, 16)}@mock.acme.example`, to: args.to, accepted: true });
  }
  const query = String(args.query ?? "");
  if (query.includes("#fail")) return send(response, 500, { error: "the index is down" });
  if (query.includes("#text")) return send(response, 200, "plain text, not JSON", "text/plain");
  if (query.includes("#big")) return send(response, 200, { hits: [{ id: "big", snippet: "x".repeat(300 * 1024) }] });
  const hits = [
    { id: "acme/handbook", title: "Employee handbook", snippet: `… ${query} … (public)` },
    { id: "acme/roadmap", title: "Product roadmap", snippet: `… ${query} … (internal)` },
  ];
  if (query.includes("#secret")) hits.push({ id: "acme/ops-notes", title: "Ops notes", snippet: "deploy key AKIAIOSFODNN7EXAMPLE" });
  return send(response, 200, { query, ...(typeof args.matter === "string" ? { matter: args.matter } : {}), hits });
}

export async function startMockTools(options: MockToolsOptions): Promise<RunningMockTools> {
  const host = options.host ?? "127.0.0.1";
  const gatewayOrigin = options.gatewayOrigin ?? GATEWAY_ORIGIN;
  // A generous fetch time-out: the gateway under `wrangler dev` on a loaded machine can be slow to answer.
  const gatewayKeys = options.keys ?? createRemoteJWKSet(new URL("/.well-known/jwks.json", gatewayOrigin), { timeoutDuration: 15_000 });
  const trusted = trustedGatewayKeys(gatewayKeys);
  const keys = trusted.keys;
  const issuer = options.issuer ?? DEFAULT_GATEWAY_ISSUER;
  const audiences = options.audiences ?? Object.fromEntries(seededTools.map((t) => [t.id, t.audience]));
  const now = options.now ?? Date.now;
  // One store for the whole server: a token is good for one call to one tool, whichever it names.
  const replay: ReplayStore = memoryReplayStore(now);
  let log: ToolCallLogEntry[] = [];

  const server = createServer((request, response) => {
    const path = new URL(request.url ?? "/", "http://localhost").pathname;
    if (path === "/__mock/calls") {
      if (request.method === "DELETE") {
        log = [];
        return send(response, 204, "", "text/plain");
      }
      return send(response, 200, log);
    }
    if (path === "/__mock/trusted-keys" && request.method === "POST") {
      void (async () => {
        const body = await readBodyAtMost(request, MAX_BODY_BYTES);
        try {
          trusted.trust(JSON.parse(body ?? "") as JSONWebKeySet);
          send(response, 204, "", "text/plain");
        } catch {
          send(response, 400, { error: "invalid_request", message: "a JWKS is required" });
        }
      })();
      return;
    }
    const match = /^\/tools\/([^/]+)$/.exec(path);
    const tool = match ? decodeURIComponent(match[1]!) : undefined;
    if (tool === undefined || !(tool in audiences)) return send(response, 404, { error: "not_found", message: "no such tool" });
    if (request.method !== "POST") return send(response, 405, { error: "method_not_allowed", message: "POST only" });
    void (async () => {
      const body = await readBodyAtMost(request, MAX_BODY_BYTES);
      const authorization = request.headers.authorization ?? "";
      const token = /^Bearer ([\w-]+\.[\w-]+\.[\w-]+)$/.exec(authorization)?.[1] ?? null;
      const entry: ToolCallLogEntry = {
        tool,
        outcome: "ok",
        token,
        body: body ?? "",
        requestId: typeof request.headers["x-request-id"] === "string" ? request.headers["x-request-id"] : null,
        time: new Date(now()).toISOString(),
      };
      log.push(entry);
      if (log.length > LOG_CAPACITY) log.shift();
      const refuse = (status: number, code: string, message: string) => {
        entry.outcome = code;
        send(response, status, { error: code, message });
      };
      if (body === undefined) return refuse(413, "payload_too_large", "the arguments are too large");
      if (token === null) return refuse(401, "token_missing", "a delegated token from the gateway is required");
      try {
        const claims = await verifyDelegatedToken(token, { keys, issuer, audience: audiences[tool]!, tool, body, replay, now });
        entry.sub = claims.sub;
        entry.jti = claims.jti;
        run(tool, JSON.parse(body) as Record<string, unknown>, claims.args_sha256, response);
      } catch (error) {
        if (error instanceof DelegatedTokenError) return refuse(401, error.code, error.message);
        refuse(500, "internal", "the mock tool failed");
      }
    })();
  });
  const port = await listen(server, options.port, host);
  return { origin: `http://${host}:${port}`, calls: () => log, close: () => closeServer(server) };
}

if (isEntryPoint(import.meta.url)) {
  const running = await startMockTools({ port: Number(new URL(TOOLS_ORIGIN).port) });
  console.log(`mock tools on ${running.origin} (tools at /tools/<id>, call log at /__mock/calls)`);
}
