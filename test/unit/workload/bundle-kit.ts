/**
 * Test kit for signed bundles: pinned and unpinned Ed25519 keys, the seeded documents, and bundles
 * signed (or mis-signed) in every way the tests need. Web APIs only (runs in workerd).
 */
import { seedDocuments, type SeedFiles } from "../../../dev/seed-entries.ts";
import { type BundleSigner, DEV_SIGNING_JWK, importSigner, signBundle } from "../../../dev/signing/sign-bundle.ts";
import { base64, utf8 } from "../../../worker/lib/encoding.ts";
import { type BundleDocuments, pae, PAYLOAD_TYPE, type BundlePredicate } from "../../../worker/workload/bundle-format.ts";
import { importTrustedKeys, type TrustedKeys } from "../../../worker/workload/trusted-keys.ts";
import { seedFiles } from "../../support/seed.ts";

export interface TestKey {
  signer: BundleSigner;
  /** The public JWK, as it would be pinned. */
  jwk: JsonWebKey & { kid: string };
}

export async function newKey(kid: string): Promise<TestKey> {
  const pair = (await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"])) as CryptoKeyPair;
  const { kty, crv, x } = (await crypto.subtle.exportKey("jwk", pair.publicKey)) as JsonWebKey;
  return { signer: { keyid: kid, privateKey: pair.privateKey }, jwk: { kty, crv, x, kid } };
}

export async function devKey(): Promise<TestKey> {
  const { kid, kty, crv, x } = DEV_SIGNING_JWK;
  return { signer: await importSigner(DEV_SIGNING_JWK), jwk: { kid, kty, crv, x } };
}

export function pinnedText(...keys: TestKey[]): string {
  return JSON.stringify({ keys: keys.map((k) => k.jwk) });
}

export function pin(...keys: TestKey[]): Promise<TrustedKeys> {
  return importTrustedKeys(pinnedText(...keys));
}

export function documents(mutate?: (files: SeedFiles) => void): BundleDocuments {
  const files = seedFiles();
  mutate?.(files);
  return seedDocuments(files);
}

export function predicate(version: number): BundlePredicate {
  return { version, issuedAt: "2026-11-26T08:00:00.000Z" };
}

export async function signed(version: number, signers: BundleSigner[], docs = documents()): Promise<string> {
  return signBundle(docs, predicate(version), signers);
}

/** A bundle whose envelope carries `statement` (any JSON text) signed by `signer` under `keyid`. */
export async function signedStatement(statementText: string, docs: BundleDocuments, signer: BundleSigner, keyid = signer.keyid): Promise<string> {
  const payload = utf8(statementText);
  const sig = new Uint8Array(await crypto.subtle.sign("Ed25519", signer.privateKey, pae(PAYLOAD_TYPE, payload) as Uint8Array<ArrayBuffer>));
  return JSON.stringify({ documents: docs, envelope: { payloadType: PAYLOAD_TYPE, payload: base64(payload), signatures: [{ keyid, sig: base64(sig) }] } });
}

export type BundleJson = { documents: Record<string, unknown>; envelope: { payloadType: string; payload: string; signatures: Array<{ keyid?: string; sig: string }> } };

export function edit(text: string, change: (bundle: BundleJson) => void): string {
  const bundle = JSON.parse(text) as BundleJson;
  change(bundle);
  return JSON.stringify(bundle);
}

export function bytes(text: string): Uint8Array {
  return utf8(text);
}
