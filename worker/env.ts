/** The Worker's bindings and Hono's typed context: what only the Workers runtime provides. */
import type { RequestState } from "./context.ts";
import type { PayloadVault } from "./data/vault/index.ts";
import type { ReplayCache } from "./identity/index.ts";
import type { RateLimiter } from "./network/index.ts";
import type { AuditLog, KeyRing, VerifyVars } from "./verify/index.ts";
import type { Revocations, RiskEngine } from "./verify/risk/index.ts";

/** Worker bindings, as wrangler.toml and the secrets declare them. */
export interface Env extends VerifyVars {
  CONFIG: KVNamespace;
  /** Identity key sets (JWKS, SPIFFE bundles) shared across isolates. */
  CACHE: KVNamespace;
  AUDIT_LOG: DurableObjectNamespace<AuditLog>;
  REPLAY_CACHE: DurableObjectNamespace<ReplayCache>;
  /** One risk engine per principal (`<tenant>/<kind>/<id>`): behavioural baselines and the risk level. */
  RISK: DurableObjectNamespace<RiskEngine>;
  /** Optional overrides of the risk engine's thresholds (JSON, see worker/verify/risk/score.ts `tuningFrom`). */
  RISK_TUNING?: string;
  /** One per tenant: revoked sessions (`sid`), tokens (`jti`) and principals. */
  REVOCATIONS: DurableObjectNamespace<Revocations>;
  /** The gateway's own signing keys (audit checkpoints): generated and held inside the object. */
  KEY_RING: DurableObjectNamespace<KeyRing>;
  /** Abuse limits: one per tenant, its principals' and its own request rates and token budgets. */
  RATE_LIMITER: DurableObjectNamespace<RateLimiter>;
  /** One per tenant, in its jurisdiction: payloads policy says to keep, envelope-encrypted (worker/data/vault). */
  PAYLOAD_VAULT: DurableObjectNamespace<PayloadVault>;
  /** "off" only under local workerd, which does not implement Durable Object jurisdictions (worker/lib/tenant-placement.ts). */
  DO_JURISDICTIONS?: string;
  /** Key-encryption keys of the payload vault, one Worker secret per tenant (`KEK_ACME`: base64 of 32 bytes). */
  [kek: `KEK_${string}`]: string | undefined;
  MAX_BODY_BYTES: string;
  /** How long (ms) an isolate trusts its in-memory configuration before rereading KV. */
  CONFIG_REFRESH_MS: string;
  /** JWK Set of the Ed25519 public keys whose configuration bundles the gateway trusts (see README). */
  BUNDLE_TRUSTED_KEYS: string;
  /** Lowest configuration bundle version any isolate accepts, cold ones included (rollback floor). */
  BUNDLE_MIN_VERSION: string;
  /** The gateway's issuer identifier in the delegated tool tokens and backend assertions it signs (default https://gateway.verity.local). */
  GATEWAY_ISSUER?: string;
  /** `loopback` on the local stack, the tests and the benchmarks only; never in wrangler.toml (README, network plane). */
  VERITY_LOCAL_DEV?: string;
  /** Upstream API keys, one Worker secret per backend, named by the registry's `secret` field. */
  [secret: `UPSTREAM_KEY_${string}`]: string | undefined;
}

export interface AppEnv {
  Bindings: Env;
  Variables: { state: RequestState };
}
