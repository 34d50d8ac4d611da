/**
 * Segmentation by principal kind and CORS: a workload's token on the human-only audit routes is
 * refused and audited, and a person on a route the tenant opened to workloads only likewise; CORS
 * is closed by default and opened per tenant origin, preflights included.
 */
import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { auditFor, bearer, chatBody, gatewayFetch } from "../support/gateway.ts";
import { seedKv } from "../support/seed.ts";
import { tokenFor } from "../support/tokens.ts";

const APP = "https://app.acme.example";
let alice: string;
let carol: string;
let batch: string;

const codeOf = async (response: Response) => ((await response.json()) as { error: { code: string } }).error.code;

beforeAll(async () => {
  await seedKv(env.CONFIG, (files) => {
    const tenants = files.tenants as Record<string, Record<string, unknown>>;
    tenants.acme!.corsOrigins = [APP];
    // globex keeps its model routes for workloads only: people are refused there.
    tenants.globex!.segments = { ai: ["workload"] };
  });
  [alice, carol, batch] = await Promise.all([tokenFor("alice"), tokenFor("carol"), tokenFor("acme-batch")]);
});

describe("segments", () => {
  it("refuses a workload on the audit routes with segment_denied, audited in its tenant's log", async () => {
    const response = await gatewayFetch("/audit/acme/head", { headers: bearer(batch) });
    expect(response.status).toBe(403);
    expect(await codeOf(response)).toBe("segment_denied");
    const [record] = await auditFor("acme", response.headers.get("x-request-id")!);
    expect(record).toMatchObject({ type: "decision", action: "admit", decision: "deny", code: "segment_denied", principal: { kind: "workload" } });
  });

  it("lets the same workload use the model routes", async () => {
    const response = await gatewayFetch("/v1/chat/completions", { method: "POST", headers: bearer(batch), body: chatBody("hello") });
    expect(response.status).toBe(200);
    await response.text();
  });

  it("refuses a person on routes their tenant opened to workloads only (the reverse)", async () => {
    const response = await gatewayFetch("/v1/chat/completions", { method: "POST", headers: bearer(carol), body: chatBody("hello") });
    expect(response.status).toBe(403);
    expect(await codeOf(response)).toBe("segment_denied");
    const [record] = await auditFor("globex", response.headers.get("x-request-id")!);
    expect(record).toMatchObject({ action: "admit", decision: "deny", code: "segment_denied", principal: { kind: "user" } });
  });
});

describe("CORS", () => {
  const preflight = (origin: string) =>
    gatewayFetch("/v1/chat/completions", {
      method: "OPTIONS",
      headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": "authorization, content-type" },
    });

  it("answers a preflight without credentials for a listed origin only", async () => {
    const granted = await preflight(APP);
    expect(granted.status).toBe(204);
    expect(granted.headers.get("access-control-allow-origin")).toBe(APP);
    expect(granted.headers.get("access-control-allow-methods")).toContain("POST");
    expect(granted.headers.get("access-control-allow-credentials")).toBeNull();

    const refused = await preflight("https://evil.example");
    expect(refused.status).toBe(403);
    expect(refused.headers.get("access-control-allow-origin")).toBeNull();
    expect(await codeOf(refused)).toBe("cors_origin_denied");
  });

  it("makes a listed origin's response readable, and only to it", async () => {
    const response = await gatewayFetch("/v1/chat/completions", { method: "POST", headers: bearer(alice, { origin: APP }), body: chatBody("hello") });
    expect(response.status).toBe(200);
    expect(response.headers.get("access-control-allow-origin")).toBe(APP);
    expect(response.headers.get("access-control-expose-headers")).toContain("x-request-id");
    await response.text();
    const plain = await gatewayFetch("/v1/chat/completions", { method: "POST", headers: bearer(alice), body: chatBody("hello") });
    expect(plain.headers.get("access-control-allow-origin")).toBeNull();
    await plain.text();
  });

  it("refuses a request from another origin before any effect, audited", async () => {
    const response = await gatewayFetch("/v1/chat/completions", { method: "POST", headers: bearer(alice, { origin: "https://evil.example" }), body: chatBody("hello") });
    expect(response.status).toBe(403);
    expect(response.headers.get("access-control-allow-origin")).toBeNull();
    expect(await codeOf(response)).toBe("cors_origin_denied");
    const records = await auditFor("acme", response.headers.get("x-request-id")!);
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ action: "admit", decision: "deny", code: "cors_origin_denied" });
  });

  it("an origin one tenant lists is not open for another tenant's principals", async () => {
    // (globex's model routes are closed to people, so carol tries a tool: the origin is refused first.)
    const response = await gatewayFetch("/v1/tools/search_documents/invoke", { method: "POST", headers: bearer(carol, { origin: APP }), body: "{}" });
    expect(response.status).toBe(403);
    expect(await codeOf(response)).toBe("cors_origin_denied");
  });
});
