/**
 * CORS, closed by default. Nothing is opened to a browser page unless a tenant lists the page's
 * origin (`tenants.<id>.corsOrigins`). A preflight carries no credential, so it is answered for an
 * origin some tenant lists; the actual request, once its principal is known, must come from an origin
 * of the principal's own tenant (or from the gateway's own origin), or it is refused before any
 * effect. Never a wildcard, never `Access-Control-Allow-Credentials`: the gateway's credentials are
 * bearer and DPoP headers that the page sets itself, not cookies a browser would attach.
 */
import type { Context, Next } from "hono";
import type { AppEnv } from "../env.ts";
import { GatewayError } from "../errors.ts";
import type { NetworkPlan } from "./plan.ts";

/** Request headers a browser client of the gateway sends (the official SDKs' included). */
const ALLOWED_REQUEST_HEADERS = new Set([
  "authorization",
  "content-type",
  "dpop",
  "anthropic-version",
  "anthropic-beta",
  "anthropic-dangerous-direct-browser-access",
  "openai-beta",
  "openai-organization",
  "openai-project",
  "x-verity-classification",
  "mcp-session-id",
  "mcp-protocol-version",
  "last-event-id",
]);
/** The OpenAI and Anthropic SDKs add `x-stainless-*` platform headers. */
const SDK_HEADER = /^x-stainless-[a-z0-9-]{1,64}$/;
const ALLOWED_METHODS = "GET, POST, DELETE";
const EXPOSED_HEADERS = "x-request-id, retry-after, www-authenticate, mcp-session-id";
/** Browsers cap this anyway (Chromium at 7200 s); ten minutes keeps a removed origin's pages short-lived. */
const PREFLIGHT_MAX_AGE_S = "600";

/** The `Origin` a browser sent from another origin; undefined for same-origin and non-browser calls. */
export function crossOrigin(request: Request): string | undefined {
  const origin = request.headers.get("origin");
  if (origin === null || origin === "null") return origin ?? undefined;
  // Same origin: the request URL starts with it (the URL is canonical, so no parse is needed).
  const url = request.url;
  return url.startsWith(origin) && (url.length === origin.length || url[origin.length] === "/") ? undefined : origin;
}

export function isPreflight(request: Request): boolean {
  return request.method === "OPTIONS" && request.headers.has("origin") && request.headers.has("access-control-request-method");
}

/** Answers a preflight: 204 with the grant for a listed origin, a refusal (no CORS headers) otherwise. */
export function preflight(request: Request, listed: ReadonlySet<string>): Response {
  const origin = request.headers.get("origin") ?? "";
  if (!listed.has(origin)) throw new GatewayError("cors_origin_denied", "this origin may not call the gateway from a browser");
  const asked = (request.headers.get("access-control-request-headers") ?? "")
    .split(",")
    .map((h) => h.trim().toLowerCase())
    .filter((h) => h !== "" && (ALLOWED_REQUEST_HEADERS.has(h) || SDK_HEADER.test(h)));
  return new Response(null, {
    status: 204,
    headers: {
      "access-control-allow-origin": origin,
      "access-control-allow-methods": ALLOWED_METHODS,
      ...(asked.length > 0 ? { "access-control-allow-headers": asked.join(", ") } : {}),
      "access-control-max-age": PREFLIGHT_MAX_AGE_S,
      vary: "Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
    },
  });
}

/** A cross-origin request whose origin the principal's tenant does not list is refused. */
export function originRefusal(request: Request, tenantOrigins: ReadonlySet<string>): GatewayError | undefined {
  const origin = crossOrigin(request);
  if (origin === undefined || tenantOrigins.has(origin)) return undefined;
  return new GatewayError("cors_origin_denied", "this origin may not call the gateway for this tenant");
}

/** Lets the page read a response to its (already admitted) request. */
export function grantResponse(headers: Headers, origin: string): void {
  headers.set("access-control-allow-origin", origin);
  headers.set("access-control-expose-headers", EXPOSED_HEADERS);
  headers.append("vary", "Origin");
}

/**
 * The middleware: requests without a cross-origin `Origin` pass untouched (no configuration read);
 * a preflight is answered here, before any route or authentication; any other cross-origin response
 * is made readable only for an origin the principal's tenant lists (any tenant's, before one is known).
 */
export function createCors(planOf: (c: Context<AppEnv>) => Promise<NetworkPlan>) {
  return async function cors(c: Context<AppEnv>, next: Next): Promise<Response | void> {
    const origin = crossOrigin(c.req.raw);
    if (origin === undefined) return next();
    const plan = await planOf(c);
    if (isPreflight(c.req.raw)) return preflight(c.req.raw, plan.corsOrigins);
    await next();
    const principal = c.var.state.principal;
    const allowed = principal ? plan.tenants.get(principal.tenant)?.corsOrigins : plan.corsOrigins;
    if (allowed?.has(origin)) grantResponse(c.res.headers, origin);
  };
}
