/**
 * Signed configuration through the whole Worker: a refused bundle update is recorded in the `_config`
 * audit log under the id of the request that saw it, and that request (and every later one) is still
 * served by the last good bundle.
 */
import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { BUNDLE_KEY } from "../../worker/workload/bundle-format.ts";
import { auditRecords, bearer, chatBody, gatewayFetch, receivedWith } from "../support/gateway.ts";
import { seedKv } from "../support/seed.ts";
import { tokenFor } from "../support/tokens.ts";

let alice: string;

beforeAll(async () => {
  await seedKv(env.CONFIG);
  alice = await tokenFor("alice");
});

async function chat(marker: string): Promise<Response> {
  return gatewayFetch("/v1/chat/completions", { method: "POST", body: chatBody(marker), headers: bearer(alice) });
}

describe("signed configuration in the Worker", () => {
  it("serves with the seeded signed bundle", async () => {
    const marker = `marker-${crypto.randomUUID()}`;
    const response = await chat(marker);
    expect(response.status).toBe(200);
    expect(await receivedWith("eu-public", marker)).toBeDefined();
  });

  it("refuses a tampered update, audits it in _config, and keeps serving with the last good bundle", async () => {
    expect((await chat("warm-up")).status).toBe(200);
    const stored = JSON.parse((await env.CONFIG.get(BUNDLE_KEY, "text"))!) as { documents: { registry: { backends: Array<{ id: string; baseUrl: string }> } } };
    // The attacker can write KV but holds no pinned key: eu-public now points at the US backend.
    stored.documents.registry.backends.find((b) => b.id === "eu-public")!.baseUrl = "http://127.0.0.1:8792";
    await env.CONFIG.put(BUNDLE_KEY, JSON.stringify(stored));

    const marker = `marker-${crypto.randomUUID()}`;
    const response = await chat(marker);
    expect(response.status).toBe(200);
    expect(await receivedWith("eu-public", marker)).toBeDefined();
    expect(await receivedWith("us-public", marker)).toBeUndefined();

    const requestId = response.headers.get("x-request-id");
    const records = (await auditRecords("_config")).filter((r) => r.requestId === requestId);
    expect(records).toEqual([
      expect.objectContaining({ type: "config_refused", tenant: "_config", code: "bundle_digest_mismatch", kept: expect.stringMatching(/^[0-9a-f]{64}$/) }),
    ]);
    expect(records[0]!.reason).toContain("registry");
  });

  it("refuses an unsigned update the same way", async () => {
    expect((await chat("warm-up")).status).toBe(200);
    const stored = JSON.parse((await env.CONFIG.get(BUNDLE_KEY, "text"))!) as { envelope: { signatures: unknown[] } };
    stored.envelope.signatures = [];
    await env.CONFIG.put(BUNDLE_KEY, JSON.stringify(stored));
    const response = await chat(`marker-${crypto.randomUUID()}`);
    expect(response.status).toBe(200);
    const records = (await auditRecords("_config")).filter((r) => r.requestId === response.headers.get("x-request-id"));
    expect(records).toEqual([expect.objectContaining({ type: "config_refused", code: "bundle_unsigned" })]);
  });
});
