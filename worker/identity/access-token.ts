/**
 * JWT access tokens from the configured issuers (RFC 9068, RFC 8725), OIDC or Cloudflare Access, and
 * the subject facts their claims prove. Verification answers "is this token genuine, current and for
 * us?"; `principalFromClaims` answers "who is it, in which tenant?" from the verified claims only.
 */
import { decodeJwt, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from "jose";
import type { Actor } from "../context.ts";
import { GatewayError } from "../errors.ts";
import type { Issuer, Registry } from "../workload/registry.ts";
import { allowedAlgorithms, checkAlgorithm, describeJoseError, readJwsHeader, tokenInvalid } from "./jws.ts";

/** Clock skew tolerated on `exp`, `nbf` and `iat`. */
export const CLOCK_SKEW_SECONDS = 60;
/** Cloudflare Access application tokens carry `typ: "JWT"`; an issuer may configure another. */
const CLOUDFLARE_ACCESS_TYPE = "JWT";
/** Nested `act` claims deeper than this are refused: no real delegation chain is this long. */
const MAX_DELEGATION_DEPTH = 10;
const WHAT = "access token";

export type Claims = JWTPayload & Record<string, unknown>;

export interface VerifiedToken {
  issuer: Issuer;
  claims: Claims;
}

/**
 * Verifies a JWT access token against the configured issuers: the issuer is chosen by the exact
 * `iss`, the key by `kid` from that issuer's key set only (`keyFor`), the algorithm from the issuer's
 * allowlist. Claim checks that could tell an attacker something (expiry, audience, type) run only
 * after the signature verified.
 */
export async function verifyAccessToken(
  token: string,
  issuers: readonly Issuer[],
  keyFor: (issuer: Issuer) => JWTVerifyGetKey,
  now: () => number = Date.now,
): Promise<VerifiedToken> {
  const header = readJwsHeader(token, { what: WHAT });
  let unverified: JWTPayload;
  try {
    unverified = decodeJwt(token);
  } catch (cause) {
    throw tokenInvalid("the access token is not a JWT", cause);
  }
  const issuer = issuers.find((candidate) => candidate.issuer === unverified.iss);
  if (!issuer) throw tokenInvalid("the access token's issuer is not trusted");
  checkAlgorithm(header, { what: WHAT, algorithms: issuer.algorithms });

  // RFC 8725 §3.11: explicit typing keeps an ID token (or any other JWT) from passing as an access
  // token. jose compares case-insensitively with the "application/" prefix optional (RFC 7515 §4.1.9).
  const tokenType = issuer.tokenType ?? (issuer.kind === "cloudflare-access" ? CLOUDFLARE_ACCESS_TYPE : undefined);
  let claims: Claims;
  try {
    ({ payload: claims } = await jwtVerify<Record<string, unknown>>(token, keyFor(issuer), {
      issuer: issuer.issuer,
      audience: issuer.audiences,
      algorithms: allowedAlgorithms(issuer.algorithms),
      clockTolerance: CLOCK_SKEW_SECONDS,
      currentDate: new Date(now()),
      requiredClaims: ["exp", "iat"],
      ...(tokenType !== undefined ? { typ: tokenType } : {}),
      ...(issuer.maxTokenAgeSeconds !== undefined ? { maxTokenAge: issuer.maxTokenAgeSeconds } : {}),
    }));
  } catch (error) {
    if (error instanceof GatewayError) throw error;
    throw tokenInvalid(describeJoseError(error, WHAT), error);
  }
  if (typeof claims.iat !== "number" || claims.iat > now() / 1000 + CLOCK_SKEW_SECONDS) {
    throw tokenInvalid("the access token was issued in the future");
  }
  // OIDC Core §2 (azp): a token for several audiences must say which client it was issued to.
  if (Array.isArray(claims.aud) && claims.aud.length > 1) {
    if (typeof claims.azp !== "string" || claims.azp === "") throw tokenInvalid("the access token has several audiences and no authorized party");
    if (issuer.authorizedParties && !issuer.authorizedParties.includes(claims.azp)) {
      throw tokenInvalid('the access token\'s "azp" claim is not acceptable');
    }
  }
  return { issuer, claims };
}

/** What a verified access token proves about its subject; the identity plane adds how it was bound. */
export interface SubjectFacts {
  kind: "user" | "workload";
  id: string;
  tenant: string;
  groups: string[];
  attributes: Record<string, string>;
  clientId?: string;
  /** The IdP session (`sid`). */
  sessionId?: string;
  acr: string;
  amr: string[];
  /** Seconds since the epoch. */
  authTime?: number;
  /** Seconds since the epoch (`iat`). */
  issuedAt?: number;
  tokenId?: string;
  /** Seconds since the epoch (`exp`). */
  expiresAt: number;
  /** The current actor (RFC 8693 §4.1: the top-level `act`). */
  actor?: Actor;
  /** The whole chain, the current actor at index 0 and earlier actors after it (nested `act`). */
  delegation?: Actor[];
  /** RFC 7800 confirmation: the key (RFC 9449 `jkt`) or certificate (RFC 8705 `x5t#S256`) the token is bound to. */
  confirmation?: { jkt?: string; x5tS256?: string };
}

function stringClaim(claims: Record<string, unknown>, name: string): string | undefined {
  const value = claims[name];
  return typeof value === "string" && value !== "" ? value : undefined;
}

function stringsClaim(claims: Record<string, unknown>, name: string): string[] {
  const value = claims[name];
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === "string") : [];
}

/** RFC 8693 §4.1: `act` nests, the outermost being the current actor. */
function delegationChain(act: unknown): Actor[] {
  const chain: Actor[] = [];
  for (let link = act; link !== undefined; link = (link as Record<string, unknown>).act) {
    if (typeof link !== "object" || link === null || Array.isArray(link)) throw tokenInvalid('the access token\'s "act" claim is malformed');
    const { sub, client_id: clientId } = link as Record<string, unknown>;
    if (typeof sub !== "string" || sub === "") throw tokenInvalid('the access token\'s "act" claim has no subject');
    if (chain.length === MAX_DELEGATION_DEPTH) throw tokenInvalid('the access token\'s "act" chain is too long');
    chain.push(typeof clientId === "string" && clientId !== "" ? { sub, clientId } : { sub });
  }
  return chain;
}

/**
 * RFC 7800 `cnf`. A confirmation method we cannot check is refused rather than ignored: ignoring it
 * would turn a sender-constrained token back into a bearer token.
 */
function confirmation(cnf: unknown): SubjectFacts["confirmation"] {
  if (cnf === undefined) return undefined;
  if (typeof cnf !== "object" || cnf === null || Array.isArray(cnf)) throw tokenInvalid('the access token\'s "cnf" claim is malformed');
  const { jkt, "x5t#S256": x5tS256, ...others } = cnf as Record<string, unknown>;
  if (Object.keys(others).length > 0) throw tokenInvalid("the access token is bound by a method the gateway does not support");
  if ((jkt !== undefined && (typeof jkt !== "string" || jkt === "")) || (x5tS256 !== undefined && (typeof x5tS256 !== "string" || x5tS256 === ""))) {
    throw tokenInvalid('the access token\'s "cnf" claim is malformed');
  }
  if (jkt === undefined && x5tS256 === undefined) throw tokenInvalid('the access token\'s "cnf" claim is malformed');
  return { ...(jkt !== undefined ? { jkt } : {}), ...(x5tS256 !== undefined ? { x5tS256 } : {}) };
}

/** Who the token names: a Cloudflare Access service token, a client-credentials client, or a user. */
function subject(issuer: Issuer, claims: Claims): Pick<SubjectFacts, "kind" | "id" | "clientId"> {
  if (issuer.kind === "cloudflare-access") {
    // Access service tokens carry the service token's client id in `common_name` and an empty `sub`.
    const commonName = stringClaim(claims, "common_name");
    if (commonName !== undefined && stringClaim(claims, "sub") === undefined) return { kind: "workload", id: commonName, clientId: commonName };
  } else {
    // RFC 9068 §2.2: a token from the client credentials grant has the client as its subject.
    const clientId = stringClaim(claims, "client_id") ?? stringClaim(claims, "azp");
    if (clientId !== undefined && clientId === stringClaim(claims, "sub")) return { kind: "workload", id: clientId, clientId };
    const id = stringClaim(claims, issuer.subjectClaim ?? "sub");
    if (id !== undefined) return { kind: "user", id, ...(clientId !== undefined ? { clientId } : {}) };
    throw tokenInvalid("the access token names no subject");
  }
  const id = stringClaim(claims, issuer.subjectClaim ?? "sub");
  if (id === undefined) throw tokenInvalid("the access token names no subject");
  return { kind: "user", id };
}

/**
 * The subject facts a verified token proves, mapped by its issuer's configuration. The tenant must be
 * one the issuer may speak for and one this gateway serves: an issuer trusted for tenant X cannot mint
 * principals of tenant Y, whatever its tokens claim.
 */
export function principalFromClaims(verified: VerifiedToken, registry: Pick<Registry, "tenants">): SubjectFacts {
  const { issuer, claims } = verified;
  const tenant = issuer.tenantClaim !== undefined ? stringClaim(claims, issuer.tenantClaim) : issuer.tenants.length === 1 ? issuer.tenants[0] : undefined;
  if (tenant === undefined || !issuer.tenants.includes(tenant) || !registry.tenants.has(tenant)) {
    throw tokenInvalid("the access token names no tenant its issuer may speak for");
  }
  const attributes: Record<string, string> = {};
  for (const [name, claim] of Object.entries(issuer.attributeClaims ?? {})) {
    const value = stringClaim(claims, claim);
    if (value !== undefined) attributes[name] = value;
  }
  const delegation = delegationChain(claims.act);
  const cnf = confirmation(claims.cnf);
  const sessionId = stringClaim(claims, "sid");
  const tokenId = stringClaim(claims, "jti");
  return {
    ...subject(issuer, claims),
    tenant,
    groups: issuer.groupsClaim !== undefined ? stringsClaim(claims, issuer.groupsClaim) : [],
    attributes,
    acr: stringClaim(claims, "acr") ?? "",
    amr: stringsClaim(claims, "amr"),
    expiresAt: claims.exp!,
    ...(sessionId !== undefined ? { sessionId } : {}),
    ...(typeof claims.auth_time === "number" ? { authTime: claims.auth_time } : {}),
    ...(typeof claims.iat === "number" ? { issuedAt: claims.iat } : {}),
    ...(tokenId !== undefined ? { tokenId } : {}),
    ...(delegation.length > 0 ? { actor: delegation[0]!, delegation } : {}),
    ...(cnf !== undefined ? { confirmation: cnf } : {}),
  };
}
