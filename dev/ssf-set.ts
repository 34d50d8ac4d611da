/**
 * Security Event Tokens (RFC 8417) as the dev Shared Signals transmitter signs them, for the dev
 * transmitter (dev/ssf.ts) and for tests. Web APIs only: tests in workerd sign with it too.
 * The key (dev/pki/ssf-transmitter.jwk.json) is TEST-ONLY: its private half is in the repository.
 */
import { importJWK, SignJWT, type JWK, type JWTPayload } from "jose";
import { IDP_ORIGIN, SSF_ORIGIN, SSF_RECEIVER_AUDIENCE } from "./config.ts";
import transmitterKey from "./pki/ssf-transmitter.jwk.json" with { type: "json" };

export const SSF_TRANSMITTER_KEY: JWK & { kid: string } = transmitterKey;
export const CAEP_EVENT = "https://schemas.openid.net/secevent/caep/event-type/";

export type CaepEvent = "session-revoked" | "credential-change" | "token-claims-change" | "assurance-level-change" | "risk-level-change";

/** The public half, as the transmitter's JWKS serves it. */
export function transmitterJwks(): { keys: JWK[] } {
  const { d: _private, ...publicKey } = SSF_TRANSMITTER_KEY;
  return { keys: [publicKey] };
}

/** RFC 9493 subjects the receiver understands. */
export const subjects = {
  user: (sub: string, iss: string = IDP_ORIGIN) => ({ format: "iss_sub", iss, sub }),
  session: (sid: string) => ({ format: "opaque", id: sid }),
  userSession: (sub: string, sid: string, iss: string = IDP_ORIGIN) => ({ format: "complex", user: { format: "iss_sub", iss, sub }, session: { format: "opaque", id: sid } }),
};

export interface SetOptions {
  /** The event: a CAEP name, or a full event-type URI (tests use unknown ones). */
  event: CaepEvent | string;
  subject: unknown;
  /** Event-specific members (`current_level`, `change_type`, …). */
  payload?: Record<string, unknown>;
  issuer?: string;
  audience?: string;
  jti?: string;
  /** Seconds since the epoch. */
  issuedAt?: number;
  /** Override the protected header (tests: another `typ`, `alg`, a `jwk`, …). */
  header?: Record<string, unknown>;
  key?: JWK;
  /** Extra top-level claims, or a whole replacement of `events`. */
  claims?: JWTPayload;
}

/** A SET signed with the dev transmitter's key (or `key`), SSF 1.0 style: subject in `sub_id`. */
export async function signSet(options: SetOptions): Promise<string> {
  const uri = options.event.startsWith("https://") ? options.event : `${CAEP_EVENT}${options.event}`;
  const jwk = options.key ?? SSF_TRANSMITTER_KEY;
  const alg = typeof options.header?.alg === "string" ? options.header.alg : "ES256";
  const key = await importJWK(jwk, alg);
  return new SignJWT({
    jti: options.jti ?? crypto.randomUUID(),
    sub_id: options.subject,
    events: { [uri]: { event_timestamp: Math.floor(Date.now() / 1000), ...options.payload } },
    ...options.claims,
  } as JWTPayload)
    .setProtectedHeader({ alg, typ: "secevent+jwt", kid: jwk.kid, ...options.header })
    .setIssuer(options.issuer ?? SSF_ORIGIN)
    .setAudience(options.audience ?? SSF_RECEIVER_AUDIENCE)
    .setIssuedAt(options.issuedAt ?? Math.floor(Date.now() / 1000))
    .sign(key);
}
