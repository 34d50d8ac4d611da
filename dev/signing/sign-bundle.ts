/**
 * Signing a configuration bundle with Web Crypto (Ed25519). Used by `verity bundle sign` and the
 * seeds of the workerd tests; Web APIs only, so it runs in Node and in workerd.
 * The gateway itself never signs: it only verifies (worker/workload/bundle-verify.ts).
 */
import { type BundleDocuments, type BundlePredicate, sealBundle, unsignedBundle } from "../../worker/workload/bundle-format.ts";
import devKey from "./dev-bundle-key.json" with { type: "json" };

/** A private Ed25519 JWK with its key id, as `verity bundle keygen` writes it. */
export interface SigningJwk {
  kid: string;
  kty: string;
  crv: string;
  x: string;
  d: string;
}

export interface BundleSigner {
  keyid: string;
  privateKey: CryptoKey;
}

/** The TEST-ONLY development key (dev/signing/README.md); its public half is also in dev/signing/trusted-keys.json. */
export const DEV_SIGNING_JWK: SigningJwk = devKey;

export function publicJwk(jwk: SigningJwk): { kid: string; kty: string; crv: string; x: string } {
  return { kid: jwk.kid, kty: jwk.kty, crv: jwk.crv, x: jwk.x };
}

/**
 * `BUNDLE_TRUSTED_KEYS` for the local stack, the tests and the benchmarks: the dev key's public half.
 * wrangler.toml pins no key, so a deployment never trusts this one by accident.
 */
export const DEV_TRUSTED_KEYS = JSON.stringify({ keys: [publicJwk(DEV_SIGNING_JWK)] });

export async function importSigner(jwk: SigningJwk): Promise<BundleSigner> {
  if (jwk.kty !== "OKP" || jwk.crv !== "Ed25519" || typeof jwk.d !== "string" || typeof jwk.kid !== "string" || jwk.kid === "") {
    throw new TypeError("a signing key is a private Ed25519 JWK (kty OKP, crv Ed25519, d, x) with a kid");
  }
  const { kty, crv, x, d } = jwk;
  const privateKey = await crypto.subtle.importKey("jwk", { kty, crv, x, d }, { name: "Ed25519" }, false, ["sign"]);
  return { keyid: jwk.kid, privateKey };
}

/** The bundle's KV value, signed by every signer (several during a key rotation). */
export async function signBundle(documents: BundleDocuments, predicate: BundlePredicate, signers: readonly BundleSigner[]): Promise<string> {
  const unsigned = unsignedBundle(documents, predicate);
  const signatures = [];
  for (const signer of signers) {
    const signature = new Uint8Array(await crypto.subtle.sign("Ed25519", signer.privateKey, unsigned.signingInput as Uint8Array<ArrayBuffer>));
    signatures.push({ keyid: signer.keyid, signature });
  }
  return sealBundle(unsigned, signatures);
}
