/**
 * End to end against the local stack: `POST /v1/tools/{tool}/invoke` on the gateway (wrangler dev),
 * the mock tools (dev/tools.ts) verifying the delegated token against the gateway's published JWKS.
 * The tool accepts the token once; replayed, sent to the other tool or with changed arguments it is
 * refused. Refusals at the gateway carry their code, are in the audit log, and never reach the tool.
 */
import { createRemoteJWKSet } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { GATEWAY_ORIGIN, TOOLS_ORIGIN } from "../../dev/config.ts";
import { DEFAULT_GATEWAY_ISSUER } from "../../worker/tools/delegated-token-claims.ts";
import { memoryReplayStore, verifyDelegatedToken } from "../../worker/tools/verify-delegated-token.ts";
import { tokenFor } from "../support/tokens.ts";

let alice: string;
let bob: string;
let mallory: string;

beforeAll(async () => {
  [alice, bob, mallory] = await Promise.all([tokenFor("alice"), tokenFor("bob"), tokenFor("mallory")]);
});

interface ToolCallLogEntry {
  tool: string;
  outcome: string;
  token: string | null;
  body: string;
  requestId: string | null;
}

function invoke(tool: string, token: string, body: unknown): Promise<Response> {
  return fetch(`${GATEWAY_ORIGIN}/v1/tools/${tool}/invoke`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}

async function callsFor(response: Response): Promise<ToolCallLogEntry[]> {
  const calls = (await (await fetch(`${TOOLS_ORIGIN}/__mock/calls`)).json()) as ToolCallLogEntry[];
  return calls.filter((c) => c.requestId === response.headers.get("x-request-id"));
}

/** The acme log's records of one request, read as bob (acme's auditor) reads them. */
async function auditOf(requestId: string): Promise<Array<Record<string, unknown>>> {
  const headers = { authorization: `Bearer ${bob}` };
  const head = (await (await fetch(`${GATEWAY_ORIGIN}/audit/acme/head`, { headers })).json()) as { size: number };
  const start = Math.max(0, head.size - 100);
  const page = (await (await fetch(`${GATEWAY_ORIGIN}/audit/acme/entries?start=${start}&end=${head.size}`, { headers })).json()) as {
    entries: Array<{ record: Record<string, unknown> }>;
  };
  return page.entries.map((e) => e.record).filter((r) => r.requestId === requestId);
}

async function expectRefused(response: Response, status: number, code: string): Promise<void> {
  expect(response.status).toBe(status);
  expect(((await response.json()) as { error: { code: string } }).error.code).toBe(code);
  const records = await auditOf(response.headers.get("x-request-id")!);
  expect(records).toEqual([expect.objectContaining({ type: "decision", action: "call_tool", decision: "deny", code })]);
  expect(await callsFor(response)).toEqual([]);
}

const mail = (to: string) => ({ arguments: { to, subject: "Lunch", body: "Noon?" } });

describe("a tool invoked through the gateway, with a delegated token the tool checks", () => {
  it("the mock tool accepts the delegated token; replayed, sent to the other tool or with changed arguments it is refused", async () => {
    const response = await invoke("search_documents", alice, { arguments: { query: "handbook", matter: "acme/matter-1042" } });
    expect(response.status).toBe(200);
    expect(((await response.json()) as { result: { hits: unknown[] } }).result.hits.length).toBeGreaterThan(0);
    const [call] = await callsFor(response);
    expect(call).toMatchObject({ tool: "search_documents", outcome: "ok" });

    // A tool owner's own check in Node, with the exported verifier and the gateway's JWKS.
    const claims = await verifyDelegatedToken(call!.token!, {
      keys: createRemoteJWKSet(new URL("/.well-known/jwks.json", GATEWAY_ORIGIN), { timeoutDuration: 15_000 }),
      issuer: DEFAULT_GATEWAY_ISSUER,
      audience: "urn:verity:tool:search_documents",
      tool: "search_documents",
      body: call!.body,
      replay: memoryReplayStore(),
    });
    expect(claims).toMatchObject({ sub: "alice", tenant: "acme", act: { client_id: expect.any(String) } });

    const resend = async (path: string, body: string) => {
      const r = await fetch(`${TOOLS_ORIGIN}${path}`, { method: "POST", headers: { authorization: `Bearer ${call!.token}`, "content-type": "application/json" }, body });
      return { status: r.status, error: ((await r.json()) as { error: string }).error };
    };
    expect(await resend("/tools/search_documents", call!.body)).toEqual({ status: 401, error: "token_replayed" });
    expect(await resend("/tools/send_email", call!.body)).toEqual({ status: 401, error: "audience_invalid" });
    expect(await resend("/tools/search_documents", JSON.stringify({ query: "salaries", matter: "acme/matter-1042" }))).toEqual({ status: 401, error: "arguments_mismatch" });

    const records = await auditOf(response.headers.get("x-request-id")!);
    expect(records.map((r) => [r.type, r.decision ?? r.status])).toEqual([["decision", "allow"], ["completion", 200]]);
  });

  it("send_email: alice (no MFA) is asked to step up, bob (MFA) sends, mallory is refused", async () => {
    const stepUp = await invoke("send_email", alice, mail("dave@acme.example"));
    expect(stepUp.headers.get("www-authenticate")).toContain('acr_values="urn:verity:acr:mfa"');
    await expectRefused(stepUp, 401, "insufficient_user_authentication");

    const sent = await invoke("send_email", bob, mail("dave@acme.example"));
    expect(sent.status).toBe(200);
    expect(((await sent.json()) as { result: { accepted: boolean } }).result.accepted).toBe(true);
    expect(await callsFor(sent)).toEqual([expect.objectContaining({ tool: "send_email", outcome: "ok" })]);

    await expectRefused(await invoke("send_email", mallory, mail("dave@acme.example")), 403, "policy_denied");
    await expectRefused(await invoke("send_email", bob, mail("eve@evil.example")), 403, "policy_denied");
  });

  it("bad input never runs the tool: unknown tool, non-JSON arguments, a schema failure, oversized arguments", async () => {
    await expectRefused(await invoke("drop_tables", alice, { arguments: {} }), 404, "tool_not_found");
    await expectRefused(await invoke("search_documents", alice, { arguments: "{not json" }), 400, "tool_arguments_invalid");
    await expectRefused(await invoke("search_documents", alice, { arguments: { query: "q", extra: true } }), 400, "tool_arguments_invalid");
    await expectRefused(await invoke("search_documents", alice, { arguments: { query: "x".repeat(65 * 1024) } }), 413, "tool_arguments_too_large");
  });
});
