/**
 * The "bare" benchmark target: the least a Worker can do as an AI proxy. It forwards the request body
 * to the mock backend with the upstream API key and streams the reply back, nothing else (no
 * authentication, parsing, policy or audit), so Verity's cost can be read as the difference.
 * Web APIs only; built with `wrangler deploy --dry-run` like the gateway and run on the same runtime.
 */
interface Env {
  /** Origin of the mock backend, e.g. `http://127.0.0.1:8791`. */
  UPSTREAM_ORIGIN: string;
  UPSTREAM_KEY: string;
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname === "/healthz") return new Response("ok");
    if (request.method !== "POST" || url.pathname !== "/v1/chat/completions") return new Response("not found", { status: 404 });
    const upstream = await fetch(`${env.UPSTREAM_ORIGIN}${url.pathname}`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${env.UPSTREAM_KEY}` },
      body: request.body,
    });
    const headers = new Headers({ "content-type": upstream.headers.get("content-type") ?? "application/json" });
    return new Response(upstream.body, { status: upstream.status, headers });
  },
} satisfies ExportedHandler<Env>;
