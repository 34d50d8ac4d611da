/**
 * Abuse limits, the pure core: a token bucket per principal and per tenant for request rates, and a
 * token budget (model tokens per fixed window) per principal and per tenant. No I/O and no clock:
 * `now` (epoch ms) is passed in, so tests freeze time. The `RateLimiter` Durable Object (one per
 * tenant, rate-limiter.ts) holds the state and calls these functions; budgets' usage is written
 * through the small `UsageStore` interface so tests can swap it.
 */

export interface RateLimit {
  /** Sustained rate: the bucket refills at this many requests per minute. */
  requestsPerMinute: number;
  /** Bucket size: how many requests may arrive at once after a quiet spell. */
  burst: number;
}

export interface TokenBudget {
  /** Model tokens (input + output) per window. */
  tokens: number;
  /** Window length; windows are aligned to multiples of it since the epoch (UTC days for 86400). */
  windowSeconds: number;
}

export interface ScopeLimits {
  rate: RateLimit;
  budget: TokenBudget;
}

/** The limits in force for one request: its principal's and its tenant's. */
export interface Limits {
  principal: ScopeLimits;
  tenant: ScopeLimits;
}

/**
 * Defaults when the registry says nothing: backstops, not the first line. The risk engine calls 300
 * requests in a minute a burst and asks for step-up (worker/verify/risk/score.ts `burstFloor`), so a
 * principal's hard limit sits above that: 600 a minute (10/s sustained), all of it at once after a
 * quiet spell; its own budget of 10 M tokens a UTC day is a few thousand long chats. A tenant's share
 * is fifty principals at full rate and a hundred principals' budgets. Tenants set their own.
 */
export const DEFAULT_LIMITS: Limits = {
  principal: { rate: { requestsPerMinute: 600, burst: 600 }, budget: { tokens: 10_000_000, windowSeconds: 86_400 } },
  tenant: { rate: { requestsPerMinute: 30_000, burst: 30_000 }, budget: { tokens: 1_000_000_000, windowSeconds: 86_400 } },
};

export interface Bucket {
  /** Requests that may still be admitted at `at`. */
  tokens: number;
  at: number;
}

/** The bucket refilled to `now`. An unknown key starts full. */
export function refill(bucket: Bucket | undefined, rate: RateLimit, now: number): Bucket {
  if (!bucket) return { tokens: rate.burst, at: now };
  const perMs = rate.requestsPerMinute / 60_000;
  return { tokens: Math.min(rate.burst, bucket.tokens + Math.max(0, now - bucket.at) * perMs), at: Math.max(now, bucket.at) };
}

/** Whole seconds until a refilled bucket holds one request again (at least 1, as Retry-After). */
export function secondsUntilToken(bucket: Bucket, rate: RateLimit): number {
  const perMs = rate.requestsPerMinute / 60_000;
  return Math.max(1, Math.ceil((1 - bucket.tokens) / perMs / 1000));
}

export interface Usage {
  windowStart: number;
  used: number;
}

export function windowStart(now: number, budget: TokenBudget): number {
  const length = budget.windowSeconds * 1000;
  return Math.floor(now / length) * length;
}

/** Usage in the window that holds `now` (a stored usage of an older window counts as none). */
export function currentUsage(usage: Usage | undefined, budget: TokenBudget, now: number): Usage {
  const start = windowStart(now, budget);
  return usage && usage.windowStart === start ? usage : { windowStart: start, used: 0 };
}

export type Scope = "principal" | "tenant";

export type Admission =
  | { admitted: true }
  | { admitted: false; limit: "rate" | "tokens"; scope: Scope; retryAfterSeconds: number };

/** Where a limiter keeps token usage (durable) — SQLite in the object, a Map in tests. */
export interface UsageStore {
  get(key: string): Usage | undefined;
  put(key: string, usage: Usage): void;
}

/** Request buckets kept per object; beyond this the least recently used goes (it was full or nearly). */
const MAX_BUCKETS = 10_000;
const TENANT_KEY = "";

/**
 * One tenant's limiter. `admit` consumes a request from the principal's and the tenant's bucket only
 * when both have one and neither budget is spent, so a refused request costs nothing and its
 * Retry-After is exact. Buckets live in memory: an object is evicted only after a quiet spell long
 * enough to refill them, so losing them errs by at most one burst. Budgets are durable.
 */
export class LimiterCore {
  readonly #buckets = new Map<string, Bucket>();

  constructor(readonly store: UsageStore) {}

  admit(principal: string, limits: Limits, now: number): Admission {
    const mine = refill(this.#buckets.get(principal), limits.principal.rate, now);
    const theirs = refill(this.#buckets.get(TENANT_KEY), limits.tenant.rate, now);
    const refusal =
      (mine.tokens < 1 && { limit: "rate" as const, scope: "principal" as const, retryAfterSeconds: secondsUntilToken(mine, limits.principal.rate) }) ||
      (theirs.tokens < 1 && { limit: "rate" as const, scope: "tenant" as const, retryAfterSeconds: secondsUntilToken(theirs, limits.tenant.rate) }) ||
      this.#spent("principal", principal, limits.principal.budget, now) ||
      this.#spent("tenant", TENANT_KEY, limits.tenant.budget, now);
    if (refusal) {
      this.#keep(principal, mine);
      this.#keep(TENANT_KEY, theirs);
      return { admitted: false, ...refusal };
    }
    this.#keep(principal, { tokens: mine.tokens - 1, at: mine.at });
    this.#keep(TENANT_KEY, { tokens: theirs.tokens - 1, at: theirs.at });
    return { admitted: true };
  }

  /** Adds a completed call's tokens to the principal's and the tenant's usage. */
  charge(principal: string, tokens: number, limits: Limits, now: number): void {
    if (!(tokens > 0) || !Number.isFinite(tokens)) return;
    for (const [key, budget] of [[principalKey(principal), limits.principal.budget], [tenantKey(), limits.tenant.budget]] as const) {
      const usage = currentUsage(this.store.get(key), budget, now);
      this.store.put(key, { windowStart: usage.windowStart, used: usage.used + Math.round(tokens) });
    }
  }

  #spent(scope: Scope, id: string, budget: TokenBudget, now: number): Extract<Admission, { admitted: false }> | false {
    const key = scope === "tenant" ? tenantKey() : principalKey(id);
    const usage = currentUsage(this.store.get(key), budget, now);
    if (usage.used < budget.tokens) return false;
    return { admitted: false, limit: "tokens", scope, retryAfterSeconds: Math.max(1, Math.ceil((usage.windowStart + budget.windowSeconds * 1000 - now) / 1000)) };
  }

  #keep(key: string, bucket: Bucket): void {
    this.#buckets.delete(key);
    if (this.#buckets.size >= MAX_BUCKETS) this.#buckets.delete(this.#buckets.keys().next().value!);
    this.#buckets.set(key, bucket);
  }
}

function principalKey(principal: string): string {
  return `p:${principal}`;
}

function tenantKey(): string {
  return "t:";
}
