/**
 * The confidential mock's attestation service (dev/mock/attestation.ts), verified by the gateway's own
 * verifier against the key and measurement kv-seeds/backends.json pins: the dev key and the seeds agree,
 * and each admin mode spoils the token the way its name says. Servers on port 0.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import backends from "../../kv-seeds/backends.json";
import { startMockBackend, type RunningMockBackend } from "../../dev/mock-backend.ts";
import { AttestationError, prepareAttestationPolicy, verifyAttestation, type AttestationPolicy, type PreparedAttestationPolicy } from "../../worker/workload/attestation.ts";

let confidential: RunningMockBackend;
let publicTier: RunningMockBackend;
let policy: PreparedAttestationPolicy;
const consumed = new Set<string>();

beforeAll(async () => {
  const seeded = backends.find((b) => b.id === "eu-confidential") as unknown as { attestation: AttestationPolicy };
  policy = await prepareAttestationPolicy(seeded.attestation);
  confidential = await startMockBackend({ id: "eu-confidential", port: 0, region: "eu", tier: "confidential", apiKey: "k", secret: "S" });
  publicTier = await startMockBackend({ id: "eu-public", port: 0, region: "eu", tier: "public", apiKey: "k", secret: "S" });
});

afterAll(async () => {
  await Promise.all([confidential.close(), publicTier.close()]);
});

async function attest(url: string, nonce: string): Promise<Response> {
  return fetch(`${url}/attestation`, { method: "POST", body: JSON.stringify({ nonce }) });
}

async function outcome(mode: string): Promise<string> {
  expect((await fetch(`${confidential.url}/__mock/attestation`, { method: "POST", body: JSON.stringify({ mode }) })).status).toBe(200);
  const nonce = crypto.randomUUID();
  const { token } = (await (await attest(confidential.url, nonce)).json()) as { token: string };
  try {
    await verifyAttestation(token, policy, { nonce, consumed, now: Math.floor(Date.now() / 1000) });
    return "verified";
  } catch (error) {
    if (error instanceof AttestationError) return error.reason;
    throw error;
  } finally {
    consumed.add(nonce);
  }
}

describe("mock attestation service", () => {
  it("issues tokens the gateway verifies with the seeded pins, and each mode spoils them as named", async () => {
    expect(await outcome("valid")).toBe("verified");
    expect(await outcome("bad-measurement")).toBe("measurement_not_allowed");
    expect(await outcome("stale-nonce")).toBe("stale_nonce");
    expect(await outcome("reused-nonce")).toBe("nonce_reused");
    expect(await outcome("bad-signature")).toBe("bad_signature");
    expect(await outcome("unpinned-key")).toBe("unpinned_key");
    expect(await outcome("expired")).toBe("expired");
    expect(await outcome("valid")).toBe("verified");
  });

  it("refuses unknown modes and bad nonces; public-tier mocks have no attestation endpoint", async () => {
    expect((await fetch(`${confidential.url}/__mock/attestation`, { method: "POST", body: JSON.stringify({ mode: "lenient" }) })).status).toBe(400);
    expect((await attest(confidential.url, "short")).status).toBe(400);
    expect((await attest(publicTier.url, crypto.randomUUID())).status).toBe(404);
  });
});
