/**
 * Fail closed: when a plane cannot do its part (audit log down, configuration missing, upstream slow,
 * a secret not set), the request is refused with a specific error and nothing goes upstream.
 */
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../worker/app.ts";
import { createIdentity } from "../../worker/identity/index.ts";
import { createAuditSink, type AuditSink } from "../../worker/verify/index.ts";
import { createConfigSource } from "../../worker/workload/index.ts";
import { bearer, chatBody, messagesBody, receivedWith } from "../support/gateway.ts";
import { seedKv } from "../support/seed.ts";
import { tokenFor } from "../support/tokens.ts";

let alice: string;
let carol: string;

beforeAll(async () => {
  // This file's own configuration: the EU and US backends give up after 300 ms.
  await seedKv(env.CONFIG, (files) => {
    for (const backend of files.backends as Array<{ id: string; timeoutMs: number }>) backend.timeoutMs = 300;
  });
  [alice, carol] = await Promise.all([tokenFor("alice"), tokenFor("carol")]);
});

function appWith(audit: (e: typeof env) => AuditSink) {
  return createApp({ config: createConfigSource(), authenticate: createIdentity({}), audit });
}

const realAudit = (e: typeof env) => createAuditSink(e.AUDIT_LOG);

const ctx = createExecutionContext();

function post(app: ReturnType<typeof appWith>, path: string, body: string, token: string, bindings: object = env) {
  return app.request(`https://gateway.test${path}`, { method: "POST", body, headers: bearer(token) }, bindings, ctx);
}

describe("fail closed", () => {
  it("refuses with 503 audit_unavailable, and sends nothing upstream, when the audit log cannot commit", async () => {
    const app = appWith(() => ({
      commit: async () => {
        throw new Error("Durable Object unavailable");
      },
    }));
    const marker = `marker-${crypto.randomUUID()}`;
    const response = await post(app, "/v1/chat/completions", chatBody(marker), alice);
    expect(response.status).toBe(503);
    const body = (await response.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe("audit_unavailable");
    expect(body.error.message).not.toContain("Durable Object");
    expect(await receivedWith("eu-public", marker)).toBeUndefined();
  });

  it("refuses with 503 config_unavailable when no configuration is published", async () => {
    const emptyKv = { get: async () => null } as unknown as KVNamespace;
    const response = await post(appWith(realAudit), "/v1/chat/completions", chatBody("hi"), alice, { ...env, CONFIG: emptyKv });
    expect(response.status).toBe(503);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe("config_unavailable");
  });

  it("refuses with 503 when the selected backend's secret is not set, without calling it", async () => {
    const marker = `marker-${crypto.randomUUID()}`;
    const response = await post(appWith(realAudit), "/v1/chat/completions", chatBody(marker), alice, {
      ...env,
      UPSTREAM_KEY_EU_PUBLIC: undefined,
    });
    expect(response.status).toBe(503);
    expect(await receivedWith("eu-public", marker)).toBeUndefined();
  });

  it("turns an upstream time-out into 504 in OpenAI's shape", async () => {
    // gpt-4.1: eu-public is alice's only eligible backend, so there is nothing to fail over to (test/worker/failover.test.ts).
    const response = await post(appWith(realAudit), "/v1/chat/completions", chatBody("#slow:3000", { model: "gpt-4.1" }), alice);
    expect(response.status).toBe(504);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe("upstream_timeout");
  });

  it("turns an upstream time-out into 504 in Anthropic's shape", async () => {
    const response = await post(appWith(realAudit), "/v1/messages", messagesBody("#slow:3000"), carol);
    expect(response.status).toBe(504);
    expect(await response.json()).toMatchObject({ type: "error", error: { type: "timeout_error" } });
  });

  it("records the failed completion after an allow", async () => {
    const response = await post(appWith(realAudit), "/v1/chat/completions", chatBody("#status:503", { model: "gpt-4.1" }), alice);
    expect(response.status).toBe(502);
    const requestId = response.headers.get("x-request-id")!;
    const stub = env.AUDIT_LOG.get(env.AUDIT_LOG.idFromName("acme")) as unknown as {
      treeHead(): Promise<{ size: number }>;
      entries(start: number, end: number): Promise<Array<{ canonical: string }>>;
    };
    // The completion record is written after the response, in waitUntil.
    await waitOnExecutionContext(ctx);
    const { size } = await stub.treeHead();
    const records: Array<{ type: string; status?: number; error?: string }> = (await stub.entries(0, size))
      .map((e) => JSON.parse(e.canonical))
      .filter((r) => r.requestId === requestId);
    expect(records.map((r) => r.type)).toEqual(["decision", "completion"]);
    expect(records[1]).toMatchObject({ status: 502, error: "upstream_error" });
  });
});
