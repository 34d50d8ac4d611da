/**
 * Header hygiene. Upstream requests are built from an allowlist, so nothing of the caller's
 * credentials, forwarding chain or Cloudflare metadata is forwarded; responses likewise carry back
 * only what a client needs, never the upstream's identifying or internal headers.
 */

/** Caller headers a provider needs to interpret the request (versions and beta flags), nothing else. */
const FORWARDED_REQUEST_HEADERS = ["anthropic-version", "anthropic-beta", "openai-beta"] as const;
const FORWARDED_RESPONSE_HEADERS = ["content-type", "cache-control", "openai-processing-ms"] as const;

export function upstreamHeaders(caller: Headers, credentials: Record<string, string>): Headers {
  const headers = new Headers({ "content-type": "application/json", accept: "application/json, text/event-stream" });
  for (const name of FORWARDED_REQUEST_HEADERS) {
    const value = caller.get(name);
    if (value !== null) headers.set(name, value);
  }
  for (const [name, value] of Object.entries(credentials)) headers.set(name, value);
  return headers;
}

export function responseHeaders(upstream: Headers, requestId: string): Headers {
  const headers = new Headers({ "x-request-id": requestId });
  for (const name of FORWARDED_RESPONSE_HEADERS) {
    const value = upstream.get(name);
    if (value !== null) headers.set(name, value);
  }
  return headers;
}
