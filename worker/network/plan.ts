/**
 * The network plane's view of one configuration: per tenant its CORS origins, abuse limits and route
 * segments (defaults filled in), and per egress origin its response bounds. Built once per registry
 * (memoised on the object, which is swapped whole with each bundle), so a request only looks it up.
 */
import type { Registry } from "../workload/index.ts";
import type { ScopeLimitsDoc } from "../workload/registry.ts";
import { DEFAULT_LIMITS, type Limits, type ScopeLimits } from "./limits.ts";
import { DEFAULT_SEGMENTS, type Segments } from "./segments.ts";

export interface TenantNetwork {
  corsOrigins: ReadonlySet<string>;
  limits: Limits;
  segments: Segments;
}

export interface DestinationBounds {
  /** Most response body bytes read from this origin. */
  maxResponseBytes: number;
}

export interface NetworkPlan {
  /** Origins some tenant allows: a preflight (which carries no credential) is answered for these only. */
  corsOrigins: ReadonlySet<string>;
  tenants: ReadonlyMap<string, TenantNetwork>;
  /** Bounds per egress origin; an origin not listed takes DEFAULT_BOUNDS. */
  bounds: ReadonlyMap<string, DestinationBounds>;
}

/**
 * 32 MiB: a long generation is a few hundred KB of SSE; an attestation token or a key set a few KB.
 * Anything near this is a misbehaving upstream, not an answer.
 */
export const DEFAULT_MAX_RESPONSE_BYTES = 32 * 1024 * 1024;
export const DEFAULT_BOUNDS: DestinationBounds = { maxResponseBytes: DEFAULT_MAX_RESPONSE_BYTES };

function scopeLimits(doc: ScopeLimitsDoc | undefined, fallback: ScopeLimits): ScopeLimits {
  return {
    rate: { requestsPerMinute: doc?.requestsPerMinute ?? fallback.rate.requestsPerMinute, burst: doc?.burst ?? fallback.rate.burst },
    budget: { tokens: doc?.tokens ?? fallback.budget.tokens, windowSeconds: doc?.windowSeconds ?? fallback.budget.windowSeconds },
  };
}

function build(registry: Registry): NetworkPlan {
  const corsOrigins = new Set<string>();
  const tenants = new Map<string, TenantNetwork>();
  for (const tenant of registry.tenants.values()) {
    const origins = new Set(tenant.corsOrigins ?? []);
    for (const origin of origins) corsOrigins.add(origin);
    tenants.set(tenant.id, {
      corsOrigins: origins,
      limits: { principal: scopeLimits(tenant.limits?.principal, DEFAULT_LIMITS.principal), tenant: scopeLimits(tenant.limits?.tenant, DEFAULT_LIMITS.tenant) },
      segments: { ...DEFAULT_SEGMENTS, ...tenant.segments },
    });
  }
  // Backends on one origin share its bound: the largest any of them declares.
  const bounds = new Map<string, DestinationBounds>();
  for (const backend of registry.backends) {
    const origin = new URL(backend.baseUrl).origin;
    const maxResponseBytes = Math.max(backend.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES, bounds.get(origin)?.maxResponseBytes ?? 0);
    bounds.set(origin, { maxResponseBytes });
  }
  return { corsOrigins, tenants, bounds };
}

const plans = new WeakMap<Registry, NetworkPlan>();

export function networkPlan(registry: Registry): NetworkPlan {
  let plan = plans.get(registry);
  if (!plan) {
    plan = build(registry);
    plans.set(registry, plan);
  }
  return plan;
}
