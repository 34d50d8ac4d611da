/**
 * The network benchmark's Worker (bench/network.ts): the network plane's per-request code in workerd,
 * `n` requests' worth per HTTP request, so the Node side can time batches from outside.
 *
 *   POST /run?kind=pure&n=N      header hygiene (identity view, upstream and response headers), the
 *                                route segment, the CORS origin check and grant, and the egress check
 *   POST /run?kind=<part>&n=N    one of those alone (identity, segment, origin, egress, upstream, response)
 *   POST /run?kind=limiter&n=N   one RateLimiter admission each (the Durable Object round trip)
 *   GET  /healthz
 */
import { DEFAULT_SEGMENTS, egressTarget, grantResponse, identityHeaders, type Limits, originRefusal, RateLimiter, responseHeaders, segmentRefusal, upstreamHeaders } from "../worker/network/index.ts";

export { RateLimiter };

interface Env {
  RATE_LIMITER: DurableObjectNamespace<RateLimiter>;
}

const ORIGINS = new Set(["https://api.openai.com", "https://api.anthropic.com", "https://eu.models.example"]);
const CORS_ORIGINS = new Set(["https://app.acme.example"]);
/** Far above the load, so every admission is an admitted one (the common case). */
const LIMITS: Limits = {
  principal: { rate: { requestsPerMinute: 1e9, burst: 1e9 }, budget: { tokens: 1e15, windowSeconds: 86_400 } },
  tenant: { rate: { requestsPerMinute: 1e9, burst: 1e9 }, budget: { tokens: 1e15, windowSeconds: 86_400 } },
};

/** A browser SDK's request as it arrives: credentials, version flags, SDK headers, a forwarding chain. */
const CALLER = new Request("https://gateway.bench/v1/chat/completions", {
  method: "POST",
  headers: {
    authorization: `Bearer ${"x".repeat(800)}`,
    "content-type": "application/json",
    origin: "https://app.acme.example",
    "anthropic-version": "2023-06-01",
    "x-stainless-os": "MacOS",
    "x-stainless-lang": "js",
    "x-forwarded-for": "203.0.113.7",
    "cf-connecting-ip": "203.0.113.7",
    cookie: "a=b",
    "user-agent": "OpenAI/JS 5.0",
  },
});
const UPSTREAM = new Headers({ "content-type": "text/event-stream", "cache-control": "no-cache", server: "nginx", "x-powered-by": "x", "set-cookie": "s=1", "openai-processing-ms": "12" });

/** Each part of the plane's per-request work, alone (the `pure` kind runs them all). */
const PARTS: Record<string, () => void> = {
  identity() {
    const view = identityHeaders(CALLER.headers);
    if (view.get("authorization") === null || view.get("cookie") !== null) throw new Error("identity view is wrong");
  },
  segment() {
    // The gateway passes Hono's already parsed path (c.req.path).
    if (segmentRefusal("/v1/chat/completions", "user", DEFAULT_SEGMENTS)) throw new Error("segment refused");
  },
  origin() {
    if (originRefusal(CALLER, CORS_ORIGINS)) throw new Error("origin refused");
  },
  egress() {
    egressTarget("https://eu.models.example/v1/chat/completions", ORIGINS);
  },
  upstream() {
    upstreamHeaders(CALLER.headers, { authorization: "Bearer upstream-key" });
  },
  response() {
    grantResponse(responseHeaders(UPSTREAM, "req-1"), "https://app.acme.example");
  },
};
const ALL = Object.values(PARTS);

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname === "/healthz") return new Response("ok");
    if (url.pathname !== "/run") return new Response("not found", { status: 404 });
    const n = Number(url.searchParams.get("n") ?? "0");
    const kind = url.searchParams.get("kind");
    const part = kind === null ? undefined : PARTS[kind];
    if (kind === "pure") {
      for (let i = 0; i < n; i++) for (const step of ALL) step();
    } else if (part) {
      for (let i = 0; i < n; i++) part();
    } else if (kind === "limiter") {
      const limiter = env.RATE_LIMITER.get(env.RATE_LIMITER.idFromName("bench")) as unknown as Pick<RateLimiter, "admit">;
      for (let i = 0; i < n; i++) {
        const admission = await limiter.admit(`principal-${i % 100}`, LIMITS);
        if (!admission.admitted) throw new Error("refused");
      }
    } else {
      return new Response("unknown kind", { status: 400 });
    }
    return new Response(null, { status: 204 });
  },
};
