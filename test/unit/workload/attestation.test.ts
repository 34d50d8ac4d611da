/**
 * The attestation verifier (worker/workload/attestation.ts): one test per refusal, each asserting its
 * reason code, with frozen time and keys made here.
 */
import { exportJWK, generateKeyPair, SignJWT, type JWK } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import {
  AttestationError,
  prepareAttestationPolicy,
  verifyAttestation,
  type AttestationFailure,
  type PreparedAttestationPolicy,
} from "../../../worker/workload/attestation.ts";

const NOW = 1_800_000_000;
const ISSUER = "https://attestation.test";
const MEASUREMENT = "ab".repeat(48);
const NONCE = "nonce-chosen-by-the-gateway-0001";
const OLD_NONCE = "nonce-chosen-by-the-gateway-0000";

let pinned: CryptoKeyPair;
let rogue: CryptoKeyPair;
let policy: PreparedAttestationPolicy;

beforeAll(async () => {
  [pinned, rogue] = await Promise.all([generateKeyPair("ES256", { extractable: true }), generateKeyPair("ES256", { extractable: true })]);
  const jwk: JWK = { ...(await exportJWK(pinned.publicKey)), kid: "pinned-1", alg: "ES256" };
  policy = await prepareAttestationPolicy({ issuer: ISSUER, jwks: { keys: [jwk] }, measurements: [MEASUREMENT.toUpperCase()], maxAgeSeconds: 300 });
});

interface TokenSpec {
  claims?: Record<string, unknown>;
  header?: Record<string, unknown>;
  key?: CryptoKey;
}

function token({ claims = {}, header = {}, key = pinned.privateKey }: TokenSpec = {}): Promise<string> {
  return new SignJWT({ iss: ISSUER, iat: NOW - 5, exp: NOW + 60, eat_nonce: NONCE, measurement: MEASUREMENT, ...claims })
    .setProtectedHeader({ alg: "ES256", kid: "pinned-1", ...header })
    .sign(key);
}

const consumed = new Set([OLD_NONCE]);
const verify = (jwt: string) => verifyAttestation(jwt, policy, { nonce: NONCE, consumed, now: NOW });

async function refusal(jwt: string): Promise<AttestationFailure> {
  try {
    await verify(jwt);
  } catch (error) {
    if (error instanceof AttestationError) return error.reason;
    throw error;
  }
  throw new Error("the attestation was accepted");
}

describe("attestation verifier", () => {
  it("accepts a fresh token by the pinned key, and relies on it until the earlier of exp and iat + maxAge", async () => {
    const verified = await verify(await token());
    expect(verified).toEqual({ issuer: ISSUER, keyId: "pinned-1", measurement: MEASUREMENT, issuedAt: NOW - 5, relyUntil: NOW + 60 });
    const long = await verify(await token({ claims: { exp: NOW + 3600 } }));
    expect(long.relyUntil).toBe(NOW - 5 + 300);
  });

  it("refuses a bad signature", async () => {
    const good = await token();
    const other = await token({ claims: { measurement: "cd".repeat(48) } });
    expect(await refusal(`${good.split(".").slice(0, 2).join(".")}.${other.split(".")[2]}`)).toBe("bad_signature");
  });

  it("refuses a token signed by a key outside the pinned set", async () => {
    expect(await refusal(await token({ key: rogue.privateKey, header: { kid: "rogue" } }))).toBe("unpinned_key");
  });

  it("refuses a token that claims a pinned kid but was signed by another key", async () => {
    expect(await refusal(await token({ key: rogue.privateKey }))).toBe("bad_signature");
  });

  it("refuses a header that brings its own key", async () => {
    const jwk = await exportJWK(rogue.publicKey);
    expect(await refusal(await token({ key: rogue.privateKey, header: { jwk } }))).toBe("unpinned_key");
  });

  it("refuses a measurement outside the allowlist", async () => {
    expect(await refusal(await token({ claims: { measurement: "cd".repeat(48) } }))).toBe("measurement_not_allowed");
    expect(await refusal(await token({ claims: { measurement: undefined } }))).toBe("measurement_not_allowed");
  });

  it("refuses a stale nonce (one the gateway did not send)", async () => {
    expect(await refusal(await token({ claims: { eat_nonce: "someone-elses-nonce-123" } }))).toBe("stale_nonce");
  });

  it("refuses a reused nonce (one the gateway consumed before)", async () => {
    expect(await refusal(await token({ claims: { eat_nonce: OLD_NONCE } }))).toBe("nonce_reused");
  });

  it("refuses an expired token, and one older than maxAgeSeconds", async () => {
    expect(await refusal(await token({ claims: { iat: NOW - 120, exp: NOW - 60 } }))).toBe("expired");
    expect(await refusal(await token({ claims: { iat: NOW - 301, exp: NOW + 60 } }))).toBe("expired");
  });

  it("refuses a token issued in the future", async () => {
    expect(await refusal(await token({ claims: { iat: NOW + 120, exp: NOW + 600 } }))).toBe("not_yet_valid");
  });

  it("refuses another issuer", async () => {
    expect(await refusal(await token({ claims: { iss: "https://elsewhere.test" } }))).toBe("wrong_issuer");
  });

  it("refuses an algorithm other than the pinned key's, and unsigned tokens", async () => {
    const [header, payload] = (await token()).split(".");
    const none = `${btoa(JSON.stringify({ alg: "none", kid: "pinned-1" })).replace(/=+$/, "")}.${payload}.`;
    expect(await refusal(none)).toBe("malformed");
    const hs = `${btoa(JSON.stringify({ alg: "HS256", kid: "pinned-1" })).replace(/=+$/, "")}.${payload}.c2ln`;
    expect(await refusal(hs)).toBe("algorithm_mismatch");
    expect(header).toBeDefined();
  });

  it("refuses malformed input", async () => {
    expect(await refusal("not-a-jwt")).toBe("malformed");
    expect(await refusal("a".repeat(20_000))).toBe("malformed");
    expect(await refusal(await token({ claims: { eat_nonce: undefined } }))).toBe("malformed");
  });

  it("refuses to pin a private key or a key without kid", async () => {
    const privateJwk = { ...(await exportJWK(pinned.privateKey)), kid: "k", alg: "ES256" };
    await expect(prepareAttestationPolicy({ issuer: ISSUER, jwks: { keys: [privateJwk] }, measurements: [MEASUREMENT], maxAgeSeconds: 60 })).rejects.toThrow(TypeError);
    const noKid = { ...(await exportJWK(pinned.publicKey)), alg: "ES256" };
    await expect(prepareAttestationPolicy({ issuer: ISSUER, jwks: { keys: [noKid] }, measurements: [MEASUREMENT], maxAgeSeconds: 60 })).rejects.toThrow(TypeError);
  });
});
