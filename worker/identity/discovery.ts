/**
 * Where an issuer's keys are. A configured `jwksUri` wins; otherwise OpenID Connect Discovery 1.0 §4
 * (`<issuer>/.well-known/openid-configuration`) or, for Cloudflare Access, the team domain's fixed
 * `/cdn-cgi/access/certs`. A discovered `jwks_uri` is trusted only on the issuer's own origin: a
 * discovery document cannot send the gateway to fetch keys anywhere else.
 */
import type { Issuer } from "../workload/index.ts";

/** The part of a discovery document the gateway uses, after validation. */
export interface DiscoveredIssuer {
  issuer: string;
  jwks_uri: string;
}

export class DiscoveryError extends Error {
  override readonly name = "DiscoveryError";
}

function withoutTrailingSlash(url: string): string {
  return url.replace(/\/+$/, "");
}

function isLoopback(hostname: string): boolean {
  return hostname === "localhost" || hostname === "[::1]" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
}

/** OIDC Discovery §4: the issuer with any trailing slash removed, then the well-known path. */
export function discoveryUrl(issuer: string): string {
  return `${withoutTrailingSlash(issuer)}/.well-known/openid-configuration`;
}

/**
 * The key-set URI to fetch for `issuer`, or undefined when it must be discovered first.
 * Cloudflare Access publishes its keys at a fixed path of the team domain (its `iss`).
 */
export function knownJwksUri(issuer: Issuer): string | undefined {
  if (issuer.jwksUri !== undefined) return issuer.jwksUri;
  if (issuer.kind === "cloudflare-access") return `${withoutTrailingSlash(issuer.issuer)}/cdn-cgi/access/certs`;
  return undefined;
}

/**
 * Validates a discovery document for `issuer` (fetched from the network or read back from the cache):
 * its `issuer` equals ours exactly (OIDC Discovery §4.3, which stops one issuer impersonating another),
 * and its `jwks_uri` is https (or http to loopback, the local stack) on the issuer's own origin.
 */
export function parseDiscovery(issuer: string, document: unknown): DiscoveredIssuer {
  if (typeof document !== "object" || document === null || Array.isArray(document)) {
    throw new DiscoveryError("the discovery document is not a JSON object");
  }
  const { issuer: claimed, jwks_uri: jwksUri } = document as Record<string, unknown>;
  if (claimed !== issuer) throw new DiscoveryError("the discovery document names another issuer");
  if (typeof jwksUri !== "string") throw new DiscoveryError("the discovery document has no jwks_uri");
  let url: URL;
  try {
    url = new URL(jwksUri);
  } catch {
    throw new DiscoveryError("the discovery document's jwks_uri is not a URL");
  }
  const secure = url.protocol === "https:" || (url.protocol === "http:" && isLoopback(url.hostname));
  if (!secure) throw new DiscoveryError("the discovery document's jwks_uri is not https");
  if (url.username || url.password || url.hash) throw new DiscoveryError("the discovery document's jwks_uri carries credentials or a fragment");
  if (url.origin !== new URL(issuer).origin) throw new DiscoveryError("the discovery document's jwks_uri is not on the issuer's origin");
  return { issuer, jwks_uri: url.href };
}
