/**
 * The delegated tool token's shape, shared by the gateway that issues it (./delegated-token.ts) and
 * the verifier tool owners run (./verify-delegated-token.ts). No imports: it loads anywhere.
 */

/**
 * JWS `typ` of a delegated token: the media type `application/tool-token+jwt` in the short form
 * RFC 7515 §4.1.9 recommends (the `application/` prefix omitted), as RFC 9068 does with `at+jwt`.
 */
export const DELEGATED_TOKEN_TYPE = "tool-token+jwt";

/** A delegated token's whole life, and the most a verifier accepts (`exp - iat`). */
export const DELEGATED_TOKEN_LIFE_S = 60;

/** Issuer when `GATEWAY_ISSUER` is not set: the gateway's identity in the local stack. */
export const DEFAULT_GATEWAY_ISSUER = "https://gateway.verity.local";

/** RFC 8693 §4.1 actor claim: the current actor outermost, earlier actors nested (informational). */
export interface ActorClaim {
  sub: string;
  client_id?: string;
  act?: ActorClaim;
}

export interface DelegatedTokenClaims {
  iss: string;
  /** The human (or workload) principal on whose authority the tool runs. */
  sub: string;
  /** The one tool this token is for (its registry `audience`). */
  aud: string;
  iat: number;
  exp: number;
  jti: string;
  tenant: string;
  /** The tool's registry id; `scope` says the same as an OAuth scope (`tool:<id>`). */
  tool: string;
  scope: string;
  /** base64url SHA-256 of the arguments' RFC 8785 canonical JSON: the token is good for these only. */
  args_sha256: string;
  /** Absent when the principal called with no agent or client in between. */
  act?: ActorClaim;
}

