/**
 * The bundle signing keys the Worker trusts: the public halves pinned in its configuration
 * (`BUNDLE_TRUSTED_KEYS`, a JWK Set of Ed25519 keys with key ids). Several keys may be pinned at once
 * so that a new signing key can be rolled out before the old one is retired. Web APIs only.
 */
import { parseStrictJson } from "../lib/strict-json.ts";

export interface TrustedKey {
  kid: string;
  key: CryptoKey;
}

/** key id → imported verification key. */
export type TrustedKeys = ReadonlyMap<string, TrustedKey>;

/** A pinned key set that cannot be used: a deployment error, so every bundle is refused. */
export class TrustedKeysError extends TypeError {
  override readonly name = "TrustedKeysError";
}

const KID = /^[A-Za-z0-9._:-]{1,128}$/;
const ED25519_X = /^[A-Za-z0-9_-]{43}$/; // 32 bytes, base64url without padding

/** Parses and imports a JWK Set text; throws TrustedKeysError for anything but public Ed25519 keys with unique ids. */
export async function importTrustedKeys(jwksText: string): Promise<TrustedKeys> {
  let parsed: unknown;
  try {
    parsed = parseStrictJson(jwksText);
  } catch (cause) {
    throw new TrustedKeysError("BUNDLE_TRUSTED_KEYS is not a JSON object", { cause });
  }
  const keys = (parsed as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys)) throw new TrustedKeysError('BUNDLE_TRUSTED_KEYS must be a JWK Set: { "keys": [ … ] }');
  const out = new Map<string, TrustedKey>();
  for (const jwk of keys as unknown[]) {
    const { kty, crv, x, kid, d } = (jwk ?? {}) as Record<string, unknown>;
    if (typeof kid !== "string" || !KID.test(kid)) throw new TrustedKeysError("every pinned key needs a kid of 1 to 128 characters [A-Za-z0-9._:-]");
    if (out.has(kid)) throw new TrustedKeysError(`kid ${kid} is pinned twice`);
    if (d !== undefined) throw new TrustedKeysError(`pinned key ${kid} holds a private part; pin the public half only`);
    if (kty !== "OKP" || crv !== "Ed25519" || typeof x !== "string" || !ED25519_X.test(x)) {
      throw new TrustedKeysError(`pinned key ${kid} is not an Ed25519 public JWK (kty OKP, crv Ed25519, x)`);
    }
    const key = await crypto.subtle.importKey("jwk", { kty, crv, x }, { name: "Ed25519" }, false, ["verify"]);
    out.set(kid, { kid, key });
  }
  return out;
}
