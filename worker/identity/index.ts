/**
 * Plane 1 entry: who is calling. Produces one `Principal` from a verified credential, or refuses with
 * 401. The token's subject is the principal; an agent acting for it (`act`) is only ever the actor.
 */
import { GatewayError } from "../errors.ts";
import type { Authentication, Principal } from "../context.ts";
import type { Registry } from "../workload/index.ts";
import { CLOCK_SKEW_SECONDS, verifyAccessToken } from "./access-token.ts";
import { bearerToken } from "./bearer.ts";
import { createJwksCache, type Fetcher } from "./jwks.ts";

export type { Fetcher } from "./jwks.ts";

export interface IdentityOptions {
  /** Verified tokens kept per configuration; 0 turns the cache off. */
  verifiedTokenCacheSize?: number;
  now?: () => number;
  refetchCooldownMs?: number;
  jwksMaxAgeMs?: number;
  /** `acr` values that count as multi-factor. */
  mfaAcrValues?: readonly string[];
}

const MFA_AMR = new Set(["mfa", "otp", "hwk", "swk", "fpt", "face", "sms"]);

function stringClaim(claims: Record<string, unknown>, name: string): string | undefined {
  const value = claims[name];
  return typeof value === "string" && value.length > 0 ? value : undefined;
}

function parseActor(act: unknown): Principal["actor"] {
  if (typeof act !== "object" || act === null) return undefined;
  const { sub, client_id: clientId } = act as Record<string, unknown>;
  if (typeof sub !== "string") throw new GatewayError("token_invalid", 'the access token\'s "act" claim has no subject');
  return typeof clientId === "string" ? { sub, clientId } : { sub };
}

/** A principal proven by a token, and the token's time bounds, which are checked again at every use. */
interface Verified {
  principal: Principal;
  notBefore: number;
  expiresAt: number;
}

/**
 * Signature verification is the identity plane's main cost; a token already verified under the same
 * configuration need not be verified again. The entry holds only what the token proved; the time
 * checks (`nbf`, `exp`, maximum age) run on every use, and a new configuration starts a new cache.
 */
function createVerifiedTokenCache(size: number, now: () => number) {
  const byConfig = new WeakMap<Registry, Map<string, Verified>>();
  return {
    get(registry: Registry, token: string): Principal | undefined {
      const entry = byConfig.get(registry)?.get(token);
      if (!entry) return undefined;
      const seconds = now() / 1000;
      if (seconds > entry.expiresAt + CLOCK_SKEW_SECONDS || seconds < entry.notBefore - CLOCK_SKEW_SECONDS) {
        byConfig.get(registry)?.delete(token);
        return undefined;
      }
      return entry.principal;
    },
    set(registry: Registry, token: string, entry: Verified): void {
      if (size === 0) return;
      let tokens = byConfig.get(registry);
      if (!tokens) byConfig.set(registry, (tokens = new Map()));
      if (tokens.size >= size) tokens.delete(tokens.keys().next().value!);
      tokens.set(token, entry);
    },
  };
}

export function createIdentity(options: IdentityOptions) {
  const now = options.now ?? Date.now;
  const verified = createVerifiedTokenCache(options.verifiedTokenCacheSize ?? 1000, now);
  const keyFor = createJwksCache({
    refetchCooldownMs: options.refetchCooldownMs ?? 30_000,
    maxAgeMs: options.jwksMaxAgeMs ?? 10 * 60_000,
  });
  const mfaAcr = new Set(options.mfaAcrValues ?? ["urn:verity:acr:mfa", "mfa", "http://schemas.openid.net/pape/policies/2007/06/multi-factor"]);

  return async function authenticate(headers: Headers, registry: Registry, fetch: Fetcher): Promise<Principal> {
    const token = bearerToken(headers);
    const known = verified.get(registry, token);
    if (known) return known;
    const { issuer, claims } = await verifyAccessToken(token, registry.issuers, (i) => keyFor(i, fetch), now);

    const tenant = stringClaim(claims, issuer.tenantClaim);
    if (!tenant || !registry.tenants.has(tenant)) {
      throw new GatewayError("token_invalid", "the access token names no tenant this gateway serves", {
        challenge: { error: "invalid_token" },
      });
    }
    const sub = claims.sub as string;
    const clientId = stringClaim(claims, "client_id") ?? stringClaim(claims, "azp");
    const amr = Array.isArray(claims.amr) ? claims.amr.filter((v): v is string => typeof v === "string") : [];
    const acr = stringClaim(claims, "acr") ?? "";
    const authn: Authentication = {
      method: "oidc",
      issuer: issuer.issuer,
      acr,
      amr,
      mfa: mfaAcr.has(acr) || amr.some((m) => MFA_AMR.has(m)),
      expiresAt: claims.exp as number,
      ...(typeof claims.auth_time === "number" ? { authTime: claims.auth_time } : {}),
      ...(typeof claims.jti === "string" ? { tokenId: claims.jti } : {}),
    };
    const actor = parseActor(claims.act);
    const principal: Principal = {
      // RFC 9068 §2.2: a token from the client credentials grant has the client as its subject.
      kind: clientId !== undefined && clientId === sub ? "workload" : "user",
      id: sub,
      tenant,
      authn,
      ...(clientId ? { clientId } : {}),
      ...(actor ? { actor } : {}),
    };
    const iat = typeof claims.iat === "number" ? claims.iat : 0;
    const maxAgeEnd = issuer.maxTokenAgeSeconds ? iat + issuer.maxTokenAgeSeconds : Infinity;
    verified.set(registry, token, {
      principal,
      notBefore: typeof claims.nbf === "number" ? claims.nbf : iat,
      expiresAt: Math.min(claims.exp as number, maxAgeEnd),
    });
    return principal;
  };
}

export type Authenticate = ReturnType<typeof createIdentity>;
