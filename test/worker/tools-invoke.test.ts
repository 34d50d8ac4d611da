/**
 * `POST /v1/tools/{tool}/invoke` inside workerd, against the mock tools (dev/tools.ts, :8795) of the
 * local stack. The mock verifies every delegated token; this file's in-process gateway has its own
 * key ring, so its published keys are handed to the mock first (`/__mock/trusted-keys`).
 * Every refusal: its code, an audit record, and (before the tool would run) no call at the tool.
 */
import { createExecutionContext, env } from "cloudflare:test";
import { decodeJwt } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { TOOLS_ORIGIN } from "../../dev/config.ts";
import { createApp } from "../../worker/app.ts";
import { createIdentity } from "../../worker/identity/index.ts";
import { createAuditSink } from "../../worker/verify/index.ts";
import { createConfigSource, type ConfigSource } from "../../worker/workload/index.ts";
import { auditFor, gatewayFetch } from "../support/gateway.ts";
import { seedKv } from "../support/seed.ts";
import { tokenFor } from "../support/tokens.ts";

let alice: string;
let bob: string;
let mallory: string;

interface ToolCallLogEntry {
  tool: string;
  outcome: string;
  token: string | null;
  body: string;
  sub?: string;
  requestId: string | null;
}

beforeAll(async () => {
  await seedKv(env.CONFIG);
  [alice, bob, mallory] = await Promise.all([tokenFor("alice"), tokenFor("bob"), tokenFor("mallory")]);
  const jwks = await (await gatewayFetch("/.well-known/jwks.json")).text();
  const handed = await fetch(`${TOOLS_ORIGIN}/__mock/trusted-keys`, { method: "POST", body: jwks });
  expect(handed.status).toBe(204);
});

function invoke(tool: string, token: string, body: unknown): Promise<Response> {
  return gatewayFetch(`/v1/tools/${tool}/invoke`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

async function toolCalls(): Promise<ToolCallLogEntry[]> {
  return (await (await fetch(`${TOOLS_ORIGIN}/__mock/calls`)).json()) as ToolCallLogEntry[];
}

async function callsFor(response: Response): Promise<ToolCallLogEntry[]> {
  const id = response.headers.get("x-request-id");
  return (await toolCalls()).filter((call) => call.requestId === id);
}

/** The refusal's code and status, its audit records (decision, and completion when the tool ran), and the tool's view. */
async function expectRefusal(response: Response, status: number, code: string, options: { toolRan?: boolean } = {}) {
  const body = (await response.json()) as { error: { code: string; message: string } };
  expect(body.error.code).toBe(code);
  expect(response.status).toBe(status);
  const records = await auditFor("acme", response.headers.get("x-request-id")!);
  const decision = records.find((r) => r.type === "decision" && r.action === "call_tool");
  expect(decision).toBeDefined();
  const calls = await callsFor(response);
  if (options.toolRan) {
    expect(decision?.decision).toBe("allow");
    expect(records.find((r) => r.type === "completion")).toMatchObject({ action: "call_tool", error: code });
    expect(calls).toHaveLength(1);
  } else {
    expect(decision).toMatchObject({ decision: "deny", code });
    expect(calls).toHaveLength(0);
  }
  return { body, decision, records };
}

const mail = (to: string) => ({ arguments: { to, subject: "Lunch", body: "Noon?" } });

describe("a tool call through the gateway", () => {
  it("runs alice's search with a delegated token the mock tool accepts; the caller's token never reaches the tool", async () => {
    const response = await invoke("search_documents", alice, { arguments: { query: "handbook" } });
    expect(response.status).toBe(200);
    const reply = (await response.json()) as { tool: string; result: { hits: unknown[] } };
    expect(reply.tool).toBe("search_documents");
    expect(reply.result.hits.length).toBeGreaterThan(0);

    const [call] = await callsFor(response);
    expect(call).toMatchObject({ tool: "search_documents", outcome: "ok", sub: "alice" });
    expect(call!.token).not.toBe(alice);
    const claims = decodeJwt(call!.token!);
    expect(claims).toMatchObject({ sub: "alice", aud: "urn:verity:tool:search_documents", tenant: "acme", tool: "search_documents" });
    expect(claims.exp! - claims.iat!).toBeLessThanOrEqual(60);

    const records = await auditFor("acme", response.headers.get("x-request-id")!);
    expect(records.map((r) => r.type)).toEqual(["decision", "completion"]);
    expect(records[0]).toMatchObject({ action: "call_tool", decision: "allow", reasons: ["tool.own-tenant"], argumentsDigest: claims.args_sha256 });
    expect(records[1]).toMatchObject({ action: "call_tool", tool: "search_documents", status: 200, jti: claims.jti });
  });

  it("the delegated token is good once, for one tool, for those arguments: the mock refuses it replayed, elsewhere, or changed", async () => {
    const response = await invoke("search_documents", alice, { arguments: '{"query":"roadmap"}' });
    expect(response.status).toBe(200);
    const [call] = await callsFor(response);
    const again = (path: string, body: string) =>
      fetch(`${TOOLS_ORIGIN}${path}`, { method: "POST", headers: { authorization: `Bearer ${call!.token}`, "content-type": "application/json" }, body });
    const refusedWith = async (r: Response) => ({ status: r.status, code: ((await r.json()) as { error: string }).error });
    expect(await refusedWith(await again("/tools/search_documents", call!.body))).toEqual({ status: 401, code: "token_replayed" });
    expect(await refusedWith(await again("/tools/send_email", call!.body))).toEqual({ status: 401, code: "audience_invalid" });
    expect(await refusedWith(await again("/tools/search_documents", '{"query":"salaries"}'))).toEqual({ status: 401, code: "arguments_mismatch" });
  });

  it("asks alice (no MFA) to step up for send_email (401, RFC 9470 challenge); the tool never runs", async () => {
    const response = await invoke("send_email", alice, mail("dave@acme.example"));
    expect(response.headers.get("www-authenticate")).toContain('error="insufficient_user_authentication"');
    expect(response.headers.get("www-authenticate")).toContain('acr_values="urn:verity:acr:mfa"');
    await expectRefusal(response, 401, "insufficient_user_authentication");
  });

  it("sends bob's mail (MFA) inside acme.example and returns the message id", async () => {
    const response = await invoke("send_email", bob, mail("dave@acme.example"));
    expect(response.status).toBe(200);
    expect(((await response.json()) as { result: { messageId: string } }).result.messageId).toMatch(/^msg-/);
  });

  it("refuses bob's mail outside acme.example by policy (policy_denied, tool.email-own-domain)", async () => {
    const { decision } = await expectRefusal(await invoke("send_email", bob, mail("eve@evil.example")), 403, "policy_denied");
    expect(decision?.reasons).toEqual(["tool.email-own-domain"]);
  });

  it("refuses mallory (contractor) any tool", async () => {
    const { decision } = await expectRefusal(await invoke("search_documents", mallory, { arguments: { query: "q" } }), 403, "policy_denied");
    expect(decision?.reasons).toEqual(["tool.contractor-none"]);
  });
});

describe("bad input: each its code and an audit record, and the tool never runs", () => {
  it("an unknown tool: 404 tool_not_found", async () => {
    await expectRefusal(await invoke("drop_tables", alice, { arguments: {} }), 404, "tool_not_found");
  });

  it("arguments that are not JSON: 400 tool_arguments_invalid", async () => {
    await expectRefusal(await invoke("search_documents", alice, { arguments: "{query: handbook" }), 400, "tool_arguments_invalid");
  });

  it("arguments that fail the schema: 400 tool_arguments_invalid naming the field", async () => {
    const { body } = await expectRefusal(await invoke("search_documents", alice, { arguments: { query: 7 } }), 400, "tool_arguments_invalid");
    expect(body.error.message).toContain("/query");
  });

  it("arguments over 64 KiB: 413 tool_arguments_too_large", async () => {
    await expectRefusal(await invoke("search_documents", alice, { arguments: { query: "x".repeat(70 * 1024) } }), 413, "tool_arguments_too_large");
  });

  it("a body that is not JSON, or not { arguments }: invalid_json / invalid_request", async () => {
    await expectRefusal(await invoke("search_documents", alice, "arguments=1"), 400, "invalid_json");
    await expectRefusal(await invoke("search_documents", alice, { query: "q" }), 400, "invalid_request");
    await expectRefusal(await invoke("search_documents", alice, { arguments: { query: "q" }, model: "x" }), 400, "invalid_request");
  });

  it("a tool endpoint not on the egress allowlist: 502 egress_denied, no token minted", async () => {
    const real = createConfigSource();
    const withoutTools: ConfigSource = {
      async current(bindings, audit) {
        const config = await real.current(bindings, audit);
        const origins = new Set(config.registry.origins);
        origins.delete(TOOLS_ORIGIN);
        return { ...config, registry: { ...config.registry, origins } };
      },
    };
    const app = createApp({ config: withoutTools, authenticate: createIdentity({}), audit: (e) => createAuditSink(e.AUDIT_LOG) });
    const response = await app.request(
      "https://gateway.test/v1/tools/search_documents/invoke",
      { method: "POST", headers: { authorization: `Bearer ${alice}`, "content-type": "application/json" }, body: JSON.stringify({ arguments: { query: "q" } }) },
      env,
      createExecutionContext(),
    );
    await expectRefusal(response, 502, "egress_denied");
  });
});

describe("fail closed before the tool runs", () => {
  const post = (app: ReturnType<typeof createApp>, bindings: object) =>
    app.request(
      "https://gateway.test/v1/tools/search_documents/invoke",
      { method: "POST", headers: { authorization: `Bearer ${alice}`, "content-type": "application/json" }, body: JSON.stringify({ arguments: { query: "q" } }) },
      bindings,
      createExecutionContext(),
    );
  const realApp = () => createApp({ config: createConfigSource(), authenticate: createIdentity({}), audit: (e) => createAuditSink(e.AUDIT_LOG) });

  it("signing keys retained for less than a token's life: 503 config_unavailable, audited, no token minted", async () => {
    await expectRefusal(await post(realApp(), { ...env, SIGNING_KEY_RETAIN_S: "30" }), 503, "config_unavailable");
  });

  it("an audit log that cannot commit: 503 audit_unavailable, and the tool never runs", async () => {
    const app = createApp({
      config: createConfigSource(),
      authenticate: createIdentity({}),
      audit: () => ({
        commit: async () => {
          throw new Error("Durable Object unavailable");
        },
      }),
    });
    const response = await post(app, env);
    expect(response.status).toBe(503);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe("audit_unavailable");
    expect(await callsFor(response)).toEqual([]);
  });
});

describe("the tool's answer is checked before the caller sees it", () => {
  it("a result over 256 KiB: 502 tool_result_too_large", async () => {
    await expectRefusal(await invoke("search_documents", alice, { arguments: { query: "#big" } }), 502, "tool_result_too_large", { toolRan: true });
  });

  it("a result that is not JSON: 502 tool_result_invalid", async () => {
    await expectRefusal(await invoke("search_documents", alice, { arguments: { query: "#text" } }), 502, "tool_result_invalid", { toolRan: true });
  });

  it("a result holding a secret is withheld: 403 tool_result_classified, with the classification in the record", async () => {
    const { records } = await expectRefusal(await invoke("search_documents", alice, { arguments: { query: "#secret" } }), 403, "tool_result_classified", { toolRan: true });
    const completion = records.find((r) => r.type === "completion") as unknown as { classification: { categories: string[] } };
    expect(completion.classification.categories).toContain("secret");
  });

  it("a failing tool: 502 upstream_error, its body not passed on", async () => {
    const { body } = await expectRefusal(await invoke("search_documents", alice, { arguments: { query: "#fail" } }), 502, "upstream_error", { toolRan: true });
    expect(body.error.message).not.toContain("index is down");
  });
});
