/**
 * The per-request state the planes read and extend, and the domain types they exchange. Hono's
 * context carries the state typed (see `AppEnv` in env.ts); nothing is looked up untyped. Plain data
 * only, so Node tools (the CLI) can share these types.
 */
import type { WireFormat } from "./errors.ts";

/** Which credential proved the principal. */
export type AuthMethod =
  | "oidc" // a JWT access token from an OIDC/OAuth issuer (RFC 9068 or plain JWT)
  | "cloudflare-access" // a Cloudflare Access application token (`Cf-Access-Jwt-Assertion`)
  | "mtls" // a verified client certificate registered for a workload
  | "spiffe-jwt" // a JWT-SVID
  | "spiffe-x509"; // an X.509-SVID presented as the client certificate

/** What ties the credential to this connection or key (sender constraint), if anything. */
export type Binding = "none" | "dpop" | "mtls";

/** How the caller proved who they are. */
export interface Authentication {
  method: AuthMethod;
  /** The token issuer, or `spiffe://<trust-domain>` for SVIDs. */
  issuer: string;
  /** Authentication context class reference from the token (RFC 9470); "" when none. */
  acr: string;
  amr: string[];
  mfa: boolean;
  /** Seconds since the epoch, when the user last authenticated, if the token says. */
  authTime?: number;
  tokenId?: string;
  /** Seconds since the epoch, when the token was issued (`iat`), if it says. */
  issuedAt?: number;
  /** Seconds since the epoch; for a certificate, its notAfter. */
  expiresAt: number;
  binding: Binding;
  /** The proof key's JWK thumbprint (DPoP) or the certificate's SHA-256 thumbprint (mTLS), base64url. */
  boundKey?: string;
}

/** One party in a delegation chain (RFC 8693 `act`). A type, not an interface, so it is JSON for the audit record. */
export type Actor = {
  sub: string;
  clientId?: string;
};

/**
 * The authenticated human or workload. A model or agent is never the principal: an agent acting for
 * the principal appears only as `actor` (the token's `act` claim). Decisions use the principal and
 * the current actor only; `delegation` (outermost first, the current actor at index 0) is for the record.
 */
export interface Principal {
  kind: "user" | "workload";
  id: string;
  tenant: string;
  /** Group names the issuer asserted (claim mapping), in addition to the entity store's. */
  groups: string[];
  /** Attributes mapped from the credential's claims by the issuer's configuration. */
  attributes: Record<string, string>;
  /** The IdP session (`sid`), when the token names one. */
  sessionId?: string;
  clientId?: string;
  actor?: Actor;
  delegation?: Actor[];
  authn: Authentication;
  /**
   * The risk engine's level for this principal at this request, set by continuous verification once
   * the session is known not to be revoked. Absent means not assessed, which policy sees as "high".
   */
  risk?: "low" | "medium" | "high";
}

export type ClassificationLevel = 0 | 1 | 2 | 3;
export const LEVEL_NAMES = ["public", "internal", "confidential", "restricted"] as const;

/** What a classifier finding is about; "custom" is a tenant's own dictionary term or pattern. */
export type FindingCategory = "pii" | "pci" | "phi" | "secret" | "custom";

export interface Finding {
  type: string;
  start: number;
  end: number;
  score: number;
  category: FindingCategory;
  level: ClassificationLevel;
}

export interface Classification {
  level: ClassificationLevel;
  categories: string[];
  findings: Finding[];
  /**
   * UTF-16 code units past the classifier's scan caps (worker/data/classify/limits.ts), never read.
   * Present only when non-zero; the level is then restricted and the categories include "unscanned".
   */
  unscanned?: number;
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
  /** What the request carried, for the risk engine's observation after the response. */
  observed?: { level: ClassificationLevel; tools: string[] };
  /** Tokens a whole reply used, waiting to travel with the request's risk observation. */
  pendingUsage?: number;
  /** The request's risk observation has been sent; later usage (a stream's) goes on its own. */
  requestObserved?: boolean;
  /** The network plane refused the request for this abuse limit (worker/network/admission.ts). */
  limited?: "rate" | "tokens";
}
