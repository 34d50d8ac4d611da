/** The Worker's bindings and Hono's typed context: what only the Workers runtime provides. */
import type { RequestState } from "./context.ts";
import type { ReplayCache } from "./identity/index.ts";
import type { AuditLog, KeyRing, VerifyVars } from "./verify/index.ts";
import type { Revocations, RiskEngine } from "./verify/risk/index.ts";

/** Worker bindings, as wrangler.toml and the secrets declare them. */
export interface Env extends VerifyVars {
  CONFIG: KVNamespace;
  /** Identity key sets (JWKS, SPIFFE bundles) shared across isolates. */
  CACHE: KVNamespace;
  AUDIT_LOG: DurableObjectNamespace<AuditLog>;
  REPLAY_CACHE: DurableObjectNamespace<ReplayCache>;
  /** One risk engine per principal (`<tenant>/<id>`): behavioural baselines and the risk level. */
  RISK: DurableObjectNamespace<RiskEngine>;
  /** Optional overrides of the risk engine's thresholds (JSON, see worker/verify/risk/score.ts `tuningFrom`). */
  RISK_TUNING?: string;
  /** One per tenant: revoked sessions (`sid`), tokens (`jti`) and principals. */
  REVOCATIONS: DurableObjectNamespace<Revocations>;
  /** The gateway's own signing keys (audit checkpoints): generated and held inside the object. */
  KEY_RING: DurableObjectNamespace<KeyRing>;
  MAX_BODY_BYTES: string;
  /** How long (ms) an isolate trusts its in-memory configuration before rereading KV. */
  CONFIG_REFRESH_MS: string;
  /** JWK Set of the Ed25519 public keys whose configuration bundles the gateway trusts (see README). */
  BUNDLE_TRUSTED_KEYS: string;
  /** Lowest configuration bundle version any isolate accepts, cold ones included (rollback floor). */
  BUNDLE_MIN_VERSION: string;
  /** Upstream API keys, one Worker secret per backend, named by the registry's `secret` field. */
  [secret: `UPSTREAM_KEY_${string}`]: string | undefined;
}

export interface AppEnv {
  Bindings: Env;
  Variables: { state: RequestState };
}
