/**
 * The JWS rules every token the gateway verifies obeys (RFC 7515, RFC 8725 §3): compact serialization
 * only, an asymmetric algorithm from the verifier's allowlist, no header that brings its own key or
 * demands an extension, and a key chosen only from a trusted set. Access tokens and JWT-SVIDs both pass
 * through here before their claims are read, so the Wycheproof vectors exercise the production path.
 */
import { compactVerify, decodeProtectedHeader, errors, type JWTVerifyGetKey, type ProtectedHeaderParameters } from "jose";
import { GatewayError } from "../errors.ts";

/**
 * Digital-signature algorithms a verifier may allowlist (RFC 7518 §3.3–3.5, RFC 8037). HMAC is not
 * here on purpose: with a public key set, an `HS256` token "signed" with the public key is the classic
 * algorithm-confusion attack (RFC 8725 §2.1).
 */
export const SIGNATURE_ALGORITHMS: ReadonlySet<string> = new Set([
  "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "Ed25519",
]);

/**
 * Tokens longer than this are refused unread. 16 KiB is several times the largest access tokens
 * seen in practice (group-heavy Entra ID tokens stay under 8 KiB) and bounds the base64 and JSON work.
 */
export const MAX_TOKEN_LENGTH = 16_384;

/** Three base64url segments (RFC 7515 §7.1); the payload may be empty, the signature may not. */
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+$/;

/** Header parameters that would let the token choose its own verification key (RFC 8725 §3.10). */
const KEY_BEARING_HEADERS = ["jku", "x5u", "jwk", "x5c"] as const;

export interface JwsRules {
  /** What the token is, in the caller's words: "access token", "JWT-SVID". */
  what: string;
  /** The verifier's allowlist; only members of `SIGNATURE_ALGORITHMS` can ever be accepted. */
  algorithms: readonly string[];
  /** When set, the only header parameters the token may carry (JWT-SVID §2). */
  allowedHeaders?: ReadonlySet<string>;
}

export function tokenInvalid(message: string, cause?: unknown): GatewayError {
  return new GatewayError("token_invalid", message, { cause, challenge: { error: "invalid_token" } });
}

/**
 * Reads and checks a token's protected header without trusting anything else in it. Every refusal
 * here is about the caller's own input, so naming the rule leaks nothing about our keys or clock.
 */
export function readJwsHeader(token: string, rules: Pick<JwsRules, "what" | "allowedHeaders">): ProtectedHeaderParameters {
  if (token.length > MAX_TOKEN_LENGTH || !COMPACT_JWS.test(token)) throw tokenInvalid(`the ${rules.what} is not a compact JWS`);
  let header: ProtectedHeaderParameters;
  try {
    header = decodeProtectedHeader(token);
  } catch (cause) {
    throw tokenInvalid(`the ${rules.what} is malformed`, cause);
  }
  if (typeof header.alg !== "string" || header.alg.toLowerCase() === "none") throw tokenInvalid("unsigned tokens are not accepted");
  for (const name of KEY_BEARING_HEADERS) {
    if (name in header) throw tokenInvalid(`the ${rules.what}'s header must not carry "${name}"`);
  }
  // We implement no JWS extension, so any `crit` is one we do not understand (RFC 7515 §4.1.11);
  // `b64` (RFC 7797) is refused with it, since it changes what the signature covers.
  if ("crit" in header || "b64" in header) throw tokenInvalid(`the ${rules.what}'s header demands an extension the gateway does not support`);
  if (rules.allowedHeaders) {
    const stray = Object.keys(header).find((name) => !rules.allowedHeaders!.has(name));
    if (stray !== undefined) throw tokenInvalid(`the ${rules.what}'s header must not carry "${stray}"`);
  }
  return header;
}

/** The allowlist actually used: the verifier's, restricted to asymmetric signatures. */
export function allowedAlgorithms(algorithms: readonly string[]): string[] {
  return algorithms.filter((alg) => SIGNATURE_ALGORITHMS.has(alg));
}

export function checkAlgorithm(header: ProtectedHeaderParameters, rules: Pick<JwsRules, "what" | "algorithms">): void {
  if (!allowedAlgorithms(rules.algorithms).includes(header.alg!)) throw tokenInvalid(`the ${rules.what}'s algorithm is not allowed`);
}

/** Why jose refused, in words a caller may see (never key material or internal state). */
export function describeJoseError(error: unknown, what: string): string {
  if (error instanceof errors.JWTExpired) {
    return error.claim === "iat" ? `the ${what} is older than its issuer allows` : `the ${what} has expired`;
  }
  if (error instanceof errors.JWTClaimValidationFailed) return `the ${what}'s "${error.claim}" claim is not acceptable`;
  if (error instanceof errors.JOSEAlgNotAllowed) return `the ${what}'s algorithm is not allowed`;
  if (error instanceof errors.JWKSNoMatchingKey) return `the ${what} was signed by an unknown key`;
  if (error instanceof errors.JWKSMultipleMatchingKeys) return `the ${what} does not name its key ("kid")`;
  if (error instanceof errors.JWSSignatureVerificationFailed) return `the ${what}'s signature is invalid`;
  if (error instanceof errors.JOSENotSupported) return `the ${what} uses an unsupported feature`;
  return `the ${what} is malformed`;
}

/**
 * Verifies a compact JWS's signature under a key from `keys` (a resolver over a trusted set) and
 * returns its header and payload bytes. JWTs use jose's `jwtVerify`, which runs the same compact
 * verification; this form exists for payloads that are not claim sets (the JWS conformance vectors).
 */
export async function verifyJws(
  token: string,
  keys: JWTVerifyGetKey,
  rules: JwsRules,
): Promise<{ header: ProtectedHeaderParameters; payload: Uint8Array }> {
  const header = readJwsHeader(token, rules);
  checkAlgorithm(header, rules);
  try {
    const { payload } = await compactVerify(token, keys, { algorithms: allowedAlgorithms(rules.algorithms) });
    return { header, payload };
  } catch (error) {
    if (error instanceof GatewayError) throw error;
    throw tokenInvalid(describeJoseError(error, rules.what), error);
  }
}
