import { createLocalJWKSet, errors, type JSONWebKeySet, type JWTVerifyGetKey } from "jose";
import { GatewayError } from "../errors.ts";
import type { Issuer } from "../workload/index.ts";

/** Fetches a URL through the egress firewall; the identity plane never calls `fetch` itself. */
export type Fetcher = (url: string, init?: RequestInit & { timeoutMs?: number }) => Promise<Response>;

export interface JwksCacheOptions {
  /** An unknown `kid` triggers a refetch at most this often per issuer, so forged kids cannot hammer the IdP. */
  refetchCooldownMs: number;
  /** Keys are refreshed after this long even when every kid is known, so rotations are seen. */
  maxAgeMs: number;
  now?: () => number;
}

interface CachedSet {
  resolve: JWTVerifyGetKey;
  fetchedAt: number;
}

function isJwks(value: unknown): value is JSONWebKeySet {
  return (
    typeof value === "object" &&
    value !== null &&
    Array.isArray((value as { keys?: unknown }).keys) &&
    (value as { keys: unknown[] }).keys.every((k) => typeof k === "object" && k !== null)
  );
}

/**
 * Per-issuer JWKS cache in isolate memory. Keys are selected by `kid` from the issuer's own set only;
 * a key embedded in or referenced by the token header is never used.
 */
export function createJwksCache(options: JwksCacheOptions) {
  const now = options.now ?? Date.now;
  const sets = new Map<string, CachedSet>();
  const inflight = new Map<string, Promise<CachedSet>>();

  async function fetchSet(issuer: Issuer, fetch: Fetcher): Promise<CachedSet> {
    const response = await fetch(issuer.jwksUri, { headers: { accept: "application/json" }, timeoutMs: 5000 });
    if (!response.ok) throw new GatewayError("token_invalid", "the token issuer's keys are unavailable");
    const body: unknown = await response.json().catch(() => undefined);
    if (!isJwks(body)) throw new GatewayError("token_invalid", "the token issuer published an invalid key set");
    const entry = { resolve: createLocalJWKSet(body), fetchedAt: now() };
    sets.set(issuer.id, entry);
    return entry;
  }

  function refetch(issuer: Issuer, fetch: Fetcher): Promise<CachedSet> {
    let pending = inflight.get(issuer.id);
    if (!pending) {
      pending = fetchSet(issuer, fetch).finally(() => inflight.delete(issuer.id));
      inflight.set(issuer.id, pending);
    }
    return pending;
  }

  return function keyResolver(issuer: Issuer, fetch: Fetcher): JWTVerifyGetKey {
    return async function resolveIssuerKey(header, token) {
      let entry = sets.get(issuer.id);
      if (!entry || now() - entry.fetchedAt > options.maxAgeMs) entry = await refetch(issuer, fetch);
      try {
        return await entry.resolve(header, token);
      } catch (error) {
        const unknownKid = error instanceof errors.JWKSNoMatchingKey;
        if (!unknownKid || now() - entry.fetchedAt < options.refetchCooldownMs) throw error;
        return (await refetch(issuer, fetch)).resolve(header, token);
      }
    };
  };
}
