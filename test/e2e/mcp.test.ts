/**
 * End to end: an MCP client from `@modelcontextprotocol/sdk` (Client over the streamable HTTP
 * transport, the caller's access token in `requestInit`) lists and calls tools through the gateway's
 * `/mcp/acme-docs`, in front of the real MCP server dev/mcp-server.ts, which accepts nothing but the
 * gateway's delegated tokens. Each user sees only what policy lets them call.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport, StreamableHTTPError } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { McpError } from "@modelcontextprotocol/sdk/types.js";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { GATEWAY_ORIGIN, MCP_SERVER_ORIGIN } from "../../dev/config.ts";
import type { McpCallLogEntry } from "../../dev/mcp-server.ts";
import { tokenFor } from "../support/tokens.ts";

const ENDPOINT = new URL(`${GATEWAY_ORIGIN}/mcp/acme-docs`);

let alice: string;
let bob: string;
let mallory: string;
const open: Client[] = [];

beforeAll(async () => {
  [alice, bob, mallory] = await Promise.all([tokenFor("alice"), tokenFor("bob"), tokenFor("mallory")]);
});

afterEach(async () => {
  await Promise.allSettled(open.splice(0).map((client) => client.close()));
});

async function connectAs(token: string): Promise<Client> {
  const client = new Client({ name: "verity-e2e", version: "1.0.0" });
  const transport = new StreamableHTTPClientTransport(ENDPOINT, { requestInit: { headers: { authorization: `Bearer ${token}` } } });
  await client.connect(transport);
  open.push(client);
  return client;
}

async function serverCalls(): Promise<McpCallLogEntry[]> {
  return (await (await fetch(`${MCP_SERVER_ORIGIN}/__mock/calls`)).json()) as McpCallLogEntry[];
}

interface AuditRecordView {
  requestId: string;
  type: string;
  action?: string;
  decision?: string;
  code?: string;
  error?: string;
  resource?: { id: string };
  principal?: { id: string };
}

async function acmeAudit(): Promise<AuditRecordView[]> {
  const response = await fetch(`${GATEWAY_ORIGIN}/audit/acme/entries`, { headers: { authorization: `Bearer ${bob}` } });
  expect(response.status).toBe(200);
  const { entries } = (await response.json()) as { entries: Array<{ record: AuditRecordView }> };
  return entries.map((e) => e.record);
}

async function refusalOf(call: Promise<unknown>): Promise<McpError> {
  const error = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(McpError);
  return error as McpError;
}

describe("MCP through the gateway with the official SDK client", () => {
  it("alice sees search_documents only (send_email needs MFA, the unregistered tool never shows)", async () => {
    const client = await connectAs(alice);
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toEqual(["search_documents"]);
    // The definition is the registry's, not the server's.
    expect(tools[0]?.description).toBe("Read-only search in the caller's tenant");
    expect(tools[0]?.inputSchema).toMatchObject({ required: ["query"], additionalProperties: false });
  });

  it("alice calls search_documents; the server received a delegated token for alice, not her token", async () => {
    const client = await connectAs(alice);
    const result = await client.callTool({ name: "search_documents", arguments: { query: "quarterly figures" } });
    const content = result.content as Array<{ type: string; text: string }>;
    expect(content[0]?.text).toContain("acme/handbook");
    expect(content[0]?.text).toContain("quarterly figures");
    const reached = (await serverCalls()).filter((c) => c.tool === "search_documents" && c.sub === "alice");
    expect(reached.at(-1)?.outcome).toBe("ok");
  });

  it("bob (MFA) sees and may call send_email", async () => {
    const client = await connectAs(bob);
    expect((await client.listTools()).tools.map((t) => t.name)).toEqual(["search_documents", "send_email"]);
    const result = await client.callTool({ name: "send_email", arguments: { to: "carol@acme.example", subject: "Hi", body: "Hello" } });
    expect((result.content as Array<{ text: string }>)[0]?.text).toContain("carol@acme.example");
  });

  it("mallory (contractor) sees no tool, and a call is refused with a JSON-RPC error that never reaches the server", async () => {
    const client = await connectAs(mallory);
    expect((await client.listTools()).tools).toEqual([]);
    const before = (await serverCalls()).filter((c) => c.method === "tools/call").length;
    const refusal = await refusalOf(client.callTool({ name: "search_documents", arguments: { query: "payroll" } }));
    expect(refusal.code).toBe(-32001);
    expect((refusal.data as { code: string }).code).toBe("policy_denied");
    expect((await serverCalls()).filter((c) => c.method === "tools/call").length).toBe(before);
    const records = (await acmeAudit()).filter((r) => r.requestId === (refusal.data as { requestId: string }).requestId);
    expect(records).toEqual([expect.objectContaining({ action: "call_tool", decision: "deny", code: "policy_denied", principal: expect.objectContaining({ id: "mallory" }) })]);
  });

  it("a tool the server offers but no registry knows is refused by the gateway", async () => {
    const client = await connectAs(alice);
    const before = (await serverCalls()).filter((c) => c.tool === "export_all_documents").length;
    const refusal = await refusalOf(client.callTool({ name: "export_all_documents", arguments: {} }));
    expect(refusal.code).toBe(-32602);
    expect((refusal.data as { code: string }).code).toBe("tool_not_found");
    expect((await serverCalls()).filter((c) => c.tool === "export_all_documents").length).toBe(before);
  });

  it("arguments that fail the registry schema are refused (-32602 tool_arguments_invalid)", async () => {
    const client = await connectAs(alice);
    const refusal = await refusalOf(client.callTool({ name: "search_documents", arguments: { query: "x", limit: 1000 } }));
    expect(refusal.code).toBe(-32602);
    expect((refusal.data as { code: string }).code).toBe("tool_arguments_invalid");
  });

  it("send_email for alice asks for step-up: 401 insufficient_user_authentication with acr_values", async () => {
    const client = await connectAs(alice);
    const error = await client.callTool({ name: "send_email", arguments: { to: "bob@acme.example", subject: "s", body: "b" } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StreamableHTTPError);
    expect((error as StreamableHTTPError).code).toBe(401);
    expect((error as Error).message).toContain("insufficient_user_authentication");
  });

  it("a result holding a secret is withheld (-32002 tool_result_classified) and the completion is audited", async () => {
    const client = await connectAs(alice);
    const refusal = await refusalOf(client.callTool({ name: "search_documents", arguments: { query: "deploy #secret" } }));
    expect(refusal.code).toBe(-32002);
    const data = refusal.data as { code: string; requestId: string };
    expect(data.code).toBe("tool_result_classified");
    const records = (await acmeAudit()).filter((r) => r.requestId === data.requestId);
    expect(records.map((r) => [r.type, r.decision ?? r.error])).toEqual([
      ["decision", "allow"],
      ["completion", "tool_result_classified"],
    ]);
  });
});
