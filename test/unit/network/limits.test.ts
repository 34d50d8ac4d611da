/** The abuse limits' core with frozen time: token buckets, budgets, Retry-After, and no charge on refusal. */
import { describe, expect, it } from "vitest";
import { DEFAULT_LIMITS, LimiterCore, type Limits, type UsageStore } from "../../../worker/network/index.ts";
import { refill, secondsUntilToken, windowStart } from "../../../worker/network/limits.ts";

function memoryStore(): UsageStore & { rows: Map<string, { windowStart: number; used: number }> } {
  const rows = new Map<string, { windowStart: number; used: number }>();
  return { rows, get: (key) => rows.get(key), put: (key, usage) => void rows.set(key, usage) };
}

const limits = (principal: Partial<{ rpm: number; burst: number; tokens: number }>, tenant: Partial<{ rpm: number; burst: number; tokens: number }> = {}): Limits => ({
  principal: { rate: { requestsPerMinute: principal.rpm ?? 60, burst: principal.burst ?? 2 }, budget: { tokens: principal.tokens ?? 1000, windowSeconds: 3600 } },
  tenant: { rate: { requestsPerMinute: tenant.rpm ?? 6000, burst: tenant.burst ?? 100 }, budget: { tokens: tenant.tokens ?? 100_000, windowSeconds: 3600 } },
});

const T0 = Date.UTC(2026, 10, 26, 12, 0, 0);

describe("token bucket", () => {
  it("admits a burst, then refuses with the seconds until the next request", () => {
    const core = new LimiterCore(memoryStore());
    const l = limits({ rpm: 6, burst: 2 });
    expect(core.admit("alice", l, T0)).toEqual({ admitted: true });
    expect(core.admit("alice", l, T0)).toEqual({ admitted: true });
    expect(core.admit("alice", l, T0)).toEqual({ admitted: false, limit: "rate", scope: "principal", retryAfterSeconds: 10 });
    // A refusal consumed nothing: 10 s later exactly one request is back.
    expect(core.admit("alice", l, T0 + 10_000)).toEqual({ admitted: true });
    expect(core.admit("alice", l, T0 + 10_000).admitted).toBe(false);
  });

  it("keeps principals apart and the tenant's bucket shared", () => {
    const core = new LimiterCore(memoryStore());
    const l = limits({ burst: 5 }, { rpm: 60, burst: 3 });
    expect(core.admit("alice", l, T0).admitted).toBe(true);
    expect(core.admit("bob", l, T0).admitted).toBe(true);
    expect(core.admit("carol", l, T0).admitted).toBe(true);
    expect(core.admit("dave", l, T0)).toEqual({ admitted: false, limit: "rate", scope: "tenant", retryAfterSeconds: 1 });
  });

  it("refills continuously and never beyond the burst", () => {
    const rate = { requestsPerMinute: 60, burst: 3 };
    expect(refill(undefined, rate, T0)).toEqual({ tokens: 3, at: T0 });
    expect(refill({ tokens: 0, at: T0 }, rate, T0 + 1500).tokens).toBeCloseTo(1.5);
    expect(refill({ tokens: 0, at: T0 }, rate, T0 + 3_600_000).tokens).toBe(3);
    expect(secondsUntilToken({ tokens: 0.5, at: T0 }, rate)).toBe(1);
    expect(secondsUntilToken({ tokens: 0, at: T0 }, { requestsPerMinute: 1, burst: 1 })).toBe(60);
  });
});

describe("token budgets", () => {
  it("refuses once the principal's window is spent, until the window turns", () => {
    const store = memoryStore();
    const core = new LimiterCore(store);
    const l = limits({ tokens: 100, burst: 100 });
    core.charge("alice", 60, l, T0);
    expect(core.admit("alice", l, T0).admitted).toBe(true);
    core.charge("alice", 40, l, T0 + 1000);
    const refused = core.admit("alice", l, T0 + 1000);
    expect(refused).toEqual({ admitted: false, limit: "tokens", scope: "principal", retryAfterSeconds: 3599 });
    expect(core.admit("bob", l, T0 + 1000).admitted).toBe(true);
    expect(core.admit("alice", l, windowStart(T0, l.principal.budget) + 3_600_000).admitted).toBe(true);
  });

  it("counts the tenant's usage across principals", () => {
    const core = new LimiterCore(memoryStore());
    const l = limits({ tokens: 1000, burst: 100 }, { tokens: 150 });
    core.charge("alice", 100, l, T0);
    core.charge("bob", 60, l, T0);
    expect(core.admit("carol", l, T0)).toMatchObject({ admitted: false, limit: "tokens", scope: "tenant" });
  });

  it("ignores nonsense charges and keeps usage durable through the store", () => {
    const store = memoryStore();
    const core = new LimiterCore(store);
    core.charge("alice", -5, DEFAULT_LIMITS, T0);
    core.charge("alice", Number.NaN, DEFAULT_LIMITS, T0);
    expect(store.rows.size).toBe(0);
    core.charge("alice", 10, DEFAULT_LIMITS, T0);
    expect(new LimiterCore(store).admit("alice", DEFAULT_LIMITS, T0).admitted).toBe(true);
    expect([...store.rows.values()].map((u) => u.used)).toEqual([10, 10]);
  });
});
