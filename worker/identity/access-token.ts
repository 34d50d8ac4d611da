import { decodeJwt, decodeProtectedHeader, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from "jose";
import { GatewayError } from "../errors.ts";
import type { Issuer } from "../workload/index.ts";

/** Clock skew tolerated on `exp`, `nbf` and `iat`. */
export const CLOCK_SKEW_SECONDS = 60;
/** Header parameters that would let the token choose its own verification key (RFC 8725 §3.10). */
const KEY_BEARING_HEADERS = ["jku", "x5u", "jwk", "x5c"] as const;

export interface VerifiedToken {
  issuer: Issuer;
  claims: JWTPayload & Record<string, unknown>;
}

function invalid(message: string, cause?: unknown): GatewayError {
  return new GatewayError("token_invalid", message, { cause, challenge: { error: "invalid_token" } });
}

/** Why jose refused, in words a caller may see (never the key material or internal state). */
function describeJoseError(error: unknown): string {
  if (error instanceof errors.JWTExpired) {
    return error.claim === "iat" ? "the access token is older than its issuer allows" : "the access token has expired";
  }
  if (error instanceof errors.JWTClaimValidationFailed) return `the access token's "${error.claim}" claim is not acceptable`;
  if (error instanceof errors.JOSEAlgNotAllowed) return "the access token's algorithm is not allowed for its issuer";
  if (error instanceof errors.JWKSNoMatchingKey) return "the access token was signed by an unknown key";
  if (error instanceof errors.JWSSignatureVerificationFailed) return "the access token's signature is invalid";
  if (error instanceof errors.JOSENotSupported) return "the access token uses an unsupported feature";
  return "the access token is malformed";
}

/**
 * Verifies a JWT access token against the configured issuers: the issuer is chosen by the exact
 * `iss`, the key by `kid` from that issuer's JWKS only, the algorithm from the issuer's allowlist.
 */
export async function verifyAccessToken(
  token: string,
  issuers: readonly Issuer[],
  keyFor: (issuer: Issuer) => JWTVerifyGetKey,
  now: () => number = Date.now,
): Promise<VerifiedToken> {
  let header: ReturnType<typeof decodeProtectedHeader>;
  let unverified: JWTPayload;
  try {
    header = decodeProtectedHeader(token);
    unverified = decodeJwt(token);
  } catch (cause) {
    throw invalid("the access token is not a JWT", cause);
  }
  if (typeof header.alg !== "string" || header.alg === "none") throw invalid("unsigned tokens are not accepted");
  for (const name of KEY_BEARING_HEADERS) {
    if (name in header) throw invalid(`the access token's header must not carry "${name}"`);
  }
  const issuer = issuers.find((i) => i.issuer === unverified.iss);
  if (!issuer) throw invalid("the access token's issuer is not trusted");

  try {
    const { payload } = await jwtVerify(token, keyFor(issuer), {
      issuer: issuer.issuer,
      audience: issuer.audiences,
      algorithms: issuer.algorithms,
      clockTolerance: CLOCK_SKEW_SECONDS,
      currentDate: new Date(now()),
      requiredClaims: ["exp", "iat", "sub"],
      ...(issuer.tokenType ? { typ: issuer.tokenType } : {}),
      ...(issuer.maxTokenAgeSeconds ? { maxTokenAge: issuer.maxTokenAgeSeconds } : {}),
    });
    if (typeof payload.iat === "number" && payload.iat > now() / 1000 + CLOCK_SKEW_SECONDS) {
      throw invalid("the access token was issued in the future");
    }
    return { issuer, claims: payload as VerifiedToken["claims"] };
  } catch (error) {
    if (error instanceof GatewayError) throw error;
    throw invalid(describeJoseError(error), error);
  }
}
