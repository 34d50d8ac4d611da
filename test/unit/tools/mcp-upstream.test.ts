/**
 * One exchange with an upstream MCP server, against a fake egress: JSON and SSE replies, messages to
 * skip, and every way a reply can be wrong, each with its gateway code.
 */
import { describe, expect, it } from "vitest";
import { GatewayError } from "../../../worker/errors.ts";
import type { Egress } from "../../../worker/network/index.ts";
import { exchange, MAX_UPSTREAM_REPLY_BYTES, type UpstreamRequest } from "../../../worker/tools/mcp-upstream.ts";
import type { McpServer } from "../../../worker/workload/index.ts";

const server: McpServer = { id: "acme-docs", tenant: "acme", endpoint: "http://127.0.0.1:8797/mcp", audience: "urn:verity:mcp:acme-docs", tools: [] };

interface Sent {
  url: string;
  init: RequestInit;
}

function egressAnswering(response: () => Response, sent: Sent[] = []): Egress {
  return (async (url: string, init: RequestInit = {}) => {
    sent.push({ url, init });
    return response();
  }) as Egress;
}

function request(overrides: Partial<UpstreamRequest> = {}): UpstreamRequest {
  return {
    method: "POST",
    message: { jsonrpc: "2.0", id: 7, method: "tools/list" },
    awaitId: 7,
    token: "delegated.token.here",
    session: "upstream-session",
    protocolVersion: "2025-11-25",
    requestId: "req-1",
    signal: new AbortController().signal,
    ...overrides,
  };
}

const sse = (text: string) => () => new Response(text, { status: 200, headers: { "content-type": "text/event-stream" } });
const json = (body: unknown, status = 200) => () => new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

async function codeOf(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(GatewayError);
  return (error as GatewayError).code;
}

describe("exchange with an upstream MCP server", () => {
  it("sends the delegated token, session and version, never anything of the caller's, and reads a JSON reply", async () => {
    const sent: Sent[] = [];
    const reply = await exchange(egressAnswering(json({ jsonrpc: "2.0", id: 7, result: { tools: [] } }), sent), server, request());
    expect(reply.response).toEqual({ jsonrpc: "2.0", id: 7, result: { tools: [] } });
    expect(sent[0]!.url).toBe(server.endpoint);
    expect(sent[0]!.init.headers).toEqual({
      authorization: "Bearer delegated.token.here",
      accept: "application/json, text/event-stream",
      "content-type": "application/json",
      "mcp-session-id": "upstream-session",
      "mcp-protocol-version": "2025-11-25",
      "x-request-id": "req-1",
    });
  });

  it("reads an SSE reply to the response with its id, skipping notifications, requests and other ids", async () => {
    const stream = [
      'event: message\ndata: {"jsonrpc":"2.0","method":"notifications/progress","params":{}}\n\n',
      'data: {"jsonrpc":"2.0","id":"s1","method":"sampling/createMessage","params":{}}\n\n',
      'data: {"jsonrpc":"2.0","id":8,"result":{}}\n\n',
      'data: {"jsonrpc":"2.0","id":7,"result":{"content":[]}}\n\n',
    ].join("");
    const reply = await exchange(egressAnswering(sse(stream)), server, request());
    expect(reply.response).toEqual({ jsonrpc: "2.0", id: 7, result: { content: [] } });
  });

  it("a notification is sent and its 202 returned; the upstream's session id is read", async () => {
    const reply = await exchange(
      egressAnswering(() => new Response(null, { status: 202, headers: { "mcp-session-id": "s-2" } })),
      server,
      request({ message: { jsonrpc: "2.0", method: "notifications/initialized" }, awaitId: undefined }),
    );
    expect(reply).toMatchObject({ status: 202, session: "s-2" });
  });

  it("refuses replies it cannot use, each with its code", async () => {
    const run = (response: () => Response) => codeOf(exchange(egressAnswering(response), server, request()));
    expect(await run(sse('data: {"jsonrpc":"2.0","id":8,"result":{}}\n\n'))).toBe("upstream_error");
    expect(await run(sse("data: not json\n\n"))).toBe("upstream_error");
    expect(await run(json({ jsonrpc: "2.0", id: 8, result: {} }))).toBe("upstream_error");
    expect(await run(() => new Response("<html>", { status: 200, headers: { "content-type": "text/html" } }))).toBe("upstream_error");
    expect(await run(json({ error: "db password is hunter2" }, 500))).toBe("upstream_error");
    expect(await run(json({}, 404))).toBe("mcp_session_unknown");
    const chatter = `data: {"jsonrpc":"2.0","method":"notifications/message","params":{"data":"${"x".repeat(60 * 1024)}"}}\n\n`;
    expect(await run(sse(chatter.repeat(Math.ceil(MAX_UPSTREAM_REPLY_BYTES / chatter.length) + 1)))).toBe("tool_result_too_large");
    // A single event past the SSE parser's bound (MAX_EVENT_CHARS) is malformed.
    expect(await run(sse(`data: {"jsonrpc":"2.0","id":7,"result":{"x":"${"y".repeat(300 * 1024)}"}}\n\n`))).toBe("upstream_error");
    expect(await run(() => new Response(JSON.stringify({ jsonrpc: "2.0", id: 7, result: { x: "y".repeat(MAX_UPSTREAM_REPLY_BYTES) } }), { headers: { "content-type": "application/json" } }))).toBe(
      "tool_result_too_large",
    );
  });

  it("never passes on the upstream's error text", async () => {
    const error = await exchange(egressAnswering(json({ error: "db password is hunter2" }, 500)), server, request()).catch((e: unknown) => e);
    expect((error as Error).message).not.toContain("hunter2");
  });
});
