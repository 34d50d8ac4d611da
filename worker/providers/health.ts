/**
 * Backend health, per isolate: a circuit breaker per upstream that orders routing, never gates it.
 *
 *   closed ──(THRESHOLD failures within WINDOW)──▶ open ──(COOL_DOWN elapsed)──▶ half-open
 *     ▲                                              ▲                              │
 *     └──────────── a success ───────────────────────┴──── the probe fails ─────────┘
 *
 * Health only changes the order in which the *eligible* backends are tried: healthy ones first, by
 * preference, then unhealthy ones, by preference. It never makes a backend eligible (policy and the
 * workload plane decide that) and never removes one: an EU tenant whose only eligible backend is
 * unhealthy still gets that backend tried, rather than a refusal or a backend elsewhere.
 *
 * Half-open: after the cool-down the next request that tries the backend is its probe; while that
 * probe is out (at most PROBE_LEASE) the backend stays last for everyone else, and its outcome closes
 * the circuit or opens it again. A probe whose outcome never comes (the request was abandoned) lapses.
 *
 * State lives in this isolate's memory, keyed by the upstream (backend id and base URL), so a new
 * configuration version that keeps a backend keeps its health; another isolate learns only from its
 * own traffic. Failures are what the upstream did (unreachable, no headers in time, 5xx, 429), so a
 * caller could make a shared backend look unhealthy only by reordering other callers' eligible sets.
 */

/**
 * Failures within the window that open the circuit, and how long it stays open before a probe: Envoy's
 * outlier-detection defaults (`consecutive_5xx` 5, `base_ejection_time` 30 s), which production
 * proxies live with; the window keeps failures spread over hours from adding up.
 */
export const FAILURE_THRESHOLD = 5;
export const FAILURE_WINDOW_MS = 30_000;
/** How long an open circuit keeps its backend last before one request probes it. */
export const COOL_DOWN_MS = 30_000;
/** A probe whose outcome has not come back within this long lapses, and the next request probes. */
export const PROBE_LEASE_MS = 60_000;
/** Upstreams tracked per isolate; far above any registry, so a flood of configurations cannot grow it. */
const MAX_TRACKED = 1024;

export type CircuitState = "closed" | "open" | "half_open";

/** The part of a backend that names its upstream. */
export interface Upstream {
  id: string;
  baseUrl: string;
}

export interface BackendHealth {
  state(backend: Upstream): CircuitState;
  /** `backends` (in preference order) with the healthy ones first; order within each group kept. */
  order<B extends Upstream>(backends: readonly B[]): B[];
  /** Called just before an upstream call: a half-open backend's call becomes its probe. */
  attempting(backend: Upstream): void;
  failed(backend: Upstream): void;
  succeeded(backend: Upstream): void;
}

export interface BackendHealthOptions {
  threshold?: number;
  windowMs?: number;
  coolDownMs?: number;
  probeLeaseMs?: number;
  /** Milliseconds; injected by tests (frozen time). */
  now?: () => number;
}

interface Circuit {
  /** Times of recent failures while closed (at most `threshold` of them). */
  failures: number[];
  openedAt?: number;
  probeAt?: number;
}

function positive(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) throw new TypeError(`createBackendHealth: ${name} must be a positive number`);
  return value;
}

export function createBackendHealth(options: BackendHealthOptions = {}): BackendHealth {
  const threshold = positive("threshold", options.threshold ?? FAILURE_THRESHOLD);
  const windowMs = positive("windowMs", options.windowMs ?? FAILURE_WINDOW_MS);
  const coolDownMs = positive("coolDownMs", options.coolDownMs ?? COOL_DOWN_MS);
  const probeLeaseMs = positive("probeLeaseMs", options.probeLeaseMs ?? PROBE_LEASE_MS);
  const now = options.now ?? Date.now;
  const circuits = new Map<string, Circuit>();
  const keyOf = (backend: Upstream) => `${backend.id} ${backend.baseUrl}`;

  function stateOf(circuit: Circuit | undefined, at: number): CircuitState {
    if (circuit?.openedAt === undefined) return "closed";
    if (at < circuit.openedAt + coolDownMs) return "open";
    // One probe at a time: while it is out, the backend stays last.
    if (circuit.probeAt !== undefined && at < circuit.probeAt + probeLeaseMs) return "open";
    return "half_open";
  }

  function circuitOf(key: string): Circuit {
    let circuit = circuits.get(key);
    if (!circuit) {
      circuit = { failures: [] };
      circuits.set(key, circuit);
      // Insertion order: the oldest tracked upstream is forgotten first (it starts closed again).
      if (circuits.size > MAX_TRACKED) circuits.delete(circuits.keys().next().value as string);
    }
    return circuit;
  }

  return {
    state: (backend) => stateOf(circuits.get(keyOf(backend)), now()),
    order(backends) {
      const at = now();
      const healthy = backends.filter((b) => stateOf(circuits.get(keyOf(b)), at) !== "open");
      return healthy.length === backends.length ? [...backends] : [...healthy, ...backends.filter((b) => !healthy.includes(b))];
    },
    attempting(backend) {
      const at = now();
      const circuit = circuits.get(keyOf(backend));
      if (circuit && stateOf(circuit, at) === "half_open") circuit.probeAt = at;
    },
    failed(backend) {
      const at = now();
      const circuit = circuitOf(keyOf(backend));
      if (circuit.openedAt !== undefined) {
        // A failed probe (or a last-resort try while open): open again for a full cool-down.
        circuit.openedAt = at;
        delete circuit.probeAt;
        return;
      }
      circuit.failures = [...circuit.failures.filter((t) => at - t < windowMs), at].slice(-threshold);
      if (circuit.failures.length >= threshold) {
        circuit.openedAt = at;
        circuit.failures = [];
      }
    },
    succeeded(backend) {
      circuits.delete(keyOf(backend));
    },
  };
}

/** The isolate's backend health, used by the pipeline (tests inject their own). */
export const isolateHealth: BackendHealth = createBackendHealth();
