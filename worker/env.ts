/** The Worker's bindings and Hono's typed context: what only the Workers runtime provides. */
import type { RequestState } from "./context.ts";
import type { ReplayCache } from "./identity/replay-cache.ts";
import type { AuditLog } from "./verify/index.ts";

/** Worker bindings, as wrangler.toml and the secrets declare them. */
export interface Env {
  CONFIG: KVNamespace;
  /** Identity key sets (JWKS, SPIFFE bundles) shared across isolates. */
  CACHE: KVNamespace;
  AUDIT_LOG: DurableObjectNamespace<AuditLog>;
  REPLAY_CACHE: DurableObjectNamespace<ReplayCache>;
  MAX_BODY_BYTES: string;
  /** How long (ms) an isolate trusts its in-memory configuration before rereading KV. */
  CONFIG_REFRESH_MS: string;
  /** Upstream API keys, one Worker secret per backend, named by the registry's `secret` field. */
  [secret: `UPSTREAM_KEY_${string}`]: string | undefined;
}

export interface AppEnv {
  Bindings: Env;
  Variables: { state: RequestState };
}
