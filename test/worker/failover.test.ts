/**
 * Fail-over inside the eligible set (issue 6, item 4), through the whole Worker with the seeded world
 * and a backend health of the test's own (frozen clock). alice is acme's (EU); her personal data may
 * go to eu-public (redacted) and eu-confidential (as sent), never to us-public. `#fail:<id>:<fault>`
 * makes one mock backend fail while the others answer (dev/mock/steering.ts).
 */
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../worker/app.ts";
import { createIdentity } from "../../worker/identity/index.ts";
import { createBackendHealth, type BackendHealth } from "../../worker/providers/index.ts";
import { createAuditSink } from "../../worker/verify/index.ts";
import { createConfigSource } from "../../worker/workload/index.ts";
import { auditFor, bearer, receivedWith, type StoredRecord } from "../support/gateway.ts";
import { seedKv } from "../support/seed.ts";
import { tokenFor } from "../support/tokens.ts";
import { EMAIL, marker, streamError } from "./data-support.ts";

const BACKENDS = ["eu-public", "us-public", "eu-confidential"] as const;
const COOL_DOWN_MS = 60_000;

let alice: string;

beforeAll(async () => {
  await seedKv(env.CONFIG);
  alice = await tokenFor("alice");
});

/** A gateway with its own backend health, so this file's failures never reorder other files' routing. */
function gateway(health: BackendHealth = createBackendHealth()) {
  const app = createApp({ config: createConfigSource(), authenticate: createIdentity({}), audit: (e) => createAuditSink(e.AUDIT_LOG), health });
  return async function send(text: string, extra: Record<string, unknown> = {}) {
    const ctx = createExecutionContext();
    const body = JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: text }], ...extra });
    const response = await app.request("https://gateway.test/v1/chat/completions", { method: "POST", body, headers: bearer(alice) }, env, ctx);
    return { response, settled: () => waitOnExecutionContext(ctx) };
  };
}

async function reachedBy(m: string): Promise<string[]> {
  const reached: string[] = [];
  for (const backend of BACKENDS) if (await receivedWith(backend, m)) reached.push(backend);
  return reached;
}

async function recordsOf(response: Response): Promise<StoredRecord[]> {
  return auditFor("acme", response.headers.get("x-request-id")!);
}

describe("the preferred backend fails before answering", () => {
  for (const [fault, failure] of [
    ["503", { failure: "status", status: 503 }],
    ["429", { failure: "status", status: 429 }],
    ["reset", { failure: "unreachable" }],
  ] as const) {
    it(`${fault}: the next eligible backend serves, with its own obligations, and the audit shows both attempts`, async () => {
      const send = gateway();
      const m = marker();
      const { response, settled } = await send(`#fail:eu-public:${fault} mail ${EMAIL} ${m}`);
      expect(response.status).toBe(200);
      expect(JSON.stringify(await response.json())).toContain("Hello from eu-confidential");
      await settled();
      expect(await reachedBy(m)).toEqual(["eu-public", "eu-confidential"]);
      // Each attempt's body follows its own decision: redacted for the public tier, as sent for the confidential one.
      expect(JSON.stringify((await receivedWith("eu-public", m))!.body)).not.toContain(EMAIL);
      expect(JSON.stringify((await receivedWith("eu-confidential", m))!.body)).toContain(EMAIL);

      const records = await recordsOf(response);
      expect(records.map((r) => r.type)).toEqual(["decision", "decision", "completion"]);
      const [first, second, completion] = records;
      expect(first).toMatchObject({ decision: "allow", attempt: 1, resource: { id: "eu-public" }, obligations: [{ kind: "redact", category: "PII" }] });
      expect(first).not.toHaveProperty("failedAttempts");
      expect(second).toMatchObject({ decision: "allow", attempt: 2, resource: { id: "eu-confidential" }, obligations: [], failedAttempts: [{ attempt: 1, backend: "eu-public", ...failure }] });
      expect(completion).toMatchObject({ backend: "eu-confidential", status: 200, failedAttempts: [{ attempt: 1, backend: "eu-public", ...failure }] });
    });
  }

  it("an upstream that does not answer in time fails over too", async () => {
    await seedKv(env.CONFIG, (files) => {
      for (const backend of files.backends as Array<{ id: string; timeoutMs: number }>) backend.timeoutMs = 300;
    });
    try {
      const m = marker();
      const { response } = await gateway()(`#hang ${m}`);
      // #hang makes every backend hang: both time out, and the caller hears that no eligible backend answered.
      expect(response.status).toBe(503);
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe("upstream_unavailable");
      const records = await recordsOf(response);
      expect(records[1]).toMatchObject({ attempt: 2, resource: { id: "eu-confidential" }, failedAttempts: [{ attempt: 1, backend: "eu-public", failure: "timeout" }] });
    } finally {
      await seedKv(env.CONFIG);
    }
  });
});

describe("fail-over never leaves the eligible set", () => {
  it("alice's PII on a model only eu-public and us-public serve: eu-public fails, and the request is refused, never sent to us-public", async () => {
    const m = marker();
    const { response, settled } = await gateway()(`#fail:eu-public:503 mail ${EMAIL} ${m}`, { model: "gpt-4.1" });
    expect(response.status).toBe(502);
    const body = (await response.json()) as { error: { code: string; message: string; type: string } };
    // One attempt, no fail-over possible: the backend's own failure, as without fail-over.
    expect(body.error).toMatchObject({ code: "upstream_error", type: "api_error" });
    expect(body.error.message).not.toContain("upstream-internal-detail");
    await settled();
    expect(await reachedBy(m)).toEqual(["eu-public"]);
    const records = await recordsOf(response);
    expect(records.map((r) => r.type)).toEqual(["decision", "completion"]);
    expect(records[0]).toMatchObject({ decision: "allow", attempt: 1, resource: { id: "eu-public" } });
    expect(records[1]).toMatchObject({ backend: "eu-public", error: "upstream_error", failedAttempts: [{ attempt: 1, backend: "eu-public", failure: "status", status: 503 }] });
  });

  it("every eligible backend fails: 503 upstream_unavailable in the provider's shape, naming only the backends tried", async () => {
    const m = marker();
    const { response, settled } = await gateway()(`#fail:eu-public:500 #fail:eu-confidential:503 mail ${EMAIL} ${m}`);
    expect(response.status).toBe(503);
    const text = await response.text();
    expect(text).not.toContain("upstream-internal-detail");
    expect(text).not.toContain("us-public");
    const body = JSON.parse(text) as { error: { code: string; message: string; type: string } };
    expect(body.error).toMatchObject({ code: "upstream_unavailable", type: "api_error" });
    expect(body.error.message).toContain("eu-public: status 500");
    expect(body.error.message).toContain("eu-confidential: status 503");
    await settled();
    expect(await reachedBy(m)).toEqual(["eu-public", "eu-confidential"]);
    const records = await recordsOf(response);
    expect(records.map((r) => r.type)).toEqual(["decision", "decision", "completion"]);
    expect(records[2]).toMatchObject({ error: "upstream_unavailable", status: 503, failedAttempts: [{ backend: "eu-public" }, { backend: "eu-confidential" }] });
  });
});

describe("once the reply is being relayed there is no retry", () => {
  it("a stream that breaks after its first event is not retried elsewhere", async () => {
    const m = marker();
    const { response, settled } = await gateway()(`#fail:eu-public:cut ${m}`, { stream: true });
    expect(response.status).toBe(200);
    const reader = response.body!.getReader();
    const first = await reader.read();
    expect(new TextDecoder().decode(first.value)).toContain("data: ");
    // The rest breaks off: the stream ends with OpenAI's error event, and nothing more is tried.
    let rest = "";
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      rest += new TextDecoder().decode(value);
    }
    expect(rest).not.toContain("[DONE]");
    expect(streamError(rest)).toMatchObject({ code: "upstream_error", type: "api_error" });
    await settled();
    expect(await reachedBy(m)).toEqual(["eu-public"]);
    const records = await recordsOf(response);
    expect(records.map((r) => r.type)).toEqual(["decision", "completion"]);
    expect(records[0]).toMatchObject({ attempt: 1, resource: { id: "eu-public" } });
    // The upstream broke off, not the caller: recorded as such.
    expect(records[1]).toMatchObject({ backend: "eu-public", status: 200, stream: true, aborted: false, error: "upstream_error" });
  });

  it("a whole reply that breaks off is not retried either (the upstream did the work)", async () => {
    const m = marker();
    const { response, settled } = await gateway()(`#fail:eu-public:cut ${m}`);
    expect(response.status).toBe(502);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe("upstream_error");
    await settled();
    expect(await reachedBy(m)).toEqual(["eu-public"]);
  });
});

describe("the circuit breaker", () => {
  it("skips a backend that keeps failing (tries it last), and tries it first again after the cool-down", async () => {
    let now = 1_700_000_000_000;
    const send = gateway(createBackendHealth({ threshold: 2, coolDownMs: COOL_DOWN_MS, now: () => now }));
    for (let i = 0; i < 2; i++) {
      const { response } = await send(`#fail:eu-public:503 ${marker()}`);
      expect(response.status).toBe(200);
    }
    // Open: eu-confidential is tried first, and eu-public is not contacted at all.
    const skipped = marker();
    const { response: served } = await send(`hello ${skipped}`);
    expect(served.status).toBe(200);
    expect(await reachedBy(skipped)).toEqual(["eu-confidential"]);
    expect((await recordsOf(served))[0]).toMatchObject({ attempt: 1, resource: { id: "eu-confidential" } });

    // Health never widens the eligible set: on a model only eu-public may serve alice, it is still
    // tried (last, and alone), and us-public never.
    const alone = marker();
    const { response: onlyEu } = await send(`mail ${EMAIL} ${alone}`, { model: "gpt-4.1" });
    expect(onlyEu.status).toBe(200);
    expect(await reachedBy(alone)).toEqual(["eu-public"]);

    // That success closed the circuit again; open it once more, then let the cool-down pass.
    for (let i = 0; i < 2; i++) await send(`#fail:eu-public:503 ${marker()}`);
    const stillOpen = marker();
    await send(`hello ${stillOpen}`);
    expect(await reachedBy(stillOpen)).toEqual(["eu-confidential"]);
    now += COOL_DOWN_MS;
    const probe = marker();
    const { response: probed } = await send(`hello ${probe}`);
    expect(probed.status).toBe(200);
    expect(await reachedBy(probe)).toEqual(["eu-public"]);
  });
});
