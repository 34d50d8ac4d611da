/**
 * Fail-over inside the eligible set: which upstream failures may be retried on the next eligible
 * backend, how many tries and how long, and what the caller hears when none answered.
 *
 * Only a failure before the caller received anything is retried, and only one that says "this
 * backend, now" rather than "this request": the upstream could not be reached, sent no response
 * headers in time, or answered 5xx or 429. Once the upstream's reply is being relayed (a stream's
 * first byte, or a whole reply being read) there is no retry: the caller may already hold part of it.
 * The upstream may still have processed a failed attempt (a 5xx after the work, headers lost on the
 * way), so a request that failed over may have been run twice upstream; the README says so.
 */
import { GatewayError } from "../errors.ts";

/** Upstream calls per request, the first included. */
export const MAX_ATTEMPTS = 3;
/**
 * Total time the attempts of one request may wait for response headers: a new attempt starts only
 * before it runs out, and each waits at most what is left (and at most its backend's `timeoutMs`).
 * 60 s = two attempts at the seeded public backends' 30 s `timeoutMs`.
 */
export const FAILOVER_BUDGET_MS = 60_000;

export type FailureKind = "unreachable" | "timeout" | "status";

/** One attempt that failed over, as the audit records it (no upstream body, ever). A type, not an interface: audit records take it as JSON. */
export type FailedAttempt = {
  attempt: number;
  backend: string;
  failure: FailureKind;
  status?: number;
};

/** A status that is the backend's state rather than the request's fault. */
export function retriableStatus(status: number): boolean {
  return status === 429 || (status >= 500 && status <= 599);
}

/**
 * What went wrong when the egress call threw (worker/network/egress.ts): `upstream_timeout` is no
 * headers in time, `upstream_error` is a connection that failed. Anything else (an egress refusal, the
 * response-size bound) is not the backend's health and is not retried.
 */
export function failureOf(error: unknown): Exclude<FailureKind, "status"> | undefined {
  if (!(error instanceof GatewayError)) return undefined;
  if (error.code === "upstream_timeout") return "timeout";
  if (error.code === "upstream_error") return "unreachable";
  return undefined;
}

/**
 * How long an attempt may wait for headers. At least 1 ms: a budget spent while the attempt was being
 * prepared makes it time out at once, where 0 would mean no bound at all to the egress.
 */
export function attemptTimeout(backendTimeoutMs: number, deadline: number, now: number): number {
  return Math.max(1, Math.min(backendTimeoutMs, deadline - now));
}

function described(failure: FailedAttempt): string {
  if (failure.failure === "status") return `status ${failure.status ?? "?"}`;
  return failure.failure === "timeout" ? "no answer in time" : "unreachable";
}

/**
 * Every attempt failed. It names only backends this request was allowed to use (the ones tried),
 * and what happened there, never an upstream's own words.
 */
export function exhausted(failures: readonly FailedAttempt[]): GatewayError {
  const tried = failures.map((f) => `${f.backend}: ${described(f)}`).join("; ");
  return new GatewayError("upstream_unavailable", `no eligible model backend answered (${failures.length} tried: ${tried}); retry later`);
}
