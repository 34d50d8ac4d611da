/**
 * How the benchmarks run the Verity Worker under Miniflare's API: its bindings as wrangler.toml
 * declares them, the dev bundle key pinned (wrangler.toml pins none), and upstream keys for the mocks.
 */
import { MOCK_BACKENDS } from "../dev/config.ts";
import { buildSeedEntries, type KvEntry } from "../dev/seed-entries.ts";
import { nodeSigner, readSeedFiles } from "../dev/seed.ts";
import { DEV_SIGNING_JWK, DEV_TRUSTED_KEYS } from "../dev/signing/sign-bundle.ts";
import { DEV_VAULT_KEKS, LOCAL_WORKERD_PLACEMENT } from "../dev/vault-keys.ts";
import type { WranglerSettings } from "./build.ts";
import type { WorkerSpec } from "./workers.ts";

/**
 * The benchmark drives one principal far above any human rate; the risk engine would (rightly) call
 * that a burst and ask for step-up. The engine still runs on every request, with its burst and flood
 * floors raised out of the load's reach, so the numbers measure the pipeline, not refusals.
 */
const BENCH_RISK_TUNING = JSON.stringify({ burstFloor: 1_000_000, floodFloor: 4_000_000 });

/**
 * The load comes from one principal far above the default abuse limits (worker/network/limits.ts).
 * The seeded tenants' limits are raised out of its reach; the tenant's RateLimiter is still asked on
 * every request, so the numbers include its round trip.
 */
const BENCH_LIMITS = {
  principal: { requestsPerMinute: 1_000_000, burst: 1_000_000, tokens: 1_000_000_000_000 },
  tenant: { requestsPerMinute: 1_000_000, burst: 1_000_000, tokens: 1_000_000_000_000 },
};

/** The signed seed bundle the benchmarks publish: kv-seeds/ with BENCH_LIMITS for every tenant. */
export function benchSeedEntries(): KvEntry[] {
  const files = readSeedFiles();
  for (const tenant of Object.values(files.tenants as Record<string, Record<string, unknown>>)) tenant.limits = BENCH_LIMITS;
  return buildSeedEntries(files, nodeSigner(DEV_SIGNING_JWK));
}

export function veritySpec(label: string, modules: WorkerSpec["modules"], wrangler: WranglerSettings): WorkerSpec {
  return {
    label,
    modules,
    compatibilityDate: wrangler.compatibilityDate,
    compatibilityFlags: wrangler.compatibilityFlags,
    bindings: {
      ...wrangler.vars,
      BUNDLE_TRUSTED_KEYS: DEV_TRUSTED_KEYS,
      // The mock backends listen on loopback, which only local development may name.
      VERITY_LOCAL_DEV: "loopback",
      RISK_TUNING: BENCH_RISK_TUNING,
      ...DEV_VAULT_KEKS,
      ...LOCAL_WORKERD_PLACEMENT,
      ...Object.fromEntries(MOCK_BACKENDS.map((b) => [b.secret, b.apiKey])),
    },
    kvNamespaces: ["CONFIG", "CACHE"],
    durableObjects: {
      AUDIT_LOG: { className: "AuditLog", useSQLite: true },
      REPLAY_CACHE: { className: "ReplayCache", useSQLite: true },
      KEY_RING: { className: "KeyRing", useSQLite: true },
      RISK: { className: "RiskEngine", useSQLite: true },
      REVOCATIONS: { className: "Revocations", useSQLite: true },
      RATE_LIMITER: { className: "RateLimiter", useSQLite: true },
      PAYLOAD_VAULT: { className: "PayloadVault", useSQLite: true },
    },
  };
}
