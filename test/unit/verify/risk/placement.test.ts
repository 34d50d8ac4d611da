/**
 * Continuous verification's and the abuse limits' Durable Objects are the tenant's: an EU tenant's
 * `Revocations`, its principals' `RiskEngine`s and its `RateLimiter` are created in the `eu`
 * jurisdiction when enforcement is on, and addressed by the same names as before when it is off.
 * Local workerd refuses jurisdictions, so the calls are recorded by a fake namespace.
 */
import { describe, expect, it } from "vitest";
import type { Principal } from "../../../../worker/context.ts";
import { placementIn } from "../../../../worker/lib/tenant-placement.ts";
import { admit, charge, type LimiterNamespace } from "../../../../worker/network/admission.ts";
import { createContinuousVerification, type ContinuousBindings } from "../../../../worker/verify/risk/index.ts";

interface Call {
  binding: string;
  jurisdiction: string | null;
  name: string;
}

/** A namespace that records where each id is made, and answers every RPC a stub gets with `answer`. */
function recordingNamespace(binding: string, calls: Call[], answer: unknown): DurableObjectNamespace {
  const make = (jurisdiction: string | null): DurableObjectNamespace =>
    ({
      idFromName: (name: string) => {
        calls.push({ binding, jurisdiction, name });
        return { name, jurisdiction: jurisdiction ?? undefined } as unknown as DurableObjectId;
      },
      jurisdiction: (j: string) => make(j),
      get: () => new Proxy({}, { get: () => async () => answer }),
    }) as unknown as DurableObjectNamespace;
  return make(null);
}

const TENANTS = new Map([
  ["acme", { jurisdiction: "eu" }],
  ["globex", { jurisdiction: "us" }],
]);

function principal(overrides: Partial<Principal> = {}): Principal {
  return {
    kind: "user",
    id: "dave",
    tenant: "acme",
    groups: [],
    attributes: {},
    sessionId: "sid-1",
    authn: { method: "oidc", issuer: "http://idp", acr: "", amr: [], mfa: false, expiresAt: 4_000_000_000, binding: "none", authTime: 1_000 },
    ...overrides,
  };
}

function bindings(mode: "on" | "off" | undefined) {
  const calls: Call[] = [];
  const env = {
    RISK: recordingNamespace("RISK", calls, { level: "low" }),
    REVOCATIONS: recordingNamespace("REVOCATIONS", calls, undefined),
    ...(mode !== undefined ? { DO_JURISDICTIONS: mode } : {}),
  } as unknown as ContinuousBindings;
  const limiter = recordingNamespace("RATE_LIMITER", calls, { admitted: true }) as unknown as LimiterNamespace;
  return { env, limiter, calls };
}

const continuous = () => createContinuousVerification({ riskCacheMs: 0, jurisdictionOf: async (tenant) => TENANTS.get(tenant)?.jurisdiction ?? null });

describe("placement of continuous verification's objects", () => {
  it("creates an EU tenant's revocations and its principal's risk engine in the eu jurisdiction when enforced", async () => {
    for (const mode of ["on", undefined] as const) {
      const { env, calls } = bindings(mode);
      expect((await continuous().assess(principal(), env)).risk).toBe("low");
      expect(calls.sort((a, b) => a.binding.localeCompare(b.binding))).toEqual([
        { binding: "REVOCATIONS", jurisdiction: "eu", name: "acme" },
        { binding: "RISK", jurisdiction: "eu", name: "acme/user/dave" },
      ]);
    }
  });

  it("places a US tenant's objects in us, and a Shared Signals action in the tenant it names", async () => {
    const { env, calls } = bindings("on");
    await continuous().assess(principal({ tenant: "globex", kind: "workload", id: "billing" }), env);
    await continuous().apply(env, { kind: "risk", tenant: "acme", principal: { kind: "workload", id: "billing" }, level: "medium", reason: "ssf:test", at: 1_000 }, "ssf:t");
    await continuous().apply(env, { kind: "revoke", tenant: "acme", revocation: { kind: "session", sessionId: "s", reason: "ssf:test" } }, "ssf:t");
    expect(calls).toEqual(
      expect.arrayContaining([
        { binding: "REVOCATIONS", jurisdiction: "us", name: "globex" },
        { binding: "RISK", jurisdiction: "us", name: "globex/workload/billing" },
        { binding: "RISK", jurisdiction: "eu", name: "acme/workload/billing" },
        { binding: "REVOCATIONS", jurisdiction: "eu", name: "acme" },
      ]),
    );
    expect(calls).toHaveLength(4);
  });

  it("addresses the same names by name alone when jurisdictions are off, or no placement is given", async () => {
    const off = bindings("off");
    await continuous().assess(principal(), off.env);
    const unplaced = bindings("on");
    await createContinuousVerification({ riskCacheMs: 0 }).assess(principal(), unplaced.env);
    for (const { calls } of [off, unplaced]) {
      expect(calls.sort((a, b) => a.binding.localeCompare(b.binding))).toEqual([
        { binding: "REVOCATIONS", jurisdiction: null, name: "acme" },
        { binding: "RISK", jurisdiction: null, name: "acme/user/dave" },
      ]);
    }
  });

  it("fails closed (risk/revocation unavailable) for a tenant whose jurisdiction has no Durable Object counterpart", async () => {
    const { env } = bindings("on");
    const swiss = createContinuousVerification({ jurisdictionOf: async () => "ch" });
    await expect(swiss.assess(principal(), env)).rejects.toMatchObject({ code: "revocation_unavailable" });
  });
});

describe("placement of the rate limiter", () => {
  const limits = { principal: { requestsPerMinute: 60, burst: 10 }, tenant: { requestsPerMinute: 600, burst: 100 } } as never;

  it("admits and charges in the same object: the tenant's, in its jurisdiction when enforced", async () => {
    const { limiter, calls } = bindings("on");
    const placement = placementIn(TENANTS, { DO_JURISDICTIONS: "on" });
    await admit(limiter, principal(), limits, placement);
    await charge(limiter, principal(), 100, limits, "req-1", placement);
    expect(calls).toEqual([
      { binding: "RATE_LIMITER", jurisdiction: "eu", name: "acme" },
      { binding: "RATE_LIMITER", jurisdiction: "eu", name: "acme" },
    ]);
  });

  it("keeps the tenant id as the name when jurisdictions are off", async () => {
    const { limiter, calls } = bindings("off");
    const placement = placementIn(TENANTS, { DO_JURISDICTIONS: "off" });
    await admit(limiter, principal(), limits, placement);
    await charge(limiter, principal(), 100, limits, "req-1", placement);
    expect(calls).toEqual(Array.from({ length: 2 }, () => ({ binding: "RATE_LIMITER", jurisdiction: null, name: "acme" })));
  });
});
