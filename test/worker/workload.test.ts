/**
 * The workload plane through the whole Worker (issue 7, parts 2 and 3): model pinning (both wire
 * formats, whole and streamed; the suspect backend is skipped next) and attested confidential
 * backends (each way an attestation can be bad is refused, audited, and nothing reaches a backend).
 *
 * The gate's state is per isolate and keyed by the configuration in force, so each test publishes a
 * configuration of its own (a unique description) and starts with no suspects and no cached attestation.
 */
import { env } from "cloudflare:test";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { MOCK_BACKENDS } from "../../dev/config.ts";
import type { SeedFiles } from "../../dev/seed-entries.ts";
import { seedKv } from "../support/seed.ts";
import { tokenFor } from "../support/tokens.ts";
import { auditFor, bearer, chatBody, gatewayFetch, messagesBody, receivedBy, receivedWith, type StoredRecord } from "../support/gateway.ts";

let alice: string;
let carol: string;

const CONFIDENTIAL = MOCK_BACKENDS.find((b) => b.id === "eu-confidential")!;
const ATTESTATION_ADMIN = `http://127.0.0.1:${CONFIDENTIAL.port}/__mock/attestation`;

beforeAll(async () => {
  [alice, carol] = await Promise.all([tokenFor("alice"), tokenFor("carol")]);
});

afterEach(async () => {
  await setAttestationMode("valid");
});

type Backends = Array<Record<string, unknown> & { id: string }>;

/** A configuration of this test's own (fresh gate state); `mutate` may change the backends further. */
async function publishFresh(mutate?: (backends: Backends) => void): Promise<void> {
  const run = crypto.randomUUID();
  await seedKv(env.CONFIG, (files: SeedFiles) => {
    const backends = files.backends as Backends;
    for (const backend of backends) backend.description = `${String(backend.description)} (${run})`;
    mutate?.(backends);
  });
}

async function setAttestationMode(mode: string): Promise<void> {
  const response = await fetch(ATTESTATION_ADMIN, { method: "POST", body: JSON.stringify({ mode }) });
  expect(response.status).toBe(200);
}

async function json(response: Response): Promise<Record<string, any>> {
  return (await response.json()) as Record<string, any>;
}

/** The request's records, waiting for the completion record (committed after the reply). */
async function recordsOf(tenant: string, response: Response, types = ["decision", "completion"]): Promise<StoredRecord[]> {
  const requestId = response.headers.get("x-request-id")!;
  let records: StoredRecord[] = [];
  for (let i = 0; i < 40; i++) {
    records = await auditFor(tenant, requestId);
    if (types.every((t) => records.some((r) => r.type === t))) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return records;
}

const confidentialChat = (text: string, extra: Record<string, unknown> = {}) => ({
  method: "POST",
  body: chatBody(text, extra),
  headers: bearer(alice, { "x-verity-classification": "restricted" }),
});

describe("model pinning", () => {
  it("stops a whole OpenAI reply that claims another model (502 model_pin_violation), audits it, and skips the backend next", async () => {
    await publishFresh();
    const response = await gatewayFetch("/v1/chat/completions", { method: "POST", body: chatBody("#model:evil-model hi"), headers: bearer(alice) });
    expect(response.status).toBe(502);
    const text = await response.text();
    expect(JSON.parse(text).error).toMatchObject({ code: "model_pin_violation", type: "api_error" });
    expect(text).not.toContain("Hello from");
    const [decision, completion] = await recordsOf("acme", response);
    expect(decision).toMatchObject({ decision: "allow", resource: { id: "eu-public" } });
    expect(completion).toMatchObject({
      type: "completion",
      backend: "eu-public",
      error: "model_pin_violation",
      pinViolation: { backend: "eu-public", requested: "gpt-4o-mini", claimed: "evil-model", reason: "unpinned_model" },
    });

    // eu-public is suspect now: alice's next ordinary prompt goes to the next eligible backend.
    const marker = `after-${crypto.randomUUID()}`;
    const next = await gatewayFetch("/v1/chat/completions", { method: "POST", body: chatBody(marker), headers: bearer(alice) });
    expect(next.status).toBe(200);
    expect((await json(next)).choices[0].message.content).toContain("eu-confidential");
    expect(await receivedWith("eu-public", marker)).toBeUndefined();
  });

  it("stops a whole Anthropic reply in Anthropic's shape; with the only backend suspect, the next request is refused 503 backend_suspect", async () => {
    await publishFresh();
    const response = await gatewayFetch("/v1/messages", { method: "POST", body: messagesBody("#model:evil-model hi"), headers: bearer(carol) });
    expect(response.status).toBe(502);
    expect(await json(response)).toMatchObject({ type: "error", error: { type: "api_error" } });
    const [, completion] = await recordsOf("globex", response);
    expect(completion).toMatchObject({ error: "model_pin_violation", pinViolation: { backend: "us-public", claimed: "evil-model" } });

    const marker = `after-${crypto.randomUUID()}`;
    const next = await gatewayFetch("/v1/messages", { method: "POST", body: messagesBody(marker), headers: bearer(carol) });
    expect(next.status).toBe(503);
    const [denied] = await recordsOf("globex", next, ["decision"]);
    expect(denied).toMatchObject({ decision: "deny", code: "backend_suspect" });
    expect(denied!.candidates).toContainEqual(expect.objectContaining({ resource: { type: "Backend", id: "us-public" }, workload: expect.objectContaining({ code: "backend_suspect" }) }));
    expect(await receivedWith("us-public", marker)).toBeUndefined();
  });

  it("ends an OpenAI stream that claims another model with an error event and nothing of the model's output", async () => {
    await publishFresh();
    const response = await gatewayFetch("/v1/chat/completions", {
      method: "POST",
      body: chatBody("#model:evil-model hi", { stream: true }),
      headers: bearer(alice),
    });
    expect(response.status).toBe(200);
    const text = await response.text();
    const events = text.split("\n\n").filter((e) => e.length > 0);
    expect(events).toHaveLength(1);
    expect(JSON.parse(events[0]!.slice("data: ".length)).error).toMatchObject({ code: "model_pin_violation" });
    expect(text).not.toContain("Hello from");
    expect(text).not.toContain("[DONE]");
    const [, completion] = await recordsOf("acme", response);
    expect(completion).toMatchObject({ stream: true, error: "model_pin_violation", pinViolation: { claimed: "evil-model" } });
  });

  it("ends an Anthropic stream that claims another model with an `event: error` and nothing else", async () => {
    await publishFresh();
    const response = await gatewayFetch("/v1/messages", { method: "POST", body: messagesBody("#model:evil-model hi", { stream: true }), headers: bearer(carol) });
    const text = await response.text();
    expect(text).toMatch(/^event: error\ndata: /);
    expect(text).not.toContain("message_start");
    expect(text).not.toContain("Hello from");
    expect(JSON.parse(text.split("\n")[1]!.slice("data: ".length))).toMatchObject({ type: "error", error: { type: "api_error" } });
    const [, completion] = await recordsOf("globex", response);
    expect(completion).toMatchObject({ stream: true, error: "model_pin_violation" });
  });

  it("stops a reply whose system fingerprint is not on the backend's allowlist", async () => {
    await publishFresh((backends) => {
      backends.find((b) => b.id === "eu-confidential")!.systemFingerprints = ["fp_something-else"];
    });
    const response = await gatewayFetch("/v1/chat/completions", confidentialChat("hello"));
    expect(response.status).toBe(502);
    // Restricted data on the confidential tier is retained, so a payload record may come between.
    const completion = (await recordsOf("acme", response)).find((r) => r.type === "completion");
    expect(completion).toMatchObject({ pinViolation: { reason: "unlisted_fingerprint", systemFingerprint: "fp_eu-confidential" } });
  });
});

describe("attested confidential backends", () => {
  it("serves restricted data from eu-confidential after a fresh attestation, and reuses the verified attestation", async () => {
    await publishFresh();
    const first = await gatewayFetch("/v1/chat/completions", confidentialChat("quarterly numbers"));
    expect(first.status).toBe(200);
    expect((await json(first)).choices[0].message.content).toContain("eu-confidential");
    const [decision] = await recordsOf("acme", first);
    expect(decision).toMatchObject({
      decision: "allow",
      resource: { id: "eu-confidential" },
      attestation: { issuer: "https://attestation.dev.verity.local", keyId: "verity-dev-attestation-1", cached: false },
    });
    const attestations = (await receivedBy("eu-confidential")).filter((r) => r.path === "/attestation");
    expect(attestations.at(-1)?.body).toEqual({ nonce: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/) });

    const second = await gatewayFetch("/v1/chat/completions", confidentialChat("more numbers"));
    expect(second.status).toBe(200);
    const [again] = await recordsOf("acme", second);
    expect(again).toMatchObject({ attestation: { cached: true } });
  });

  const refusals: Array<[mode: string, reason: string]> = [
    ["bad-measurement", "measurement_not_allowed"],
    ["stale-nonce", "stale_nonce"],
    ["reused-nonce", "nonce_reused"],
    ["bad-signature", "bad_signature"],
    ["unpinned-key", "unpinned_key"],
    ["expired", "expired"],
  ];

  for (const [mode, reason] of refusals) {
    it(`denies restricted data when the attestation is bad (${mode}): 502 attestation_failed, audited as ${reason}, nothing sent`, async () => {
      await publishFresh();
      if (mode === "reused-nonce") {
        // The mock replays the nonce of its previous exchange: have one with this configuration first.
        expect((await gatewayFetch("/v1/chat/completions", confidentialChat("warm up"))).status).toBe(200);
        await publishFresh();
      }
      await setAttestationMode(mode);
      const marker = `restricted-${crypto.randomUUID()}`;
      const response = await gatewayFetch("/v1/chat/completions", confidentialChat(`numbers ${marker}`));
      expect(response.status).toBe(502);
      expect((await json(response)).error).toMatchObject({ code: "attestation_failed", type: "api_error" });
      const [record] = await recordsOf("acme", response, ["decision"]);
      expect(record).toMatchObject({ decision: "deny", code: "attestation_failed" });
      expect(record!.candidates).toContainEqual(
        expect.objectContaining({ resource: { type: "Backend", id: "eu-confidential" }, effect: "allow", workload: expect.objectContaining({ code: "attestation_failed", reason }) }),
      );
      for (const backend of MOCK_BACKENDS) expect(await receivedWith(backend.id, marker)).toBeUndefined();
    });
  }

  it("denies in Anthropic's shape too", async () => {
    await publishFresh();
    await setAttestationMode("bad-signature");
    const response = await gatewayFetch("/v1/messages", {
      method: "POST",
      body: messagesBody("numbers", { model: "claude-sonnet-4-5" }),
      headers: bearer(alice, { "x-verity-classification": "restricted" }),
    });
    expect(response.status).toBe(502);
    expect(await json(response)).toMatchObject({ type: "error", error: { type: "api_error" } });
  });

  it("does not ask public-tier backends for attestations", async () => {
    await publishFresh();
    const before = (await receivedBy("eu-confidential")).length;
    const response = await gatewayFetch("/v1/chat/completions", { method: "POST", body: chatBody("hi"), headers: bearer(alice) });
    expect(response.status).toBe(200);
    expect((await receivedBy("eu-confidential")).length).toBe(before);
  });
});
