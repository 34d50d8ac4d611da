/**
 * `/mcp/{server}` inside workerd, in front of the stack's dev MCP server (dev/mcp-server.ts, :8797),
 * driven with raw HTTP so that every wrong turn a client can take is tried: malformed and
 * out-of-order messages, batches, wrong headers, a session presented by another principal. Each
 * refusal: its HTTP status, JSON-RPC code and gateway code, its audit record, and nothing at the
 * server. This file's in-process gateway has its own key ring, so its keys are handed to the dev
 * MCP server first (`/__mock/trusted-keys`).
 */
import { env } from "cloudflare:test";
import { decodeProtectedHeader } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { MCP_SERVER_ORIGIN } from "../../dev/config.ts";
import type { McpCallLogEntry } from "../../dev/mcp-server.ts";
import { auditFor, GATEWAY } from "../support/gateway.ts";
import { gatewayFetch } from "../support/gateway.ts";
import { seedKv } from "../support/seed.ts";
import { tokenFor } from "../support/tokens.ts";

const PATH = "/mcp/acme-docs";
const VERSION = "2025-11-25";
const ACCEPT = "application/json, text/event-stream";

let alice: string;
let bob: string;
let carol: string;

beforeAll(async () => {
  await seedKv(env.CONFIG);
  [alice, bob, carol] = await Promise.all([tokenFor("alice"), tokenFor("bob"), tokenFor("carol")]);
  const jwks = await (await gatewayFetch("/.well-known/jwks.json")).text();
  expect((await fetch(`${MCP_SERVER_ORIGIN}/__mock/trusted-keys`, { method: "POST", body: jwks })).status).toBe(204);
});

function post(token: string | undefined, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return gatewayFetch(PATH, {
    method: "POST",
    headers: { "content-type": "application/json", accept: ACCEPT, ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

const initializeMessage = (id: number | string = 1) => ({
  jsonrpc: "2.0",
  id,
  method: "initialize",
  params: { protocolVersion: VERSION, capabilities: { sampling: {} }, clientInfo: { name: "raw-test", version: "1" } },
});

/** initialize → notifications/initialized; the session id and the headers every later message needs. */
async function openSession(token: string): Promise<{ session: string; headers: Record<string, string> }> {
  const response = await post(token, initializeMessage());
  expect(response.status).toBe(200);
  const body = (await response.json()) as { result: { protocolVersion: string; capabilities: Record<string, unknown> } };
  expect(body.result.protocolVersion).toBe(VERSION);
  const session = response.headers.get("mcp-session-id")!;
  const headers = { "mcp-session-id": session, "mcp-protocol-version": VERSION };
  expect((await post(token, { jsonrpc: "2.0", method: "notifications/initialized" }, headers)).status).toBe(202);
  return { session, headers };
}

async function serverCalls(): Promise<McpCallLogEntry[]> {
  return (await (await fetch(`${MCP_SERVER_ORIGIN}/__mock/calls`)).json()) as McpCallLogEntry[];
}

interface RpcError {
  jsonrpc: string;
  id: string | number | null;
  error: { code: number; message: string; data: { code: string; requestId: string } };
}

/** The refusal's status and codes, its deny record in `tenant`'s log, and no message of it at the server. */
async function expectRefusal(response: Response, status: number, rpcCode: number, code: string, tenant = "acme"): Promise<RpcError> {
  const body = (await response.json()) as RpcError;
  expect({ status: response.status, rpc: body.error.code, code: body.error.data.code }).toEqual({ status, rpc: rpcCode, code });
  const requestId = response.headers.get("x-request-id")!;
  expect(body.error.data.requestId).toBe(requestId);
  const records = await auditFor(tenant, requestId);
  expect(records).toEqual([expect.objectContaining({ type: "decision", decision: "deny", code })]);
  expect((await serverCalls()).filter((c) => c.requestId === requestId)).toEqual([]);
  return body;
}

describe("the gateway as the protected resource (RFC 9728)", () => {
  it("publishes the resource's metadata: the resource, the tenant's issuers, header bearer tokens, scopes", async () => {
    const response = await gatewayFetch(`/.well-known/oauth-protected-resource${PATH}`);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({
      resource: `${GATEWAY}${PATH}`,
      authorization_servers: ["http://127.0.0.1:8788"],
      bearer_methods_supported: ["header"],
      scopes_supported: ["gateway"],
    });
  });

  it("a request without a token is 401 naming the metadata document (resource_metadata), and audited", async () => {
    const response = await post(undefined, initializeMessage());
    const challenge = response.headers.get("www-authenticate") ?? "";
    expect(challenge).toMatch(/^Bearer realm="verity", resource_metadata="https:\/\/gateway\.test\/\.well-known\/oauth-protected-resource\/mcp\/acme-docs"/);
    await expectRefusal(response, 401, -32001, "token_missing", "_unauthenticated");
  });

  it("an unknown server has no metadata, and another tenant's server is not found for its caller", async () => {
    expect((await gatewayFetch("/.well-known/oauth-protected-resource/mcp/nope")).status).toBe(404);
    await expectRefusal(await post(carol, initializeMessage()), 404, -32001, "not_found", "globex");
  });
});

describe("messages that are not well-formed MCP are refused before anything else", () => {
  it("a body that is not JSON: 400, -32700 invalid_json", async () => {
    await expectRefusal(await post(alice, '{"jsonrpc":"2.0",'), 400, -32700, "invalid_json");
  });

  it("a JSON member name twice: 400, -32700 (the gateway and the server must read one message the same way)", async () => {
    await expectRefusal(await post(alice, '{"jsonrpc":"2.0","id":1,"method":"ping","method":"initialize"}'), 400, -32700, "invalid_json");
  });

  it("JSON that is not JSON-RPC 2.0: 400, -32600 mcp_invalid_message", async () => {
    await expectRefusal(await post(alice, { id: 1, method: "initialize" }), 400, -32600, "mcp_invalid_message");
  });

  it("a null id: 400, -32600 (MCP forbids it)", async () => {
    await expectRefusal(await post(alice, { jsonrpc: "2.0", id: null, method: "ping" }), 400, -32600, "mcp_invalid_message");
  });

  it("a batch: 400, -32600 mcp_batch_unsupported", async () => {
    await expectRefusal(await post(alice, [initializeMessage(1), initializeMessage(2)]), 400, -32600, "mcp_batch_unsupported");
  });

  it("a message over 128 KiB: 413, -32600 payload_too_large", async () => {
    const big = { ...initializeMessage(), params: { ...initializeMessage().params, clientInfo: { name: "x".repeat(140 * 1024), version: "1" } } };
    await expectRefusal(await post(alice, big), 413, -32600, "payload_too_large");
  });

  it("an Accept without text/event-stream: 406 not_acceptable; a body that is not JSON by type: 415", async () => {
    await expectRefusal(await post(alice, initializeMessage(), { accept: "application/json" }), 406, -32600, "not_acceptable");
    await expectRefusal(await post(alice, initializeMessage(), { "content-type": "text/plain" }), 415, -32600, "unsupported_media_type");
  });

  it("a foreign Origin (DNS rebinding): 403 cors_origin_denied", async () => {
    await expectRefusal(await post(alice, initializeMessage(), { origin: "https://evil.example" }), 403, -32001, "cors_origin_denied");
  });
});

describe("protocol order and sessions", () => {
  it("a request before initialize: 400, -32600 mcp_out_of_order", async () => {
    await expectRefusal(await post(alice, { jsonrpc: "2.0", id: 7, method: "tools/list" }), 400, -32600, "mcp_out_of_order");
  });

  it("initialize inside a session: 400 mcp_out_of_order", async () => {
    const { headers } = await openSession(alice);
    await expectRefusal(await post(alice, initializeMessage(2), headers), 400, -32600, "mcp_out_of_order");
  });

  it("the session id is the gateway's own (a signed statement), never the server's", async () => {
    const { session } = await openSession(alice);
    expect(decodeProtectedHeader(session)).toMatchObject({ alg: "EdDSA", typ: "mcp-session+jwt" });
  });

  it("MCP-Protocol-Version other than the negotiated one, or missing: 400 mcp_protocol_version", async () => {
    const { session } = await openSession(alice);
    const list = { jsonrpc: "2.0", id: 3, method: "tools/list" };
    await expectRefusal(await post(alice, list, { "mcp-session-id": session, "mcp-protocol-version": "2025-06-18" }), 400, -32600, "mcp_protocol_version");
    await expectRefusal(await post(alice, list, { "mcp-session-id": session }), 400, -32600, "mcp_protocol_version");
  });

  it("alice's session presented by bob is refused (403 mcp_session_forbidden), recorded with its owner, and never reaches the server", async () => {
    const { headers } = await openSession(alice);
    const response = await post(bob, { jsonrpc: "2.0", id: 4, method: "tools/call", params: { name: "search_documents", arguments: { query: "x" } } }, headers);
    await expectRefusal(response, 403, -32001, "mcp_session_forbidden");
    const [record] = await auditFor("acme", response.headers.get("x-request-id")!);
    expect(record).toMatchObject({ principal: { id: "bob" }, sessionOwner: "acme/alice" });
  });

  it("a tampered or foreign session id is unknown: 404 mcp_session_unknown (the client starts over)", async () => {
    const { session } = await openSession(alice);
    const [header, payload, signature] = session.split(".");
    const forged = `${header}.${payload!.slice(0, -2)}AA.${signature}`;
    const list = { jsonrpc: "2.0", id: 5, method: "tools/list" };
    await expectRefusal(await post(alice, list, { "mcp-session-id": forged, "mcp-protocol-version": VERSION }), 404, -32001, "mcp_session_unknown");
    await expectRefusal(await post(alice, list, { "mcp-session-id": "not-a-session", "mcp-protocol-version": VERSION }), 404, -32001, "mcp_session_unknown");
  });

  it("methods outside MCP tools are refused in-band (-32601 mcp_method_not_found), as are unknown notifications (400)", async () => {
    const { headers } = await openSession(alice);
    await expectRefusal(await post(alice, { jsonrpc: "2.0", id: 6, method: "resources/list" }, headers), 200, -32601, "mcp_method_not_found");
    const notification = await post(alice, { jsonrpc: "2.0", method: "notifications/roots/list_changed" }, headers);
    await expectRefusal(notification, 400, -32601, "mcp_method_not_found");
  });

  it("a response from the client (the gateway asked nothing): 400 mcp_invalid_message", async () => {
    const { headers } = await openSession(alice);
    await expectRefusal(await post(alice, { jsonrpc: "2.0", id: 9, result: {} }, headers), 400, -32600, "mcp_invalid_message");
  });

  it("ping is answered by the gateway; GET is 405 (no server-initiated stream)", async () => {
    const { headers } = await openSession(alice);
    const ping = await post(alice, { jsonrpc: "2.0", id: "p", method: "ping" }, headers);
    expect(await ping.json()).toEqual({ jsonrpc: "2.0", id: "p", result: {} });
    const get = await gatewayFetch(PATH, { headers: { authorization: `Bearer ${alice}`, accept: "text/event-stream", ...headers } });
    expect(get.status).toBe(405);
    expect(get.headers.get("allow")).toBe("POST, DELETE");
  });

  it("DELETE ends the session upstream; the session is then unknown", async () => {
    const { headers } = await openSession(alice);
    const ended = await gatewayFetch(PATH, { method: "DELETE", headers: { authorization: `Bearer ${alice}`, ...headers } });
    expect(ended.status).toBe(204);
    expect(await auditFor("acme", ended.headers.get("x-request-id")!)).toEqual([expect.objectContaining({ action: "mcp_end_session", decision: "allow" })]);
    const list = await post(alice, { jsonrpc: "2.0", id: 8, method: "tools/list" }, headers);
    const body = (await list.json()) as RpcError;
    expect({ status: list.status, code: body.error.data.code }).toEqual({ status: 404, code: "mcp_session_unknown" });
  });

  it("initialize declares no client capabilities upstream and passes on only the tools capability", async () => {
    const response = await post(alice, initializeMessage("caps"));
    const body = (await response.json()) as { result: { capabilities: Record<string, unknown>; instructions?: string } };
    expect(body.result.capabilities).toEqual({ tools: {} });
    expect(await auditFor("acme", response.headers.get("x-request-id")!)).toEqual([expect.objectContaining({ action: "mcp_initialize", decision: "allow" })]);
  });
});

describe("tools through raw JSON-RPC", () => {
  it("tools/list is cut down per caller and recorded with what was listed", async () => {
    const { headers } = await openSession(alice);
    const response = await post(alice, { jsonrpc: "2.0", id: 10, method: "tools/list" }, headers);
    const body = (await response.json()) as { result: { tools: Array<{ name: string }> } };
    expect(body.result.tools.map((t) => t.name)).toEqual(["search_documents"]);
    expect(await auditFor("acme", response.headers.get("x-request-id")!)).toEqual([
      expect.objectContaining({ action: "mcp_list_tools", decision: "allow", listed: ["search_documents"], withheld: 2 }),
    ]);
  });

  it("tools/call with malformed params is refused in-band (-32602 invalid_request)", async () => {
    const { headers } = await openSession(alice);
    await expectRefusal(await post(alice, { jsonrpc: "2.0", id: 11, method: "tools/call", params: { name: "search_documents", arguments: "query" } }, headers), 200, -32602, "invalid_request");
  });

  it("an allowed call is recorded before it runs and its result after, under one request id", async () => {
    const { headers } = await openSession(alice);
    const response = await post(alice, { jsonrpc: "2.0", id: 12, method: "tools/call", params: { name: "search_documents", arguments: { query: "budget" } } }, headers);
    expect(response.status).toBe(200);
    const body = (await response.json()) as { result: { content: Array<{ text: string }> } };
    expect(body.result.content[0]?.text).toContain("budget");
    const records = await auditFor("acme", response.headers.get("x-request-id")!);
    expect(records.map((r) => [r.type, r.action])).toEqual([
      ["decision", "call_tool"],
      ["completion", "call_tool"],
    ]);
    expect(records[0]).toMatchObject({ decision: "allow", origin: "caller", mcpServer: "acme-docs" });
    const reached = (await serverCalls()).filter((c) => c.requestId === response.headers.get("x-request-id"));
    expect(reached).toEqual([expect.objectContaining({ method: "tools/call", tool: "search_documents", outcome: "ok", sub: "alice" })]);
  });
});
