/**
 * Plane 1 entry: who is calling. Produces one `Principal` from a verified credential — an access token
 * (OIDC or Cloudflare Access), a JWT-SVID, or a client certificate (registered, or an X.509-SVID) — or
 * refuses with 401. A token bound to a key or certificate (`cnf`) is accepted only with that key's DPoP
 * proof or that certificate. The token's subject is the principal; an agent acting for it (`act`) is
 * only ever the actor.
 */
import type { Authentication, Binding, Principal } from "../context.ts";
import { DPOP_ALGORITHMS, GatewayError, inScheme } from "../errors.ts";
import type { Issuer, Registry, TrustDomain } from "../workload/index.ts";
import { CLOCK_SKEW_SECONDS, principalFromClaims, verifyAccessToken, type SubjectFacts } from "./access-token.ts";
import { clientCertificate, type ClientCertificate } from "./client-certificate.ts";
import { presentedToken, type PresentedToken } from "./credential.ts";
import { createDpopKeyCache, dpopProof, verifyDpopProof } from "./dpop.ts";
import { createKeySets, type Fetcher, type KeySource } from "./jwks.ts";
import { looksLikeJwtSvid, trustDomainKeys, verifyJwtSvid } from "./jwt-svid.ts";
import { createReplayGuard, type ReplayCache } from "./replay-cache.ts";
import { verifyX509Svid } from "./x509-svid.ts";

export { createKeySets, type Fetcher } from "./jwks.ts";
export { ReplayCache } from "./replay-cache.ts";

export interface IdentityOptions {
  /** Verified tokens kept per configuration; 0 turns the cache off. */
  verifiedTokenCacheSize?: number;
  now?: () => number;
  refetchCooldownMs?: number;
  jwksMaxAgeMs?: number;
  /** `acr` values that count as multi-factor. */
  mfaAcrValues?: readonly string[];
}

/** The parts of the HTTP request the identity plane reads. */
export interface IdentityRequest {
  /** Only `get` is needed: the gateway passes the credential headers alone (worker/network/headers.ts). */
  headers: Pick<Headers, "get">;
  method: string;
  /** The URL the caller used (a DPoP proof names it). */
  url: string;
  /** `request.cf`, where the edge reports the client certificate (`tlsClientAuth`). */
  cf: unknown;
}

/** What the identity plane may reach: issuers through the egress firewall, the key cache, the replay cache. */
export interface IdentityIo {
  fetch: Fetcher;
  cache?: KVNamespace;
  replay: DurableObjectNamespace<ReplayCache>;
}

const MFA_AMR = new Set(["mfa", "otp", "hwk", "swk", "fpt", "face", "sms"]);

/** What a verified token proved, kept between requests; the binding is checked again at every use. */
interface VerifiedSubject {
  facts: SubjectFacts;
  method: Authentication["method"];
  issuer: string;
  /** The issuer's configuration, when the token came from one (not for SVIDs). */
  trustedIssuer?: Issuer;
  notBefore: number;
  /** `exp`, or earlier when the issuer's maximum token age ends first. */
  usableUntil: number;
  /** The principal, once built, for tokens that are not sender-constrained (nothing per request to add). */
  unboundPrincipal?: Principal;
}

/**
 * Signature verification is the identity plane's main cost; a token already verified under the same
 * configuration need not be verified again. The entry holds only what the token proved; the time
 * checks run on every use, and a new configuration starts a new cache.
 */
function createVerifiedTokenCache(size: number, now: () => number) {
  const byConfig = new WeakMap<Registry, Map<string, VerifiedSubject>>();
  return {
    get(registry: Registry, token: string): VerifiedSubject | undefined {
      const tokens = byConfig.get(registry);
      const entry = tokens?.get(token);
      if (!entry) return undefined;
      const seconds = now() / 1000;
      if (seconds > entry.usableUntil + CLOCK_SKEW_SECONDS || seconds < entry.notBefore - CLOCK_SKEW_SECONDS) {
        tokens!.delete(token);
        return undefined;
      }
      return entry;
    },
    set(registry: Registry, token: string, entry: VerifiedSubject): void {
      if (size === 0) return;
      let tokens = byConfig.get(registry);
      if (!tokens) byConfig.set(registry, (tokens = new Map()));
      if (tokens.size >= size) tokens.delete(tokens.keys().next().value!);
      tokens.set(token, entry);
    },
  };
}

function invalidToken(message: string): GatewayError {
  return new GatewayError("token_invalid", message, { challenge: { error: "invalid_token" } });
}

function proofMissing(message: string, scheme: "Bearer" | "DPoP"): GatewayError {
  return new GatewayError("proof_missing", message, { challenge: { scheme, error: "invalid_token" } });
}

export function createIdentity(options: IdentityOptions) {
  const now = options.now ?? Date.now;
  const verified = createVerifiedTokenCache(options.verifiedTokenCacheSize ?? 1000, now);
  const keySets = createKeySets({ refetchCooldownMs: options.refetchCooldownMs ?? 30_000, maxAgeMs: options.jwksMaxAgeMs ?? 10 * 60_000, now });
  const dpopKeys = createDpopKeyCache();
  const mfaAcr = new Set(options.mfaAcrValues ?? ["urn:verity:acr:mfa", "mfa", "http://schemas.openid.net/pape/policies/2007/06/multi-factor"]);
  const replayGuards = new WeakMap<DurableObjectNamespace<ReplayCache>, ReturnType<typeof createReplayGuard>>();

  function replayGuard(namespace: DurableObjectNamespace<ReplayCache>) {
    let guard = replayGuards.get(namespace);
    if (!guard) replayGuards.set(namespace, (guard = createReplayGuard(namespace)));
    return guard;
  }

  async function verifyToken(presented: PresentedToken, registry: Registry, source: KeySource): Promise<VerifiedSubject> {
    const known = verified.get(registry, presented.token);
    if (known) return known;
    let subject: VerifiedSubject;
    if (presented.scheme === "Bearer" && looksLikeJwtSvid(presented.token, registry.issuers)) {
      subject = await verifySvidToken(presented.token, registry, source);
    } else {
      // Cloudflare Access tokens come only in Access's header, and every other token only in Authorization.
      const issuers = registry.issuers.filter((i) => (i.kind === "cloudflare-access") === (presented.scheme === "Access"));
      const token = await verifyAccessToken(presented.token, issuers, (issuer) => keySets.issuerKeys(issuer, source), now);
      const facts = principalFromClaims(token, registry);
      const iat = typeof token.claims.iat === "number" ? token.claims.iat : 0;
      subject = {
        facts,
        method: token.issuer.kind === "cloudflare-access" ? "cloudflare-access" : "oidc",
        issuer: token.issuer.issuer,
        trustedIssuer: token.issuer,
        notBefore: typeof token.claims.nbf === "number" ? token.claims.nbf : iat,
        usableUntil: Math.min(facts.expiresAt, token.issuer.maxTokenAgeSeconds ? iat + token.issuer.maxTokenAgeSeconds : Infinity),
      };
    }
    verified.set(registry, presented.token, subject);
    return subject;
  }

  async function verifySvidToken(token: string, registry: Registry, source: KeySource): Promise<VerifiedSubject> {
    const svid = await verifyJwtSvid(token, registry.trustDomains, trustDomainKeys(keySets, source), now);
    const workload = registry.workloadBySpiffeId.get(svid.spiffeId);
    if (!workload) throw invalidToken("the JWT-SVID's SPIFFE ID is not registered for any workload");
    const iat = svid.issuedAt ?? 0;
    return {
      facts: {
        kind: "workload",
        id: workload.id,
        tenant: workload.tenant,
        groups: [],
        attributes: { spiffeId: svid.spiffeId },
        acr: "",
        amr: [],
        expiresAt: svid.expiresAt,
        ...(svid.tokenId !== undefined ? { tokenId: svid.tokenId } : {}),
      },
      method: "spiffe-jwt",
      issuer: `spiffe://${svid.trustDomain.trustDomain}`,
      notBefore: iat,
      usableUntil: Math.min(svid.expiresAt, svid.trustDomain.maxTokenAgeSeconds ? iat + svid.trustDomain.maxTokenAgeSeconds : Infinity),
    };
  }

  /**
   * Checks the token's sender constraint (RFC 9449 DPoP, RFC 8705 certificate binding) against this
   * request, every time: a proof is per request, and a certificate per connection.
   */
  async function binding(
    subject: VerifiedSubject,
    presented: PresentedToken,
    request: IdentityRequest,
    certificate: ClientCertificate | undefined,
    io: IdentityIo,
  ): Promise<{ binding: Binding; boundKey?: string }> {
    const cnf = subject.facts.confirmation;
    if (cnf?.jkt !== undefined) {
      if (presented.scheme !== "DPoP") throw proofMissing("the access token is bound to a DPoP key: send it with the DPoP scheme and a proof", "DPoP");
      const proof = dpopProof(request.headers);
      if (proof === undefined) throw proofMissing("the access token is bound to a DPoP key but the request carries no DPoP proof", "DPoP");
      const checked = await verifyDpopProof(proof, {
        method: request.method,
        url: request.url,
        accessToken: presented.token,
        expectedJkt: cnf.jkt,
        algorithms: DPOP_ALGORITHMS,
        keyCache: dpopKeys,
        now,
      });
      await replayGuard(io.replay)(checked.jkt, checked.jti, checked.expiresAt);
    }
    if (cnf?.x5tS256 !== undefined && certificate?.thumbprint !== cnf.x5tS256) {
      throw proofMissing("the access token is bound to a client certificate this request did not present", "Bearer");
    }
    if (presented.scheme === "DPoP" && cnf?.jkt === undefined) throw invalidToken("the access token is not bound to a DPoP key");
    if (cnf?.jkt !== undefined) return { binding: "dpop", boundKey: cnf.jkt };
    if (cnf?.x5tS256 !== undefined) return { binding: "mtls", boundKey: cnf.x5tS256 };
    if (subject.trustedIssuer?.binding === "required") {
      throw new GatewayError("token_unbound", "this issuer's tokens must be sender-constrained (DPoP or certificate-bound)", {
        challenge: { error: "invalid_token" },
      });
    }
    return { binding: "none" };
  }

  /** A caller with a client certificate and no token: a registered certificate, or an X.509-SVID. */
  async function certificatePrincipal(certificate: ClientCertificate, registry: Registry, source: KeySource): Promise<Principal> {
    const authn = { acr: "", amr: [], mfa: false, expiresAt: certificate.notAfter, binding: "mtls" as const, boundKey: certificate.thumbprint };
    if (certificate.uriSans.some((san) => san.startsWith("spiffe://"))) {
      const bundleKeys = async (domain: TrustDomain) => (await keySets.keySet(domain.bundleUri, source)).keys;
      const svid = await verifyX509Svid(certificate, registry.trustDomains, bundleKeys, now());
      const workload = registry.workloadBySpiffeId.get(svid.spiffeId);
      if (!workload) throw new GatewayError("certificate_invalid", "the certificate's SPIFFE ID is not registered for any workload");
      return {
        kind: "workload",
        id: workload.id,
        tenant: workload.tenant,
        groups: [],
        attributes: { spiffeId: svid.spiffeId },
        authn: { ...authn, method: "spiffe-x509", issuer: `spiffe://${svid.trustDomain.trustDomain}` },
      };
    }
    const workload = registry.workloadByCertificate.get(certificate.thumbprint);
    if (!workload) throw new GatewayError("certificate_invalid", "the client certificate is not registered for any workload");
    return {
      kind: "workload",
      id: workload.id,
      tenant: workload.tenant,
      groups: [],
      attributes: {},
      authn: { ...authn, method: "mtls", issuer: certificate.issuer },
    };
  }

  return async function authenticate(request: IdentityRequest, registry: Registry, io: IdentityIo): Promise<Principal> {
    const source: KeySource = io.cache ? { fetch: io.fetch, cache: io.cache } : { fetch: io.fetch };
    const certificate = await clientCertificate(request.cf, now());
    const presented = presentedToken(request.headers);
    if (!presented) {
      if (certificate) return certificatePrincipal(certificate, registry, source);
      throw new GatewayError("token_missing", "an access token or a client certificate is required");
    }
    let subject: VerifiedSubject;
    let bound: Binding;
    let boundKey: string | undefined;
    try {
      subject = await verifyToken(presented, registry, source);
      ({ binding: bound, boundKey } = await binding(subject, presented, request, certificate, io));
    } catch (error) {
      throw presented.scheme === "DPoP" && error instanceof GatewayError ? inScheme(error, "DPoP") : error;
    }
    if (bound === "none" && subject.unboundPrincipal) return subject.unboundPrincipal;
    const { facts } = subject;
    const authn: Authentication = {
      method: subject.method,
      issuer: subject.issuer,
      acr: facts.acr,
      amr: facts.amr,
      mfa: mfaAcr.has(facts.acr) || facts.amr.some((m) => MFA_AMR.has(m)),
      expiresAt: facts.expiresAt,
      binding: bound,
      ...(boundKey !== undefined ? { boundKey } : {}),
      ...(facts.authTime !== undefined ? { authTime: facts.authTime } : {}),
      ...(facts.issuedAt !== undefined ? { issuedAt: facts.issuedAt } : {}),
      ...(facts.tokenId !== undefined ? { tokenId: facts.tokenId } : {}),
    };
    const principal: Principal = {
      kind: facts.kind,
      id: facts.id,
      tenant: facts.tenant,
      groups: facts.groups,
      attributes: facts.attributes,
      authn,
      ...(facts.sessionId !== undefined ? { sessionId: facts.sessionId } : {}),
      ...(facts.clientId !== undefined ? { clientId: facts.clientId } : {}),
      ...(facts.actor !== undefined ? { actor: facts.actor, delegation: facts.delegation ?? [facts.actor] } : {}),
    };
    if (bound === "none") subject.unboundPrincipal = principal;
    return principal;
  };
}

export type Authenticate = ReturnType<typeof createIdentity>;
