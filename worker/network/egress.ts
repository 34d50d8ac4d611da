import { GatewayError } from "../errors.ts";

export interface EgressInit extends RequestInit {
  /**
   * Upper bound on the wait for the response headers. A streamed body may then take longer (a long
   * generation is legitimate); the caller's own `signal` still cancels it at any time.
   */
  timeoutMs?: number;
}

/**
 * The only way the gateway reaches the network. Exact origins from the configuration registry are
 * allowed and nothing else; redirects are never followed (a 3xx comes back as a response, which the
 * caller treats as an upstream error), so an allowed origin cannot bounce a request elsewhere.
 */
export function createEgress(allowedOrigins: ReadonlySet<string>) {
  return async function egressFetch(url: string, init: EgressInit = {}): Promise<Response> {
    let target: URL;
    try {
      target = new URL(url);
    } catch (cause) {
      throw new GatewayError("egress_denied", "an outbound address is invalid", { cause });
    }
    if (!allowedOrigins.has(target.origin)) {
      throw new GatewayError("egress_denied", "an outbound address is not on the egress allowlist");
    }
    const { timeoutMs, signal, ...rest } = init;
    const controller = new AbortController();
    const cancel = () => controller.abort(signal?.reason);
    if (signal?.aborted) cancel();
    signal?.addEventListener("abort", cancel, { once: true });
    const timer = timeoutMs
      ? setTimeout(() => controller.abort(new DOMException("no response headers in time", "TimeoutError")), timeoutMs)
      : undefined;
    try {
      return await fetch(target.href, { ...rest, redirect: "manual", signal: controller.signal });
    } catch (cause) {
      if (controller.signal.reason instanceof DOMException && controller.signal.reason.name === "TimeoutError") {
        throw new GatewayError("upstream_timeout", "the upstream service did not answer in time", { cause });
      }
      throw new GatewayError("upstream_error", "the upstream service could not be reached", { cause });
    } finally {
      if (timer !== undefined) clearTimeout(timer);
    }
  };
}

export type Egress = ReturnType<typeof createEgress>;
