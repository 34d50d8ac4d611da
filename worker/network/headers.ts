/**
 * Header hygiene, by allowlist in all three directions, so that a header nobody listed can have no
 * effect, whatever a client (or an upstream) puts in it:
 *
 * - inbound to identity: only the credential headers (`identityHeaders`). Forwarding chains
 *   (X-Forwarded-*, Forwarded, X-Real-IP, True-Client-IP, CF-Connecting-IP), client-certificate
 *   headers (Client-Cert, Client-Cert-Chain of RFC 9440, X-Client-Cert, X-SSL-Client-*) and
 *   identity assertions (X-Verity-*, X-Forwarded-User, …) are never read: the client certificate is
 *   the edge's `request.cf.tlsClientAuth` and the place is `request.cf`, which a client cannot set.
 * - outbound to a provider: a fresh header set with the provider's version flags and the gateway's
 *   own credential (`upstreamHeaders`), so no caller credential (Authorization, DPoP, Cookie,
 *   Cf-Access-Jwt-Assertion, x-api-key), forwarding chain or hop-by-hop header leaves.
 * - back to the caller: content type and a few provider timing headers (`responseHeaders`), never the
 *   upstream's Server, X-Powered-By, Set-Cookie or anything naming internals.
 */

/** The credential headers identity (worker/identity) reads; nothing else of the request's headers. */
const IDENTITY_HEADERS = ["authorization", "dpop", "cf-access-jwt-assertion"] as const;

/**
 * The allowlisted headers of `from` plus `extra`, built as a plain record and handed to `Headers`
 * once: every `Headers` call crosses into the runtime, so one construction beats a `set` per name.
 */
function pick(from: Headers, names: readonly string[], extra: Record<string, string>): Headers {
  const record: Record<string, string> = {};
  for (const name of names) {
    const value = from.get(name);
    if (value !== null) record[name] = value;
  }
  return new Headers(Object.assign(record, extra));
}

const IDENTITY_HEADER_SET: ReadonlySet<string> = new Set(IDENTITY_HEADERS);

/**
 * The request's headers as identity may read them: the credential headers and nothing else (any
 * other name reads as absent). A view, not a copy: nothing is built per request.
 */
export function identityHeaders(caller: Headers): Pick<Headers, "get"> {
  return {
    get(name: string): string | null {
      return IDENTITY_HEADER_SET.has(name.toLowerCase()) ? caller.get(name) : null;
    },
  };
}

/** Caller headers a provider needs to interpret the request (versions and beta flags), nothing else. */
const FORWARDED_REQUEST_HEADERS = ["anthropic-version", "anthropic-beta", "openai-beta"] as const;
const FORWARDED_RESPONSE_HEADERS = ["content-type", "cache-control", "openai-processing-ms"] as const;

export function upstreamHeaders(caller: Headers, credentials: Record<string, string>): Headers {
  return pick(caller, FORWARDED_REQUEST_HEADERS, { "content-type": "application/json", accept: "application/json, text/event-stream", ...credentials });
}

export function responseHeaders(upstream: Headers, requestId: string): Headers {
  return pick(upstream, FORWARDED_RESPONSE_HEADERS, { "x-request-id": requestId });
}
