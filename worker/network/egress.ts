import { GatewayError } from "../errors.ts";
import { DEFAULT_BOUNDS, type DestinationBounds } from "./plan.ts";

export interface EgressInit extends RequestInit {
  /**
   * Upper bound on the wait for the response headers. A streamed body may then take longer (a long
   * generation is legitimate); the caller's own `signal` still cancels it at any time.
   */
  timeoutMs?: number;
  /**
   * Who opens the connection: the Worker's `mtls_certificates` binding for a destination that wants
   * the gateway's client certificate (its `fetch` presents it), the global `fetch` otherwise.
   */
  via?: Pick<Fetcher, "fetch">;
}

export interface EgressOptions {
  /** Response bounds per origin (from the registry); others take DEFAULT_BOUNDS. */
  bounds?: ReadonlyMap<string, DestinationBounds>;
}

/**
 * The body, cut off with `upstream_response_too_large` past `maxBytes`: a declared Content-Length
 * above it is refused at once, and every body is counted as it streams (an SSE reply has none).
 */
function bounded(response: Response, maxBytes: number): Response {
  const declared = Number(response.headers.get("content-length") ?? "0");
  const tooLarge = () => new GatewayError("upstream_response_too_large", "the upstream answer exceeded its size limit");
  if (declared > maxBytes) {
    void response.body?.cancel();
    throw tooLarge();
  }
  if (!response.body) return response;
  let seen = 0;
  const counter = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      seen += chunk.byteLength;
      if (seen > maxBytes) controller.error(tooLarge());
      else controller.enqueue(chunk);
    },
  });
  return new Response(response.body.pipeThrough(counter), response);
}

/**
 * The only way the gateway reaches the network. Exact origins from the configuration registry are
 * allowed and nothing else (and the registry admits no private, link-local or metadata address:
 * addresses.ts); redirects are never followed (a 3xx comes back as a response, which the caller
 * treats as an upstream error), so an allowed origin cannot bounce a request elsewhere. Each answer
 * is bounded: headers within `timeoutMs`, the body within its origin's `maxResponseBytes`.
 */
/** The target of an outbound fetch if its exact origin is on the allowlist; `egress_denied` otherwise. */
export function egressTarget(url: string, allowedOrigins: ReadonlySet<string>): URL {
  let target: URL;
  try {
    target = new URL(url);
  } catch (cause) {
    throw new GatewayError("egress_denied", "an outbound address is invalid", { cause });
  }
  if (!allowedOrigins.has(target.origin)) {
    throw new GatewayError("egress_denied", "an outbound address is not on the egress allowlist");
  }
  return target;
}

export function createEgress(allowedOrigins: ReadonlySet<string>, options: EgressOptions = {}) {
  const bounds = options.bounds ?? new Map<string, DestinationBounds>();
  return async function egressFetch(url: string, init: EgressInit = {}): Promise<Response> {
    const target = egressTarget(url, allowedOrigins);
    const { timeoutMs, signal, via, ...rest } = init;
    const controller = new AbortController();
    const cancel = () => controller.abort(signal?.reason);
    if (signal?.aborted) cancel();
    signal?.addEventListener("abort", cancel, { once: true });
    const timer = timeoutMs
      ? setTimeout(() => controller.abort(new DOMException("no response headers in time", "TimeoutError")), timeoutMs)
      : undefined;
    let response: Response;
    try {
      const request = { ...rest, redirect: "manual" as const, signal: controller.signal };
      response = await (via ? via.fetch(target.href, request) : fetch(target.href, request));
    } catch (cause) {
      if (controller.signal.reason instanceof DOMException && controller.signal.reason.name === "TimeoutError") {
        throw new GatewayError("upstream_timeout", "the upstream service did not answer in time", { cause });
      }
      throw new GatewayError("upstream_error", "the upstream service could not be reached", { cause });
    } finally {
      if (timer !== undefined) clearTimeout(timer);
    }
    return bounded(response, (bounds.get(target.origin) ?? DEFAULT_BOUNDS).maxResponseBytes);
  };
}

export type Egress = ReturnType<typeof createEgress>;
