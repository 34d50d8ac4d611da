/**
 * The foundation's promises, end to end inside workerd: the Worker with real KV and Durable Objects,
 * real tokens from the dev identity provider and the mock backends over loopback.
 */
import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { seedKv } from "../support/seed.ts";
import { tokenFor } from "../support/tokens.ts";
import { auditFor, bearer, chatBody, gatewayFetch, messagesBody, receivedWith } from "../support/gateway.ts";

let alice: string;
let carol: string;
let mallory: string;

beforeAll(async () => {
  await seedKv(env.CONFIG);
  [alice, carol, mallory] = await Promise.all([tokenFor("alice"), tokenFor("carol"), tokenFor("mallory")]);
});

async function json(response: Response): Promise<Record<string, any>> {
  return (await response.json()) as Record<string, any>;
}

describe("routes without identity", () => {
  it("answers /healthz without authentication or details", async () => {
    const response = await gatewayFetch("/healthz");
    expect(response.status).toBe(200);
    expect(await response.text()).toBe("ok");
    expect(response.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("refuses unknown routes with a 404 in OpenAI's shape", async () => {
    const response = await gatewayFetch("/v1/nowhere");
    expect(response.status).toBe(404);
    expect((await json(response)).error.code).toBe("not_found");
  });

  it("refuses a wrong method with 405 and Allow", async () => {
    const response = await gatewayFetch("/v1/chat/completions", { method: "GET" });
    expect(response.status).toBe(405);
    expect(response.headers.get("allow")).toBe("POST");
    expect((await json(response)).error.code).toBe("method_not_allowed");
  });
});

describe("identity", () => {
  it("refuses a request without a token: 401, OpenAI shape, WWW-Authenticate, audited", async () => {
    const response = await gatewayFetch("/v1/chat/completions", { method: "POST", body: chatBody("hi"), headers: { "content-type": "application/json" } });
    expect(response.status).toBe(401);
    expect(response.headers.get("www-authenticate")).toMatch(/^Bearer realm="verity"/);
    const body = await json(response);
    expect(body.error).toMatchObject({ type: "authentication_error", code: "token_missing" });
    const [record] = await auditFor("_unauthenticated", response.headers.get("x-request-id")!);
    expect(record).toMatchObject({ decision: "deny", code: "token_missing", action: "authenticate" });
  });

  it("refuses a tampered token with 401 invalid_token in Anthropic's shape on /v1/messages", async () => {
    const [header, payload, signature] = alice.split(".");
    const claims = JSON.parse(atob(payload!.replace(/-/g, "+").replace(/_/g, "/")));
    claims.sub = "bob";
    const forged = `${header}.${btoa(JSON.stringify(claims)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "")}.${signature}`;
    const response = await gatewayFetch("/v1/messages", { method: "POST", body: messagesBody("hi"), headers: bearer(forged) });
    expect(response.status).toBe(401);
    expect(response.headers.get("www-authenticate")).toContain('error="invalid_token"');
    const body = await json(response);
    expect(body).toMatchObject({ type: "error", error: { type: "authentication_error" } });
    const [record] = await auditFor("_unauthenticated", response.headers.get("x-request-id")!);
    expect(record).toMatchObject({ decision: "deny", code: "token_invalid" });
  });

  it("refuses alg=none and HMAC tokens", async () => {
    const [, payload] = alice.split(".");
    for (const alg of ["none", "HS256"]) {
      const header = btoa(JSON.stringify({ alg, typ: "at+jwt" })).replace(/=+$/, "");
      const response = await gatewayFetch("/v1/chat/completions", {
        method: "POST",
        body: chatBody("hi"),
        headers: bearer(`${header}.${payload}.${alg === "none" ? "" : "c2lnbmF0dXJl"}`),
      });
      expect(response.status, alg).toBe(401);
      expect((await json(response)).error.code).toBe("token_invalid");
    }
  });

  it("refuses a non-Bearer Authorization header", async () => {
    const response = await gatewayFetch("/v1/chat/completions", {
      method: "POST",
      body: chatBody("hi"),
      headers: { authorization: `Basic ${btoa("alice:alice")}`, "content-type": "application/json" },
    });
    expect(response.status).toBe(401);
    expect(response.headers.get("www-authenticate")).toContain('error="invalid_request"');
  });
});

describe("request validation", () => {
  it("refuses malformed JSON with 400 invalid_json", async () => {
    const response = await gatewayFetch("/v1/chat/completions", { method: "POST", body: "{not json", headers: bearer(alice) });
    expect(response.status).toBe(400);
    expect((await json(response)).error.code).toBe("invalid_json");
  });

  it("refuses a wrong content type with 415", async () => {
    const response = await gatewayFetch("/v1/chat/completions", {
      method: "POST",
      body: chatBody("hi"),
      headers: { ...bearer(alice), "content-type": "text/plain" },
    });
    expect(response.status).toBe(415);
  });

  it("refuses a body over the limit with 413, even without Content-Length", async () => {
    const big = "x".repeat(Number(env.MAX_BODY_BYTES) + 10);
    const stream = new Blob([chatBody(big)]).stream();
    const response = await gatewayFetch("/v1/chat/completions", { method: "POST", body: stream, headers: bearer(alice) });
    expect(response.status).toBe(413);
    expect((await json(response)).error.code).toBe("payload_too_large");
  });

  it("refuses an unknown model with 404 model_not_found", async () => {
    const response = await gatewayFetch("/v1/chat/completions", {
      method: "POST",
      body: chatBody("hi", { model: "no-such-model" }),
      headers: bearer(alice),
    });
    expect(response.status).toBe(404);
    expect((await json(response)).error.code).toBe("model_not_found");
  });

  it("refuses a request without messages with a precise 400", async () => {
    const response = await gatewayFetch("/v1/chat/completions", {
      method: "POST",
      body: JSON.stringify({ model: "gpt-4o-mini", messages: [] }),
      headers: bearer(alice),
    });
    expect(response.status).toBe(400);
    expect((await json(response)).error.message).toContain('"messages"');
  });
});

describe("proxying an allowed request", () => {
  it("serves alice from the EU backend with the gateway's key, never the caller's token, audited before the call", async () => {
    const marker = `marker-${crypto.randomUUID()}`;
    const response = await gatewayFetch("/v1/chat/completions", { method: "POST", body: chatBody(`hello ${marker}`), headers: bearer(alice) });
    expect(response.status).toBe(200);
    const body = await json(response);
    expect(body.object).toBe("chat.completion");
    expect(body.choices[0].message.content).toContain("eu-public");

    const received = await receivedWith("eu-public", marker);
    expect(received?.headers.authorization).toBe(`Bearer ${env.UPSTREAM_KEY_EU_PUBLIC}`);
    expect(JSON.stringify(received?.headers)).not.toContain(alice);

    const records = await auditFor("acme", response.headers.get("x-request-id")!);
    expect(records.map((r) => r.type)).toEqual(["decision", "completion"]);
    expect(records[0]).toMatchObject({ decision: "allow", principal: { id: "alice", kind: "user" }, resource: { type: "Backend", id: "eu-public" } });
    expect(records[0]!.policyVersion).toMatch(/^[0-9a-f]{64}$/);
  });

  it("serves carol from the US backend", async () => {
    const response = await gatewayFetch("/v1/chat/completions", { method: "POST", body: chatBody("hello"), headers: bearer(carol) });
    expect(response.status).toBe(200);
    expect((await json(response)).choices[0].message.content).toContain("us-public");
  });

  it("serves Anthropic messages for carol, with x-api-key upstream", async () => {
    const marker = `marker-${crypto.randomUUID()}`;
    const response = await gatewayFetch("/v1/messages", { method: "POST", body: messagesBody(marker), headers: bearer(carol) });
    expect(response.status).toBe(200);
    const body = await json(response);
    expect(body.type).toBe("message");
    const received = await receivedWith("us-public", marker);
    expect(received?.headers["x-api-key"]).toBe(env.UPSTREAM_KEY_US_PUBLIC);
    expect(received?.headers.authorization).toBeUndefined();
  });

  it("streams chunks as they arrive: the first one before the upstream has finished", async () => {
    const response = await gatewayFetch("/v1/chat/completions", {
      method: "POST",
      body: chatBody("#slow:1500", { stream: true }),
      headers: bearer(alice),
    });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toContain("text/event-stream");
    const reader = response.body!.getReader();
    const started = Date.now();
    const first = await reader.read();
    const firstAfter = Date.now() - started;
    expect(new TextDecoder().decode(first.value)).toContain("data:");
    let text = new TextDecoder().decode(first.value);
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    const totalAfter = Date.now() - started;
    expect(text.trimEnd().endsWith("data: [DONE]")).toBe(true);
    expect(totalAfter - firstAfter).toBeGreaterThan(500);
  });

  it("streams Anthropic events with a proposed tool call (refused for a caller of another tenant)", async () => {
    const response = await gatewayFetch("/v1/messages", {
      method: "POST",
      body: messagesBody('#tool:search_documents {"query":"q3 report"}', {
        stream: true,
        tools: [{ name: "search_documents", input_schema: { type: "object" } }],
      }),
      headers: bearer(carol),
    });
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(text).toContain("event: message_start");
    // search_documents is acme's tool: carol (globex) may not use it, so the proposed call is removed
    // and its block carries the refusal instead (test/worker/tool-calls.test.ts covers allowed calls).
    expect(text).not.toContain("input_json_delta");
    expect(text).toContain("tool call to search_documents refused");
    expect(text).toContain("event: message_stop");
  });

  it("cancels the upstream request when the caller disconnects", async () => {
    const marker = `marker-${crypto.randomUUID()}`;
    const response = await gatewayFetch("/v1/chat/completions", {
      method: "POST",
      body: chatBody(`#slow:5000 ${marker}`, { stream: true }),
      headers: bearer(alice),
    });
    const reader = response.body!.getReader();
    await reader.read();
    await reader.cancel();
    let received;
    for (let i = 0; i < 40 && !received?.aborted; i++) {
      await new Promise((r) => setTimeout(r, 100));
      received = await receivedWith("eu-public", marker);
    }
    expect(received?.aborted).toBe(true);
    let completion: Record<string, unknown> | undefined;
    for (let i = 0; i < 40 && !completion; i++) {
      completion = (await auditFor("acme", response.headers.get("x-request-id")!)).find((r) => r.type === "completion");
      if (!completion) await new Promise((r) => setTimeout(r, 50));
    }
    expect(completion).toMatchObject({ stream: true, aborted: true });
  });
});

describe("refusals after identity", () => {
  it("denies alice a US-only model by policy: 403, audited with reasons", async () => {
    const response = await gatewayFetch("/v1/chat/completions", {
      method: "POST",
      body: chatBody("hi", { model: "claude-haiku-4-5" }),
      headers: bearer(alice),
    });
    expect(response.status).toBe(403);
    expect((await json(response)).error).toMatchObject({ type: "permission_error", code: "policy_denied" });
    const [record] = await auditFor("acme", response.headers.get("x-request-id")!);
    expect(record).toMatchObject({ type: "decision", decision: "deny", principal: { id: "alice" } });
  });

  it("never sends a prompt that carries a secret upstream", async () => {
    const response = await gatewayFetch("/v1/chat/completions", {
      method: "POST",
      body: chatBody("my key is AKIAIOSFODNN7EXAMPLE please store it"),
      headers: bearer(alice),
    });
    expect(response.status).toBe(403);
    const [record] = await auditFor("acme", response.headers.get("x-request-id")!);
    expect(record).toMatchObject({ decision: "deny", classification: { level: 3, categories: ["secret"] } });
  });

  // Since redaction is honoured (issue 6), personal data goes to the preferred public backend in region,
  // redacted, as model.pii-redacted-on-public allows; test/worker/data-transform.test.ts proves what left.
  it("sends alice's personal data to the EU public tier, redacted", async () => {
    const response = await gatewayFetch("/v1/chat/completions", {
      method: "POST",
      body: chatBody("write to jane.doe@example.com about the offer"),
      headers: bearer(alice),
    });
    expect(response.status).toBe(200);
    expect((await json(response)).choices[0].message.content).toContain("eu-public");
    const [record] = await auditFor("acme", response.headers.get("x-request-id")!);
    expect(record).toMatchObject({ decision: "allow", resource: { id: "eu-public" }, transforms: { redact: { EMAIL_ADDRESS: 1 } } });
  });

  it("serves mallory's personal data on the public tier, redacted (contractors stay off the confidential tier)", async () => {
    const response = await gatewayFetch("/v1/chat/completions", {
      method: "POST",
      body: chatBody("write to jane.doe@example.com about the offer"),
      headers: bearer(mallory),
    });
    expect(response.status).toBe(200);
    const [record] = await auditFor("acme", response.headers.get("x-request-id")!);
    expect(record).toMatchObject({
      decision: "allow",
      resource: { id: "eu-public" },
      obligations: expect.arrayContaining([{ kind: "redact", category: "PII" }]),
      transforms: { redact: { EMAIL_ADDRESS: 1 } },
    });
  });

  it("keeps mallory (contractor) off the confidential tier", async () => {
    const response = await gatewayFetch("/v1/chat/completions", {
      method: "POST",
      body: chatBody("hi", { model: "mistral-large-2" }),
      headers: bearer(mallory),
    });
    expect(response.status).toBe(403);
  });

  it("turns an upstream error into a clean 502 that leaks nothing", async () => {
    // gpt-4.1: alice's only eligible backend is eu-public, so no fail-over (test/worker/failover.test.ts covers that).
    const response = await gatewayFetch("/v1/chat/completions", { method: "POST", body: chatBody("#status:500", { model: "gpt-4.1" }), headers: bearer(alice) });
    expect(response.status).toBe(502);
    const text = await response.text();
    expect(text).not.toContain("upstream-internal-detail");
    expect(JSON.parse(text).error.code).toBe("upstream_error");
  });
});

describe("models", () => {
  it("lists only the models alice may use", async () => {
    const response = await gatewayFetch("/v1/models", { headers: bearer(alice) });
    expect(response.status).toBe(200);
    const ids = (await json(response)).data.map((m: { id: string }) => m.id);
    expect(ids).toContain("gpt-4o-mini");
    expect(ids).toContain("mistral-large-2");
    expect(ids).not.toContain("claude-haiku-4-5");
  });

  it("lists only public-tier EU models for mallory", async () => {
    const response = await gatewayFetch("/v1/models", { headers: bearer(mallory) });
    const ids = (await json(response)).data.map((m: { id: string }) => m.id);
    expect(ids.sort()).toEqual(["gpt-4.1", "gpt-4o-mini"]);
  });
});
