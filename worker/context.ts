/**
 * The per-request state the planes read and extend, and the domain types they exchange. Hono's
 * context carries the state typed (see `AppEnv` in env.ts); nothing is looked up untyped. Plain data
 * only, so Node tools (the CLI) can share these types.
 */
import type { WireFormat } from "./errors.ts";

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
  principal?: Principal;
}
