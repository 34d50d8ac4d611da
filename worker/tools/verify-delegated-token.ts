/**
 * For tool owners: checks a delegated token the gateway sent with a tool call. Web APIs and jose
 * only, so it runs in a Worker and in Node alike (dev/tools.ts uses it). Usage:
 *
 *   const keys = createRemoteJWKSet(new URL("https://gateway.example/.well-known/jwks.json"));
 *   const replay = memoryReplayStore();            // or one shared by every instance of the tool
 *   const claims = await verifyDelegatedToken(token, {
 *     keys, issuer: "https://gateway.example", audience: "urn:verity:tool:send_email",
 *     tool: "send_email", body: rawRequestBody, replay,
 *   });
 *
 * Checks, in order, each with its own `DelegatedTokenError` code: the signature (EdDSA only, a key
 * of the JWKS), `typ`, `iss`, a single `aud`, `exp`/`iat` (a life of at most 60 s, not issued in the
 * future), the claims every token has, `tool`, the SHA-256 of the received body against
 * `args_sha256`, and last the `jti` (so a token refused for another reason does not use it up).
 */
import { errors as joseErrors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from "jose";
import { canonicalJson } from "../lib/canonical-json.ts";
import { base64url, sha256 } from "../lib/encoding.ts";
import { parseStrictJson } from "../lib/strict-json.ts";
import { DELEGATED_TOKEN_LIFE_S, DELEGATED_TOKEN_TYPE, type DelegatedTokenClaims } from "./delegated-token-claims.ts";

export type DelegatedTokenErrorCode =
  | "token_malformed"
  | "signature_invalid"
  | "key_unavailable"
  | "type_invalid"
  | "issuer_invalid"
  | "audience_invalid"
  | "token_expired"
  | "token_not_yet_valid"
  | "lifetime_too_long"
  | "claim_missing"
  | "tool_mismatch"
  | "arguments_invalid"
  | "arguments_mismatch"
  | "token_replayed";

export class DelegatedTokenError extends Error {
  override readonly name = "DelegatedTokenError";
  constructor(
    readonly code: DelegatedTokenErrorCode,
    message: string,
    options: { cause?: unknown } = {},
  ) {
    super(message, options);
  }
}

/** Remembers token ids until they expire; `claim` answers false for an id it has already seen. */
export interface ReplayStore {
  claim(jti: string, expiresAtS: number): boolean | Promise<boolean>;
}

/** A replay store for one process; expired ids are swept on each claim. */
export function memoryReplayStore(now: () => number = Date.now): ReplayStore {
  const seen = new Map<string, number>();
  return {
    claim(jti, expiresAtS) {
      const nowS = Math.floor(now() / 1000);
      for (const [id, until] of seen) if (until < nowS) seen.delete(id);
      if (seen.has(jti)) return false;
      seen.set(jti, expiresAtS);
      return true;
    },
  };
}

export interface VerifyDelegatedTokenOptions {
  /** The gateway's keys, e.g. `createRemoteJWKSet(new URL(<gateway>/.well-known/jwks.json))`. */
  keys: JWTVerifyGetKey;
  /** The gateway's issuer identifier (its `GATEWAY_ISSUER`). */
  issuer: string;
  /** This tool's audience, as registered at the gateway. */
  audience: string;
  /** This tool's registry id; when given, the token's `tool` must equal it. */
  tool?: string;
  /** The request body exactly as received: the JSON arguments the token was issued for. */
  body: string | Uint8Array;
  replay: ReplayStore;
  /** Epoch milliseconds (tests freeze time). */
  now?: () => number;
  /** Clock skew allowed on `exp` and `iat`, seconds (default 5). */
  clockToleranceS?: number;
}

const REQUIRED_CLAIMS = ["iss", "sub", "aud", "iat", "exp", "jti", "tenant", "tool", "scope", "args_sha256"] as const;

function joseRefusal(error: unknown): DelegatedTokenError {
  const fail = (code: DelegatedTokenErrorCode, message: string) => new DelegatedTokenError(code, message, { cause: error });
  if (error instanceof joseErrors.JWTExpired) return fail("token_expired", "the token has expired");
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    switch (error.claim) {
      case "iss":
        return fail("issuer_invalid", "the token was not issued by the expected gateway");
      case "aud":
        return fail("audience_invalid", "the token is not for this tool");
      case "typ":
        return fail("type_invalid", `the token's typ is not ${DELEGATED_TOKEN_TYPE}`);
      case "nbf":
      case "iat":
        return fail("token_not_yet_valid", "the token is not valid yet");
      default:
        return fail("claim_missing", `the token's "${error.claim}" claim is missing or malformed`);
    }
  }
  if (error instanceof joseErrors.JWKSTimeout || (error instanceof Error && !(error instanceof joseErrors.JOSEError))) {
    return fail("key_unavailable", "the gateway's keys could not be fetched");
  }
  if (error instanceof joseErrors.JWSInvalid || error instanceof joseErrors.JWTInvalid) return fail("token_malformed", "the token is not a well-formed JWS");
  // Bad signature, an algorithm other than EdDSA, a kid the gateway does not publish.
  return fail("signature_invalid", "the token's signature does not verify with the gateway's keys");
}

async function argumentsDigest(body: string | Uint8Array): Promise<string> {
  try {
    const text = typeof body === "string" ? body : new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(body);
    return base64url(await sha256(canonicalJson(parseStrictJson(text))));
  } catch (cause) {
    throw new DelegatedTokenError("arguments_invalid", "the request body is not the JSON arguments of a tool call", { cause });
  }
}

export async function verifyDelegatedToken(token: string, options: VerifyDelegatedTokenOptions): Promise<DelegatedTokenClaims> {
  const now = options.now ?? Date.now;
  const tolerance = options.clockToleranceS ?? 5;
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, options.keys, {
      algorithms: ["EdDSA"],
      typ: DELEGATED_TOKEN_TYPE,
      issuer: options.issuer,
      audience: options.audience,
      currentDate: new Date(now()),
      clockTolerance: tolerance,
      requiredClaims: [...REQUIRED_CLAIMS],
    }));
  } catch (error) {
    throw joseRefusal(error);
  }
  for (const name of ["iss", "sub", "aud", "jti", "tenant", "tool", "scope", "args_sha256"] as const) {
    if (typeof payload[name] !== "string" || payload[name] === "") {
      // A list of audiences included: a delegated token is for exactly one tool.
      throw new DelegatedTokenError(name === "aud" ? "audience_invalid" : "claim_missing", `the token's "${name}" claim must be a non-empty string`);
    }
  }
  const claims = payload as unknown as DelegatedTokenClaims;
  const nowS = Math.floor(now() / 1000);
  if (claims.iat > nowS + tolerance) throw new DelegatedTokenError("token_not_yet_valid", "the token was issued in the future");
  if (claims.exp - claims.iat > DELEGATED_TOKEN_LIFE_S) {
    throw new DelegatedTokenError("lifetime_too_long", `the token lives longer than ${DELEGATED_TOKEN_LIFE_S} seconds`);
  }
  if (options.tool !== undefined && claims.tool !== options.tool) throw new DelegatedTokenError("tool_mismatch", "the token is for another tool");
  if ((await argumentsDigest(options.body)) !== claims.args_sha256) {
    throw new DelegatedTokenError("arguments_mismatch", "the arguments differ from those the token was issued for");
  }
  if (!(await options.replay.claim(claims.jti, claims.exp + tolerance))) throw new DelegatedTokenError("token_replayed", "the token has been used before");
  return claims;
}
