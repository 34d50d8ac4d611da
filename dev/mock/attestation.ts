/**
 * The confidential mock backend's attestation service: real ES256-signed Entity Attestation Tokens
 * (RFC 9711 claims in a JWT, in the style of NVIDIA NRAS / Intel Trust Authority), signed with the
 * TEST-ONLY dev key in dev/attestation/ whose public half kv-seeds/backends.json pins.
 *
 *   POST /attestation {"nonce": "<the verifier's nonce>"}  →  {"token": "<JWT>"}
 *   POST /__mock/attestation {"mode": <mode>, "ttlSeconds"?: n}  sets how later tokens go wrong
 *   GET  /__mock/attestation                                    the current mode and lifetime
 *
 * Modes: `valid` (default), `bad-measurement` (a measurement not on the allowlist), `stale-nonce` (a
 * nonce the verifier never sent), `reused-nonce` (the nonce of the previous exchange: the previous
 * token replayed), `bad-signature` (the signature of another payload), `unpinned-key` (signed by a key
 * outside the pinned set), `expired` (issued and expired in the past).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { generateKeyPair, importJWK, SignJWT, type JWK } from "jose";

export const ATTESTATION_MODES = ["valid", "bad-measurement", "stale-nonce", "reused-nonce", "bad-signature", "unpinned-key", "expired"] as const;
export type AttestationMode = (typeof ATTESTATION_MODES)[number];

/** Pinned in kv-seeds/backends.json (eu-confidential.attestation). */
export const DEV_ATTESTATION_ISSUER = "https://attestation.dev.verity.local";
/** SHA-384 of "verity dev confidential model server image v1": the allowlisted launch measurement. */
export const DEV_MEASUREMENT = "5b634709a6d060550947484dbb2464a4827a4b2fa60289ba5110311de9374f3d09aa9595b8e443896c493373ed3b4a8a";
const ROGUE_MEASUREMENT = "f".repeat(96);
/** Short by default, so a verifier caching tokens re-attests often on the dev stack. */
export const DEFAULT_TOKEN_TTL_SECONDS = 30;

const DEV_KEY_FILE = join(import.meta.dirname, "..", "attestation", "dev-attestation.key.json");

export interface AttestationSettings {
  mode: AttestationMode;
  ttlSeconds: number;
}

export interface MockAttestationService {
  settings: AttestationSettings;
  /** A token for the verifier's nonce, spoiled as the current mode says. */
  issue(nonce: string): Promise<string>;
}

export async function createAttestationService(subject: string): Promise<MockAttestationService> {
  const devJwk = JSON.parse(readFileSync(DEV_KEY_FILE, "utf8")) as JWK;
  const devKey = await importJWK(devJwk, "ES256");
  const rogue = await generateKeyPair("ES256");
  const settings: AttestationSettings = { mode: "valid", ttlSeconds: DEFAULT_TOKEN_TTL_SECONDS };
  let previousNonce = "never-sent-nonce";

  function sign(claims: Record<string, unknown>, key: CryptoKey | Uint8Array, kid: string): Promise<string> {
    return new SignJWT(claims).setProtectedHeader({ alg: "ES256", typ: "JWT", kid }).sign(key);
  }

  return {
    settings,
    async issue(nonce) {
      const now = Math.floor(Date.now() / 1000);
      const { mode, ttlSeconds } = settings;
      const iat = mode === "expired" ? now - 3600 : now;
      const claims = {
        iss: DEV_ATTESTATION_ISSUER,
        sub: subject,
        iat,
        exp: iat + (mode === "expired" ? 60 : ttlSeconds),
        eat_nonce: mode === "stale-nonce" ? "a-nonce-the-verifier-never-sent" : mode === "reused-nonce" ? previousNonce : nonce,
        eat_profile: "tag:verity.dev,2025:mock-confidential",
        dbgstat: "disabled-since-boot",
        measurement: mode === "bad-measurement" ? ROGUE_MEASUREMENT : DEV_MEASUREMENT,
      };
      previousNonce = nonce;
      const kid = devJwk.kid ?? "";
      if (mode === "unpinned-key") return sign(claims, rogue.privateKey, "rogue-attestation-key");
      const token = await sign(claims, devKey, kid);
      if (mode !== "bad-signature") return token;
      // A real signature by the pinned key, but over other claims: the signature does not match.
      const other = await sign({ ...claims, measurement: ROGUE_MEASUREMENT }, devKey, kid);
      return `${token.split(".").slice(0, 2).join(".")}.${other.split(".")[2]}`;
    },
  };
}

/** Validates the admin endpoint's body; `undefined` when it is not a known mode. */
export function parseAttestationSettings(body: unknown): AttestationSettings | undefined {
  if (typeof body !== "object" || body === null) return undefined;
  const { mode, ttlSeconds } = body as { mode?: unknown; ttlSeconds?: unknown };
  if (!ATTESTATION_MODES.includes(mode as AttestationMode)) return undefined;
  if (ttlSeconds !== undefined && (!Number.isInteger(ttlSeconds) || (ttlSeconds as number) < 1 || (ttlSeconds as number) > 3600)) return undefined;
  return { mode: mode as AttestationMode, ttlSeconds: (ttlSeconds as number | undefined) ?? DEFAULT_TOKEN_TTL_SECONDS };
}
