import { GatewayError } from "../errors.ts";

export interface EgressInit extends RequestInit {
  /** Upper bound on the whole exchange up to the response headers. */
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
    const signals = [signal, timeoutMs ? AbortSignal.timeout(timeoutMs) : undefined].filter(
      (s): s is AbortSignal => s !== undefined && s !== null,
    );
    try {
      return await fetch(target.href, {
        ...rest,
        redirect: "manual",
        ...(signals.length > 0 ? { signal: signals.length === 1 ? signals[0] : AbortSignal.any(signals) } : {}),
      });
    } catch (cause) {
      if (cause instanceof DOMException && cause.name === "TimeoutError") {
        throw new GatewayError("upstream_timeout", "the upstream service did not answer in time", { cause });
      }
      throw new GatewayError("upstream_error", "the upstream service could not be reached", { cause });
    }
  };
}

export type Egress = ReturnType<typeof createEgress>;
