/**
 * Verifies a Security Event Token (RFC 8417) pushed by a Shared Signals transmitter (SSF 1.0, push
 * delivery RFC 8935). Pure apart from the two functions it is given: the transmitter's key resolver
 * and the replay check (a hold on the jti that the caller settles or releases). Every refusal is a `SetRefusal` with the RFC 8935 error code the response
 * carries and a `reason` naming the rule that failed (tests assert both).
 */
import { decodeJwt, decodeProtectedHeader, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from "jose";
import type { Transmitter } from "../../workload/index.ts";

/** RFC 8935 §2.4 (IANA "Security Event Token Error Codes"). */
export type SetErrorCode = "invalid_request" | "invalid_key" | "invalid_issuer" | "invalid_audience" | "authentication_failed" | "access_denied";

export type SetRefusalReason =
  | "malformed"
  | "unsigned"
  | "algorithm"
  | "header_key"
  | "type"
  | "issuer"
  | "audience"
  | "signature"
  | "key_unknown"
  | "stale"
  | "claims"
  | "replayed"
  | "event_type"
  | "subject"
  | "tenant";

const CODE_OF: Record<SetRefusalReason, SetErrorCode> = {
  malformed: "invalid_request",
  unsigned: "authentication_failed",
  algorithm: "invalid_key",
  header_key: "invalid_key",
  type: "invalid_request",
  issuer: "invalid_issuer",
  audience: "invalid_audience",
  signature: "authentication_failed",
  key_unknown: "invalid_key",
  stale: "invalid_request",
  claims: "invalid_request",
  replayed: "invalid_request",
  event_type: "invalid_request",
  subject: "invalid_request",
  tenant: "access_denied",
};

export class SetRefusal extends Error {
  override readonly name = "SetRefusal";
  readonly err: SetErrorCode;

  constructor(
    readonly reason: SetRefusalReason,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.err = CODE_OF[reason];
  }
}

const CAEP = "https://schemas.openid.net/secevent/caep/event-type/";
const SSF = "https://schemas.openid.net/secevent/ssf/event-type/";

/** The event types this receiver acts on; any other is refused (it would be silently ignored otherwise). */
export const EVENT_TYPES = {
  [`${CAEP}session-revoked`]: "session-revoked",
  [`${CAEP}credential-change`]: "credential-change",
  [`${CAEP}token-claims-change`]: "token-claims-change",
  [`${CAEP}assurance-level-change`]: "assurance-level-change",
  [`${CAEP}risk-level-change`]: "risk-level-change",
  // SSF 1.0 §8.1.4: a transmitter checks the stream works; accepted, nothing to do.
  [`${SSF}verification`]: "verification",
} as const;
export type EventName = (typeof EVENT_TYPES)[keyof typeof EVENT_TYPES];

export const SET_TYPE = "secevent+jwt";
export const DEFAULT_MAX_EVENT_AGE_SECONDS = 300;
export const CLOCK_SKEW_SECONDS = 60;
/** A SET is a few hundred bytes; 64 KiB is generous and bounds the work an unauthenticated body can cause. */
export const MAX_SET_CHARS = 64 * 1024;

export interface VerifiedSet {
  transmitter: Transmitter;
  jti: string;
  issuedAt: number;
  eventUri: string;
  event: EventName;
  /** The event's own members (`subject` removed), as sent. */
  payload: Record<string, unknown>;
  /** SSF 1.0 `sub_id`, or the event's legacy `subject`. */
  subject: unknown;
  /** This delivery's hold on the jti: `settle` once the event is in force, `release` if it is not. */
  claim: HeldJti;
}

/** The jti is this delivery's to apply; exactly one of the two must follow. */
export interface HeldJti {
  state: "first";
  /** The event is in force: later deliveries are replays. False if the hold had lapsed meanwhile. */
  settle(): Promise<boolean>;
  /** The event was not applied: the next delivery is taken as new. */
  release(): Promise<void>;
}

/** The replay check's answer: held by this delivery, held by another one right now, or applied before. */
export type JtiClaim = HeldJti | { state: "pending" } | { state: "seen" };

export interface SetVerifier {
  /** The transmitter's signing keys (its JWKS through the identity plane's key-set cache). */
  keys(transmitter: Transmitter): JWTVerifyGetKey;
  /** Holds a transmitter's jti for this delivery (see JtiClaim); throws when it cannot tell. */
  claim(transmitter: Transmitter, jti: string, keepUntil: number): Promise<JtiClaim>;
  now(): number;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The transmitter the unverified `iss` names; only its keys and rules are then used. */
function transmitterFor(token: string, transmitters: readonly Transmitter[]): Transmitter {
  let claims: JWTPayload;
  try {
    claims = decodeJwt(token);
  } catch (cause) {
    throw new SetRefusal("malformed", "the body is not a signed JWT", { cause });
  }
  const transmitter = transmitters.find((t) => t.issuer === claims.iss);
  if (!transmitter) throw new SetRefusal("issuer", "the SET's issuer is not a trusted transmitter");
  return transmitter;
}

function checkHeader(token: string, transmitter: Transmitter): void {
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(token);
  } catch (cause) {
    throw new SetRefusal("malformed", "the SET's header cannot be read", { cause });
  }
  if (typeof header.alg !== "string" || header.alg.toLowerCase() === "none") throw new SetRefusal("unsigned", "the SET is not signed");
  if (!transmitter.algorithms.includes(header.alg)) throw new SetRefusal("algorithm", `the algorithm ${header.alg} is not accepted from this transmitter`);
  // Keys come from the transmitter's configured JWKS only, never from the token itself.
  if (["jku", "jwk", "x5u", "x5c"].some((member) => member in header) || header.crit !== undefined) {
    throw new SetRefusal("header_key", "the SET names its own key or critical extensions");
  }
  const typ = typeof header.typ === "string" ? header.typ.toLowerCase().replace(/^application\//, "") : "";
  if (typ !== SET_TYPE) throw new SetRefusal("type", `the SET's typ must be ${SET_TYPE} (RFC 8417 §2.3)`);
}

/** The receiver could not check the SET (replay cache down, or another delivery of it in progress): not the transmitter's fault, so a 5xx. */
export class SetCheckUnavailable extends Error {
  override readonly name = "SetCheckUnavailable";
}

function refusalOf(error: unknown): SetRefusal | SetCheckUnavailable {
  if (error instanceof SetRefusal || error instanceof SetCheckUnavailable) return error;
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === "aud") return new SetRefusal("audience", "the SET is not addressed to this receiver", { cause: error });
    if (error.claim === "iss") return new SetRefusal("issuer", "the SET's issuer is not a trusted transmitter", { cause: error });
    return new SetRefusal("claims", `the SET's ${error.claim} claim is not acceptable`, { cause: error });
  }
  if (error instanceof errors.JWTExpired) return new SetRefusal("stale", "the SET has expired", { cause: error });
  if (error instanceof errors.JWKSNoMatchingKey) return new SetRefusal("key_unknown", "no key of the transmitter matches the SET", { cause: error });
  if (error instanceof errors.JOSEAlgNotAllowed) return new SetRefusal("algorithm", "the SET's algorithm is not accepted", { cause: error });
  if (error instanceof errors.JWSSignatureVerificationFailed) return new SetRefusal("signature", "the SET's signature does not verify", { cause: error });
  if (error instanceof errors.JWSInvalid || error instanceof errors.JWTInvalid) return new SetRefusal("malformed", "the body is not a valid signed JWT", { cause: error });
  // Keys unavailable or anything unexpected: the transmitter could not be authenticated.
  return new SetRefusal("signature", "the SET could not be verified", { cause: error });
}

/**
 * Verifies one SET: the transmitter its `iss` names, that transmitter's algorithms and keys, `typ`,
 * `aud`, freshness of `iat`, one known event, then the replay check (only after the signature, so a
 * forged token cannot burn a real jti).
 */
export async function verifySet(token: string, transmitters: readonly Transmitter[], verifier: SetVerifier): Promise<VerifiedSet> {
  try {
    if (token.length > MAX_SET_CHARS) throw new SetRefusal("malformed", "the SET is too large");
    const transmitter = transmitterFor(token, transmitters);
    checkHeader(token, transmitter);
    const nowSeconds = Math.floor(verifier.now() / 1000);
    const { payload } = await jwtVerify(token, verifier.keys(transmitter), {
      issuer: transmitter.issuer,
      audience: transmitter.audience,
      algorithms: transmitter.algorithms,
      typ: SET_TYPE,
      requiredClaims: ["iat", "jti"],
      currentDate: new Date(nowSeconds * 1000),
      clockTolerance: CLOCK_SKEW_SECONDS,
    });
    const maxAge = transmitter.maxEventAgeSeconds ?? DEFAULT_MAX_EVENT_AGE_SECONDS;
    const iat = payload.iat!;
    if (iat > nowSeconds + CLOCK_SKEW_SECONDS) throw new SetRefusal("stale", "the SET is issued in the future");
    if (nowSeconds - iat > maxAge + CLOCK_SKEW_SECONDS) throw new SetRefusal("stale", "the SET is too old");
    const jti = payload.jti!;
    if (jti.length === 0 || jti.length > 256) throw new SetRefusal("claims", "the SET's jti must be 1–256 characters");
    const events = payload.events;
    if (!isObject(events)) throw new SetRefusal("claims", "the SET has no events claim");
    const uris = Object.keys(events);
    // SSF 1.0 §4.1: exactly one event per SET.
    if (uris.length !== 1) throw new SetRefusal("claims", "the SET must carry exactly one event");
    const eventUri = uris[0]!;
    const event = (EVENT_TYPES as Record<string, EventName>)[eventUri];
    if (event === undefined) throw new SetRefusal("event_type", "the event type is not one this receiver acts on");
    const body = events[eventUri];
    if (!isObject(body)) throw new SetRefusal("claims", "the event's payload is not an object");
    const { subject: legacySubject, ...eventPayload } = body;
    let claim: JtiClaim;
    try {
      claim = await verifier.claim(transmitter, jti, iat + maxAge + CLOCK_SKEW_SECONDS);
    } catch (cause) {
      throw new SetCheckUnavailable("the SET could not be checked for replay", { cause });
    }
    if (claim.state === "seen") throw new SetRefusal("replayed", "this SET (jti) has been received before");
    // Not a refusal: if that delivery fails, this SET must still be applied, so the transmitter retries.
    if (claim.state === "pending") throw new SetCheckUnavailable("another delivery of this SET is being applied");
    return { transmitter, jti, issuedAt: iat, eventUri, event, payload: eventPayload, subject: payload.sub_id ?? legacySubject, claim };
  } catch (error) {
    throw refusalOf(error);
  }
}
