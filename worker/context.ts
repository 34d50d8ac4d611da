/**
 * The per-request state the planes read and extend. Hono's context carries it typed (see `AppEnv`);
 * nothing is looked up untyped.
 */
import type { WireFormat } from "./errors.ts";
import type { GatewayConfig } from "./workload/index.ts";

/** Worker bindings, as wrangler.toml and the secrets declare them. */
export interface Env {
  CONFIG: KVNamespace;
  AUDIT_LOG: DurableObjectNamespace<import("./verify/index.ts").AuditLog>;
  MAX_BODY_BYTES: string;
  /** How long (ms) an isolate trusts its in-memory configuration before rereading KV. */
  CONFIG_REFRESH_MS: string;
  /** Upstream API keys, one Worker secret per backend, named by the registry's `secret` field. */
  [secret: `UPSTREAM_KEY_${string}`]: string | undefined;
}

/** How the caller proved who they are. */
export interface Authentication {
  method: "oidc";
  issuer: string;
  /** Authentication context class reference from the token (RFC 9470). */
  acr: string;
  amr: string[];
  mfa: boolean;
  /** Seconds since the epoch, when the user last authenticated, if the token says. */
  authTime?: number;
  tokenId?: string;
  expiresAt: number;
}

/**
 * The authenticated human or workload. A model or agent is never the principal: an agent acting for
 * the principal appears only as `actor` (the token's `act` claim).
 */
export interface Principal {
  kind: "user" | "workload";
  id: string;
  tenant: string;
  clientId?: string;
  actor?: { sub: string; clientId?: string };
  authn: Authentication;
}

export type ClassificationLevel = 0 | 1 | 2 | 3;
export const LEVEL_NAMES = ["public", "internal", "confidential", "restricted"] as const;

export interface Finding {
  type: string;
  start: number;
  end: number;
  score: number;
}

export interface Classification {
  level: ClassificationLevel;
  categories: string[];
  findings: Finding[];
}

/** One chat request, whatever the wire format, as the planes see it. */
export interface NormalizedRequest {
  format: WireFormat;
  model: string;
  stream: boolean;
  /** Text of every message and system prompt, in order, for classification. */
  texts: string[];
  tools: string[];
  maxTokens?: number;
  /** The caller's JSON body, to be forwarded after obligations are applied. */
  body: Record<string, unknown>;
}

export interface RequestState {
  requestId: string;
  format: WireFormat;
  receivedAt: number;
  config?: GatewayConfig;
  principal?: Principal;
}

export interface AppEnv {
  Bindings: Env;
  Variables: { state: RequestState };
}
