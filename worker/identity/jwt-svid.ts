/**
 * JWT-SVIDs (SPIFFE JWT-SVID standard): compact JWS tokens whose `sub` is a workload's SPIFFE ID. The
 * trust domain named by `sub` picks the bundle; only that bundle's `jwt-svid` keys can verify the token,
 * so one trust domain can never vouch for another's workloads.
 */
import { decodeJwt, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from "jose";
import { GatewayError } from "../errors.ts";
import { parseSpiffeId } from "../lib/spiffe-id.ts";
import type { Issuer, TrustDomain } from "../workload/registry.ts";
import { CLOCK_SKEW_SECONDS } from "./access-token.ts";
import type { KeyFilter, KeySets, KeySource } from "./jwks.ts";
import { checkAlgorithm, describeJoseError, readJwsHeader, tokenInvalid } from "./jws.ts";

const WHAT = "JWT-SVID";
/** JWT-SVID §2: "Any header not described here, registered or private, MUST NOT be included." */
const SVID_HEADERS: ReadonlySet<string> = new Set(["alg", "kid", "typ"]);
/** JWT-SVID §2.3: `typ`, when present, is `JWT` or `JOSE`. */
const SVID_TYPES: ReadonlySet<string> = new Set(["JWT", "JOSE"]);
/** JWT-SVID §2.1: RSASSA-PKCS1-v1_5, ECDSA and RSASSA-PSS only. */
const SVID_ALGORITHMS: ReadonlySet<string> = new Set(["RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512"]);

export interface VerifiedJwtSvid {
  spiffeId: string;
  trustDomain: TrustDomain;
  /** Seconds since the epoch. */
  expiresAt: number;
  issuedAt?: number;
  tokenId?: string;
}

/**
 * A bundle's JWT-SVID signing keys (SPIFFE Trust Domain and Bundle §4.2.2: `use: "jwt-svid"`), with
 * `use` dropped so jose treats them as signature keys. `x509-svid` CAs are never JWT keys.
 */
export const jwtSvidKeys: KeyFilter = (jwk) => {
  if (jwk.use !== "jwt-svid") return undefined;
  const { use, ...key } = jwk;
  return key;
};

/** The key resolver per trust domain: its own bundle's `jwt-svid` keys, never another's. */
export function trustDomainKeys(keySets: KeySets, source: KeySource): (trustDomain: TrustDomain) => JWTVerifyGetKey {
  return (trustDomain) => keySets.resolver(trustDomain.bundleUri, source, jwtSvidKeys);
}

/**
 * How a bearer token is recognized as a JWT-SVID before it is verified: its `sub` is a SPIFFE ID and
 * its `iss` names none of the configured token issuers (whose tokens go to the access-token verifier).
 */
export function looksLikeJwtSvid(token: string, issuers: readonly Issuer[]): boolean {
  let claims: JWTPayload;
  try {
    claims = decodeJwt(token);
  } catch {
    return false;
  }
  return typeof claims.sub === "string" && claims.sub.startsWith("spiffe://") && !issuers.some((issuer) => issuer.issuer === claims.iss);
}

/** RFC 7515 §4.1.9: `typ` compares case-insensitively and may omit the "application/" prefix. */
function mediaType(typ: string): string {
  const upper = typ.toUpperCase();
  return upper.startsWith("APPLICATION/") ? upper.slice("APPLICATION/".length) : upper;
}

/** Verifies a JWT-SVID for one of the configured trust domains and returns the workload's SPIFFE ID. */
export async function verifyJwtSvid(
  token: string,
  trustDomains: readonly TrustDomain[],
  keyFor: (trustDomain: TrustDomain) => JWTVerifyGetKey,
  now: () => number = Date.now,
): Promise<VerifiedJwtSvid> {
  const header = readJwsHeader(token, { what: WHAT, allowedHeaders: SVID_HEADERS });
  if (header.typ !== undefined && (typeof header.typ !== "string" || !SVID_TYPES.has(mediaType(header.typ)))) {
    throw tokenInvalid("the JWT-SVID's type (typ) is not acceptable");
  }
  let unverified: JWTPayload;
  try {
    unverified = decodeJwt(token);
  } catch (cause) {
    throw tokenInvalid("the JWT-SVID is not a JWT", cause);
  }
  const spiffeId = typeof unverified.sub === "string" ? parseSpiffeId(unverified.sub) : undefined;
  if (!spiffeId || spiffeId.path === "") throw tokenInvalid("the JWT-SVID's subject is not a workload SPIFFE ID");
  const trustDomain = trustDomains.find((domain) => domain.trustDomain === spiffeId.trustDomain);
  if (!trustDomain) throw tokenInvalid("the JWT-SVID's trust domain is not trusted");
  const algorithms = trustDomain.algorithms.filter((alg) => SVID_ALGORITHMS.has(alg));
  checkAlgorithm(header, { what: WHAT, algorithms });

  let claims: JWTPayload;
  try {
    ({ payload: claims } = await jwtVerify(token, keyFor(trustDomain), {
      audience: trustDomain.audiences,
      subject: spiffeId.id,
      algorithms,
      clockTolerance: CLOCK_SKEW_SECONDS,
      currentDate: new Date(now()),
      requiredClaims: ["exp", "aud"],
      ...(trustDomain.maxTokenAgeSeconds !== undefined ? { maxTokenAge: trustDomain.maxTokenAgeSeconds } : {}),
    }));
  } catch (error) {
    if (error instanceof GatewayError) throw error;
    throw tokenInvalid(describeJoseError(error, WHAT), error);
  }
  if (typeof claims.iat === "number" && claims.iat > now() / 1000 + CLOCK_SKEW_SECONDS) throw tokenInvalid("the JWT-SVID was issued in the future");
  return {
    spiffeId: spiffeId.id,
    trustDomain,
    expiresAt: claims.exp!,
    ...(typeof claims.iat === "number" ? { issuedAt: claims.iat } : {}),
    ...(typeof claims.jti === "string" ? { tokenId: claims.jti } : {}),
  };
}
