/**
 * The coalescing audit sink under the gateway's own pipeline: concurrent requests whose decision
 * records travel in one call into a log that cannot commit are each refused (503 audit_unavailable)
 * and none of them reaches the backend; with a working log, each has exactly one decision record.
 */
import { createExecutionContext, env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../worker/app.ts";
import { createIdentity } from "../../worker/identity/index.ts";
import { createAuditSink } from "../../worker/verify/index.ts";
import { createConfigSource } from "../../worker/workload/index.ts";
import { bearer, chatBody, receivedWith } from "../support/gateway.ts";
import { seedKv } from "../support/seed.ts";
import { tokenFor } from "../support/tokens.ts";

let alice: string;

beforeAll(async () => {
  await seedKv(env.CONFIG);
  alice = await tokenFor("alice");
});

const ctx = createExecutionContext();
const BURST = 12;

function burst(namespace: typeof env.AUDIT_LOG, markers: string[]) {
  const app = createApp({ config: createConfigSource(), authenticate: createIdentity({}), audit: () => createAuditSink(namespace) });
  return Promise.all(
    markers.map((marker) =>
      app.request("https://gateway.test/v1/chat/completions", { method: "POST", body: chatBody(marker), headers: bearer(alice) }, env, ctx),
    ),
  );
}

describe("coalesced write-ahead audit in the pipeline", () => {
  it.each([
    ["overloaded", () => ({ appendEach: () => Promise.reject(new Error("Durable Object is overloaded")) })],
    ["unavailable", () => {
      throw new Error("Durable Object unavailable");
    }],
  ])("a log that is %s denies every request of the burst, and nothing goes upstream", async (_label, get) => {
    const broken = { idFromName: (name: string) => env.AUDIT_LOG.idFromName(name), get } as unknown as typeof env.AUDIT_LOG;
    const markers = Array.from({ length: BURST }, () => `marker-${crypto.randomUUID()}`);
    const responses = await burst(broken, markers);
    for (const response of responses) {
      expect(response.status).toBe(503);
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe("audit_unavailable");
    }
    for (const marker of markers) expect(await receivedWith("eu-public", marker)).toBeUndefined();
  });

  it("a working log holds exactly one decision record per request of the burst", async () => {
    const markers = Array.from({ length: BURST }, () => `marker-${crypto.randomUUID()}`);
    const responses = await burst(env.AUDIT_LOG, markers);
    const requestIds = new Set<string>();
    for (const response of responses) {
      expect(response.status).toBe(200);
      await response.text();
      requestIds.add(response.headers.get("x-request-id")!);
    }
    expect(requestIds.size).toBe(BURST);
    const log = env.AUDIT_LOG.get(env.AUDIT_LOG.idFromName("acme"));
    const { size } = await log.treeHead();
    const decisions = new Map<string, number>();
    for (let start = Math.max(0, size - 1000); start < size; start += 1000) {
      for (const entry of await log.entries(start, Math.min(size, start + 1000))) {
        const record = JSON.parse(entry.canonical) as { type: string; requestId: string };
        if (record.type === "decision" && requestIds.has(record.requestId)) decisions.set(record.requestId, (decisions.get(record.requestId) ?? 0) + 1);
      }
    }
    expect([...decisions.values()]).toEqual(Array.from({ length: BURST }, () => 1));
  });
});
