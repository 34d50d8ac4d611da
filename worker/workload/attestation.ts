/**
 * Verifies a confidential backend's attestation token: an Entity Attestation Token (RFC 9711) as a
 * signed JWT, in the style of NVIDIA NRAS, Intel Trust Authority and Azure Attestation. The gateway
 * trusts it only when
 *
 * - it is a compact JWS whose header names (`kid`) one of the keys pinned in the registry for this
 *   backend, with that key's algorithm; a header that brings its own key (`jwk`, `jku`, `x5c`, `x5u`)
 *   or a key id outside the pinned set is refused (RFC 8725 §3.10), and the signature verifies;
 * - `iss` is the pinned issuer;
 * - `eat_nonce` is the fresh nonce the gateway chose for this exchange; a nonce the gateway already
 *   consumed is refused as reused, any other one as stale;
 * - `iat` is not in the future and the token is younger than `maxAgeSeconds`, and `exp` has not passed;
 * - `measurement` (the launch measurement, hex) is on the backend's allowlist.
 *
 * Pure apart from WebCrypto: time and the consumed nonces are passed in. Every refusal has its own
 * reason code, which the pipeline records in the audit log.
 */
import { compactVerify, decodeProtectedHeader, importJWK, type JWK } from "jose";

export interface AttestationPolicy {
  /** Compared exactly with the token's `iss`. */
  issuer: string;
  /** The verifier's public keys, pinned inline (each with `kid` and `alg`). */
  jwks: { keys: JWK[] };
  /** Allowed launch measurements, hex (compared case-insensitively). */
  measurements: string[];
  /** A token older than this (by `iat`) is neither accepted nor relied on from the cache. */
  maxAgeSeconds: number;
}

export type AttestationFailure =
  | "malformed"
  | "unpinned_key"
  | "algorithm_mismatch"
  | "bad_signature"
  | "wrong_issuer"
  | "nonce_reused"
  | "stale_nonce"
  | "expired"
  | "not_yet_valid"
  | "measurement_not_allowed"
  | "unavailable"
  | "not_configured";

export class AttestationError extends Error {
  constructor(
    readonly reason: AttestationFailure,
    message: string,
    options: { cause?: unknown } = {},
  ) {
    super(message, options);
    this.name = "AttestationError";
  }
}

/** What the gateway relied on, for the audit record. */
export interface VerifiedAttestation {
  issuer: string;
  keyId: string;
  measurement: string;
  /** Unix seconds. */
  issuedAt: number;
  /** Unix seconds: the earlier of `exp` and `iat + maxAgeSeconds`; the cache holds it no longer. */
  relyUntil: number;
}

/** The policy with its keys imported once (per configuration version), by key id. */
export interface PreparedAttestationPolicy {
  issuer: string;
  keys: ReadonlyMap<string, { key: CryptoKey | Uint8Array; alg: string }>;
  measurements: ReadonlySet<string>;
  maxAgeSeconds: number;
}

/** Asymmetric algorithms only (an HMAC "verified" with a public key is the confusion attack). */
const ALGORITHMS = new Set(["ES256", "ES384", "ES512", "PS256", "PS384", "PS512", "RS256", "RS384", "RS512", "EdDSA", "Ed25519"]);
const KEY_BEARING_HEADERS = ["jwk", "jku", "x5c", "x5u"] as const;
/** Attestation tokens are a few KiB (NRAS tokens with GPU evidence claims stay under 8 KiB). */
export const MAX_ATTESTATION_TOKEN_LENGTH = 16_384;
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
/** Allowed clock difference between the gateway and the attestation service. */
const CLOCK_SKEW_SECONDS = 30;

export async function prepareAttestationPolicy(policy: AttestationPolicy): Promise<PreparedAttestationPolicy> {
  const keys = new Map<string, { key: CryptoKey | Uint8Array; alg: string }>();
  for (const jwk of policy.jwks.keys) {
    if (typeof jwk.kid !== "string" || typeof jwk.alg !== "string" || !ALGORITHMS.has(jwk.alg)) {
      throw new TypeError("attestation: every pinned key needs a kid and an asymmetric alg");
    }
    if (keys.has(jwk.kid)) throw new TypeError(`attestation: key id "${jwk.kid}" is pinned twice`);
    if ("d" in jwk) throw new TypeError("attestation: a pinned key must be a public key");
    keys.set(jwk.kid, { key: await importJWK(jwk, jwk.alg), alg: jwk.alg });
  }
  if (keys.size === 0) throw new TypeError("attestation: no key is pinned");
  return {
    issuer: policy.issuer,
    keys,
    measurements: new Set(policy.measurements.map((m) => m.toLowerCase())),
    maxAgeSeconds: policy.maxAgeSeconds,
  };
}

export interface VerifyOptions {
  /** The nonce the gateway sent for this exchange. */
  nonce: string;
  /** Nonces the gateway sent before (consumed, whatever their outcome). */
  consumed: { has(nonce: string): boolean };
  /** Unix seconds. */
  now: number;
}

function refuse(reason: AttestationFailure, message: string, cause?: unknown): never {
  throw new AttestationError(reason, message, { cause });
}

export async function verifyAttestation(token: string, policy: PreparedAttestationPolicy, options: VerifyOptions): Promise<VerifiedAttestation> {
  if (token.length > MAX_ATTESTATION_TOKEN_LENGTH || !COMPACT_JWS.test(token)) refuse("malformed", "the attestation is not a compact JWS");
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(token);
  } catch (cause) {
    return refuse("malformed", "the attestation's header is malformed", cause);
  }
  if (header.crit !== undefined) refuse("malformed", "the attestation demands a JWS extension");
  for (const name of KEY_BEARING_HEADERS) {
    if (name in header) refuse("unpinned_key", `the attestation's header carries its own key ("${name}")`);
  }
  const pinned = typeof header.kid === "string" ? policy.keys.get(header.kid) : undefined;
  if (!pinned) refuse("unpinned_key", "the attestation is signed by a key outside the pinned set");
  if (header.alg !== pinned.alg) refuse("algorithm_mismatch", "the attestation's algorithm is not its pinned key's");

  let payload: Uint8Array;
  try {
    ({ payload } = await compactVerify(token, pinned.key, { algorithms: [pinned.alg] }));
  } catch (cause) {
    return refuse("bad_signature", "the attestation's signature does not verify", cause);
  }
  let claims: unknown;
  try {
    claims = JSON.parse(new TextDecoder().decode(payload));
  } catch (cause) {
    return refuse("malformed", "the attestation's claims are not JSON", cause);
  }
  if (typeof claims !== "object" || claims === null || Array.isArray(claims)) refuse("malformed", "the attestation's claims are not an object");
  const { iss, iat, exp, eat_nonce: nonce, measurement } = claims as Record<string, unknown>;

  if (iss !== policy.issuer) refuse("wrong_issuer", "the attestation is from another issuer");
  // The nonce first: a replayed token is a replay whatever its times say.
  if (typeof nonce !== "string") refuse("malformed", "the attestation carries no eat_nonce");
  if (nonce !== options.nonce) {
    if (options.consumed.has(nonce)) refuse("nonce_reused", "the attestation answers a nonce that was already used");
    refuse("stale_nonce", "the attestation does not answer the nonce the gateway chose");
  }
  if (typeof iat !== "number" || typeof exp !== "number" || !Number.isFinite(iat) || !Number.isFinite(exp)) {
    refuse("malformed", "the attestation needs numeric iat and exp");
  }
  if (iat > options.now + CLOCK_SKEW_SECONDS) refuse("not_yet_valid", "the attestation is issued in the future");
  if (exp <= options.now || options.now - iat > policy.maxAgeSeconds) refuse("expired", "the attestation has expired");
  if (typeof measurement !== "string" || !policy.measurements.has(measurement.toLowerCase())) {
    refuse("measurement_not_allowed", "the attested measurement is not on the allowlist");
  }
  return {
    issuer: iss,
    keyId: header.kid as string,
    measurement: measurement.toLowerCase(),
    issuedAt: iat,
    relyUntil: Math.min(exp, iat + policy.maxAgeSeconds),
  };
}
