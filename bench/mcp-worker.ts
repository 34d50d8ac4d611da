/**
 * The MCP benchmark's Worker (bench/mcp.ts): the gateway's own per-message steps of the MCP proxy that
 * run before any I/O, in workerd, `n` messages per HTTP request, so Node can time batches.
 *
 *   POST /setup                   signs one gateway session id with a fresh Ed25519 key
 *   POST /run?kind=<kind>&n=N     N messages, answers 204
 */
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import type { Principal } from "../worker/context.ts";
import { parseStrictJson } from "../worker/lib/strict-json.ts";
import type { PublishedKey } from "../worker/verify/index.ts";
import type { McpServer } from "../worker/workload/index.ts";
import type { JwsSigner } from "../worker/tools/delegated-token.ts";
import { checkSession } from "../worker/tools/mcp-exchange.ts";
import { parseJsonRpcMessage } from "../worker/tools/mcp-jsonrpc.ts";
import { createSessionVerifier, issueSession, type SessionVerifier } from "../worker/tools/mcp-session.ts";

const ISSUER = "https://gateway.bench";
const VERSION = "2025-11-25";
const server: McpServer = { id: "acme-docs", tenant: "acme", endpoint: "http://127.0.0.1:8797/mcp", audience: "urn:verity:mcp:acme-docs", tools: ["search_documents", "send_email"] };
const alice: Principal = {
  kind: "user",
  id: "alice",
  tenant: "acme",
  groups: [],
  attributes: {},
  authn: { method: "oidc", issuer: "https://idp.bench", acr: "", amr: [], mfa: false, expiresAt: 0, binding: "none" },
  risk: "low",
};
const CALL = JSON.stringify({ jsonrpc: "2.0", id: 42, method: "tools/call", params: { name: "search_documents", arguments: { query: "quarterly report", matter: "acme/matter-1042" } } });

interface World {
  sessionId: string;
  /** Without the cache of verified ids: every message pays the signature check. */
  verify: SessionVerifier;
  cached: SessionVerifier;
}

let world: World | undefined;

async function setup(): Promise<World> {
  const { privateKey, publicKey } = await generateKeyPair("EdDSA", { crv: "Ed25519" });
  const published = { ...(await exportJWK(publicKey)), kid: "b1", alg: "EdDSA", use: "sig", vkey: "" } as PublishedKey;
  const signer: JwsSigner = {
    signJws: (payload, typ) => new SignJWT(payload).setProtectedHeader({ alg: "EdDSA", typ, kid: "b1" }).sign(privateKey),
  };
  const session = { id: crypto.randomUUID(), server: server.id, tenant: "acme", kind: "user" as const, principal: "alice", upstream: crypto.randomUUID(), protocolVersion: VERSION };
  const sessionId = await issueSession(signer, ISSUER, session, Date.now());
  const verify = createSessionVerifier(ISSUER, async () => [published], 0);
  const cached = createSessionVerifier(ISSUER, async () => [published]);
  // Imports the key (and, for `cached`, remembers the id) once, as an isolate does on a session's first message.
  await verify(sessionId, Date.now());
  await cached(sessionId, Date.now());
  return { sessionId, verify, cached };
}

async function run(kind: string, n: number, w: World): Promise<void> {
  if (!["parse", "session", "session-cached", "message"].includes(kind)) throw new Error(`unknown kind ${kind}`);
  for (let i = 0; i < n; i++) {
    if (kind === "parse" || kind === "message") {
      const message = parseJsonRpcMessage(parseStrictJson(CALL));
      if (message.kind !== "request") throw new Error("not a request");
    }
    if (kind === "session") checkSession(await w.verify(w.sessionId, Date.now()), server, alice, VERSION);
    if (kind === "session-cached" || kind === "message") checkSession(await w.cached(w.sessionId, Date.now()), server, alice, VERSION);
  }
}

export default {
  async fetch(req: Request): Promise<Response> {
    const url = new URL(req.url);
    if (url.pathname === "/healthz") return new Response("ok");
    if (url.pathname === "/setup") {
      world = await setup();
      return new Response(null, { status: 204 });
    }
    if (url.pathname === "/run" && world) {
      await run(url.searchParams.get("kind") ?? "parse", Number(url.searchParams.get("n") ?? "1"), world);
      return new Response(null, { status: 204 });
    }
    return new Response("not found", { status: 404 });
  },
};
