/**
 * The edge of the abuse limits: one RPC to the tenant's `RateLimiter` per request (admit), one after
 * a model call (charge, off the request path). A refusal is 429 with `Retry-After`; a limiter that
 * cannot answer refuses the request (503), since an unchecked limit is no limit.
 *
 * The limiter is the tenant's object: with `placement` (the tenants of the configuration in force)
 * it is created in the tenant's jurisdiction (worker/lib/tenant-placement.ts). Admission and charging
 * must be given the same placement, or they would count in two different objects, so both require it.
 * Inside it a principal is counted by kind and id: a user and a workload sharing an id are two callers.
 */
import type { Principal } from "../context.ts";
import { GatewayError } from "../errors.ts";
import { tenantId, type TenantPlacement } from "../lib/tenant-placement.ts";
import { principalKey } from "../verify/risk/index.ts";
import type { Limits } from "./limits.ts";
import type { RateLimiter } from "./rate-limiter.ts";

export type LimiterNamespace = DurableObjectNamespace<RateLimiter>;

/** Which limit refused a request, for the audit record and the risk engine. */
export interface LimitRefusal {
  limit: "rate" | "tokens";
  scope: "principal" | "tenant";
  retryAfterSeconds: number;
}

export class LimitedError extends GatewayError {
  constructor(readonly refusal: LimitRefusal) {
    const { limit, scope, retryAfterSeconds } = refusal;
    const whose = scope === "principal" ? "your" : "your organisation's";
    super(
      limit === "rate" ? "rate_limited" : "token_budget_exhausted",
      limit === "rate" ? `too many requests: ${whose} request rate limit is reached` : `${whose} model token budget for this period is spent`,
      { headers: { "retry-after": String(retryAfterSeconds) } },
    );
    this.name = "LimitedError";
  }
}

function limiterOf(namespace: LimiterNamespace, id: DurableObjectId) {
  // Typed by hand: the generated RPC stub type of the class is deeper than these two calls need.
  return namespace.get(id) as unknown as Pick<RateLimiter, "admit" | "charge">;
}

/** Admits the principal's request or throws LimitedError (429) / rate_limit_unavailable (503). */
export async function admit(namespace: LimiterNamespace, principal: Principal, limits: Limits, placement: TenantPlacement): Promise<void> {
  let admission: Awaited<ReturnType<RateLimiter["admit"]>>;
  try {
    admission = await limiterOf(namespace, await tenantId(namespace, principal.tenant, principal.tenant, placement)).admit(principalKey(principal), limits);
  } catch (cause) {
    throw new GatewayError("rate_limit_unavailable", "the request could not be checked against its limits, so it was refused", { cause });
  }
  if (!admission.admitted) throw new LimitedError({ limit: admission.limit, scope: admission.scope, retryAfterSeconds: admission.retryAfterSeconds });
}

/** Counts a completed call's tokens against the budgets; a failure is logged, the reply stands. */
export async function charge(
  namespace: LimiterNamespace,
  principal: Principal,
  tokens: number,
  limits: Limits,
  requestId: string,
  placement: TenantPlacement,
): Promise<void> {
  if (!(tokens > 0)) return;
  try {
    await limiterOf(namespace, await tenantId(namespace, principal.tenant, principal.tenant, placement)).charge(principalKey(principal), tokens, limits);
  } catch (error) {
    console.error(JSON.stringify({ event: "token_charge_failed", requestId, error: String(error) }));
  }
}
