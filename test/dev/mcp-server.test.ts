/**
 * The dev MCP server on its own (port 0), with a key of this test standing in for the gateway's: it
 * accepts a message only with a delegated token for that exact message (or tool call), once, and
 * binds each session to the subject that opened it.
 */
import { createLocalJWKSet, exportJWK, generateKeyPair, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningDevMcpServer, startDevMcpServer } from "../../dev/mcp-server.ts";
import { canonicalJson } from "../../worker/lib/canonical-json.ts";
import { base64url } from "../../worker/lib/encoding.ts";
import { sha256Sync } from "../../worker/lib/sha256-sync.ts";
import { DEFAULT_GATEWAY_ISSUER, DELEGATED_TOKEN_TYPE } from "../../worker/tools/delegated-token-claims.ts";

let server: RunningDevMcpServer;
let privateKey: CryptoKey;

beforeAll(async () => {
  const pair = await generateKeyPair("EdDSA", { crv: "Ed25519" });
  privateKey = pair.privateKey;
  const jwk = { ...(await exportJWK(pair.publicKey)), kid: "test", alg: "EdDSA" };
  server = await startDevMcpServer({ port: 0, keys: createLocalJWKSet({ keys: [jwk] }), json: true });
});

afterAll(async () => {
  await server?.close();
});

interface TokenFor {
  sub?: string;
  audience?: string;
  tool?: string;
  /** What `args_sha256` covers. */
  covers: unknown;
}

function token({ sub = "alice", audience = "urn:verity:mcp:acme-docs", tool = "mcp:acme-docs", covers }: TokenFor): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ tenant: "acme", tool, scope: tool, args_sha256: base64url(sha256Sync(canonicalJson(covers))) })
    .setProtectedHeader({ alg: "EdDSA", typ: DELEGATED_TOKEN_TYPE, kid: "test" })
    .setIssuer(DEFAULT_GATEWAY_ISSUER)
    .setSubject(sub)
    .setAudience(audience)
    .setIssuedAt(now)
    .setExpirationTime(now + 60)
    .setJti(crypto.randomUUID())
    .sign(privateKey);
}

function send(message: Record<string, unknown>, bearer: string | undefined, session?: string): Promise<Response> {
  return fetch(server.url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      "mcp-protocol-version": "2025-11-25",
      ...(bearer ? { authorization: `Bearer ${bearer}` } : {}),
      ...(session ? { "mcp-session-id": session } : {}),
    },
    body: JSON.stringify(message),
  });
}

const initialize = { jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "t", version: "1" } } };

async function open(sub = "alice"): Promise<string> {
  const response = await send(initialize, await token({ sub, covers: initialize }));
  expect(response.status).toBe(200);
  const session = response.headers.get("mcp-session-id")!;
  const initialized = { jsonrpc: "2.0", method: "notifications/initialized" };
  expect((await send(initialized, await token({ sub, covers: initialized }), session)).status).toBe(202);
  return session;
}

async function refusalCode(response: Response): Promise<[number, string]> {
  const body = (await response.json()) as { error: { data: { code: string } } };
  return [response.status, body.error.data.code];
}

describe("dev MCP server", () => {
  it("lists its three tools (one of them in no registry) for a session opened with valid tokens", async () => {
    const session = await open();
    const list = { jsonrpc: "2.0", id: 2, method: "tools/list" };
    const response = await send(list, await token({ covers: list }), session);
    const body = (await response.json()) as { result: { tools: Array<{ name: string }> } };
    expect(body.result.tools.map((t) => t.name).sort()).toEqual(["export_all_documents", "search_documents", "send_email"]);
  });

  it("runs a tool call only with that tool's token for exactly those arguments", async () => {
    const session = await open();
    const args = { query: "budget" };
    const call = { jsonrpc: "2.0", id: 3, method: "tools/call", params: { name: "search_documents", arguments: args } };
    const toolToken = { audience: "urn:verity:tool:search_documents", tool: "search_documents", covers: args };
    const ok = await send(call, await token(toolToken), session);
    expect(((await ok.json()) as { result: { content: Array<{ text: string }> } }).result.content[0]?.text).toContain("budget");

    expect(await refusalCode(await send(call, await token({ covers: args }), session))).toEqual([401, "audience_invalid"]);
    expect(await refusalCode(await send(call, await token({ ...toolToken, covers: { query: "other" } }), session))).toEqual([401, "arguments_mismatch"]);
  });

  it("refuses a missing token, a replayed one, and one for another message", async () => {
    const session = await open();
    const list = { jsonrpc: "2.0", id: 4, method: "tools/list" };
    expect(await refusalCode(await send(list, undefined, session))).toEqual([401, "token_missing"]);
    const once = await token({ covers: list });
    expect((await send(list, once, session)).status).toBe(200);
    expect(await refusalCode(await send(list, once, session))).toEqual([401, "token_replayed"]);
    expect(await refusalCode(await send(list, await token({ covers: initialize }), session))).toEqual([401, "arguments_mismatch"]);
  });

  it("binds a session to the subject that opened it", async () => {
    const session = await open("alice");
    const list = { jsonrpc: "2.0", id: 5, method: "tools/list" };
    expect(await refusalCode(await send(list, await token({ sub: "bob", covers: list }), session))).toEqual([403, "session_forbidden"]);
    expect(server.calls().at(-1)).toMatchObject({ method: "tools/list", outcome: "session_forbidden", sub: "bob" });
  });
});
