/**
 * How the benchmarks run the Verity Worker under Miniflare's API: its bindings as wrangler.toml
 * declares them, the dev bundle key pinned (wrangler.toml pins none), and upstream keys for the mocks.
 */
import { MOCK_BACKENDS } from "../dev/config.ts";
import { DEV_TRUSTED_KEYS } from "../dev/signing/sign-bundle.ts";
import type { WranglerSettings } from "./build.ts";
import type { WorkerSpec } from "./workers.ts";

/**
 * The benchmark drives one principal far above any human rate; the risk engine would (rightly) call
 * that a burst and ask for step-up. The engine still runs on every request, with its burst and flood
 * floors raised out of the load's reach, so the numbers measure the pipeline, not refusals.
 */
const BENCH_RISK_TUNING = JSON.stringify({ burstFloor: 1_000_000, floodFloor: 4_000_000 });

export function veritySpec(label: string, modules: WorkerSpec["modules"], wrangler: WranglerSettings): WorkerSpec {
  return {
    label,
    modules,
    compatibilityDate: wrangler.compatibilityDate,
    compatibilityFlags: wrangler.compatibilityFlags,
    bindings: {
      ...wrangler.vars,
      BUNDLE_TRUSTED_KEYS: DEV_TRUSTED_KEYS,
      RISK_TUNING: BENCH_RISK_TUNING,
      ...Object.fromEntries(MOCK_BACKENDS.map((b) => [b.secret, b.apiKey])),
    },
    kvNamespaces: ["CONFIG", "CACHE"],
    durableObjects: {
      AUDIT_LOG: { className: "AuditLog", useSQLite: true },
      REPLAY_CACHE: { className: "ReplayCache", useSQLite: true },
      KEY_RING: { className: "KeyRing", useSQLite: true },
      RISK: { className: "RiskEngine", useSQLite: true },
      REVOCATIONS: { className: "Revocations", useSQLite: true },
    },
  };
}
