/**
 * The signed configuration bundle: what the gateway trusts (registry, policy bundle, entity seed) as
 * one KV value, with a DSSE envelope whose payload is an in-toto Statement v1. Each document is a
 * subject, named and digested (SHA-256 over its RFC 8785 canonical JSON); the predicate carries the
 * bundle's version, which only goes forward. Shared by the verifier (the Worker), the signers (CLI,
 * dev seeds, tests) and `verity bundle verify`. Pure, Web APIs only.
 *
 *   { "documents": { "registry": {…}, "policy": {…}, "entities": […] },
 *     "envelope":  { "payloadType": "application/vnd.in-toto+json", "payload": "<base64>",
 *                    "signatures": [{ "keyid": "<kid>", "sig": "<base64 Ed25519>" }] } }
 */
import { canonicalJson, type JsonValue } from "../lib/canonical-json.ts";
import { base64, utf8 } from "../lib/encoding.ts";
import { sha256HexSync } from "../lib/sha256-sync.ts";

/** The one KV key the gateway reads; one value, so KV's per-key consistency never mixes versions. */
export const BUNDLE_KEY = "config/bundle";
export const PAYLOAD_TYPE = "application/vnd.in-toto+json";
export const STATEMENT_TYPE = "https://in-toto.io/Statement/v1";
export const PREDICATE_TYPE = "https://verity.dev/config-bundle/v1";
export const DOCUMENT_NAMES = ["registry", "policy", "entities"] as const;

/**
 * Largest bundle accepted, in bytes. KV values may be 25 MiB; verification holds about five copies
 * (the bytes, the text, the parsed value, each document's canonical form, the decoded payload), so
 * 4 MiB × 5 = 20 MiB stays well inside an isolate's 128 MB. The seeded bundle is about 40 KB.
 */
export const MAX_BUNDLE_BYTES = 4 * 1024 * 1024;
/** More signatures than rotation needs (old key + new key) only buys an attacker verification work. */
export const MAX_SIGNATURES = 8;

export type DocumentName = (typeof DOCUMENT_NAMES)[number];
export type BundleDocuments = Record<DocumentName, JsonValue>;

export interface Signature {
  keyid: string;
  sig: string;
}

export interface Envelope {
  payloadType: string;
  payload: string;
  signatures: Signature[];
}

export interface SignedBundle {
  documents: BundleDocuments;
  envelope: Envelope;
}

export interface BundlePredicate {
  /** Positive safe integer; a bundle older than the one in force (or the pinned floor) is refused. */
  version: number;
  /** RFC 3339; informational (the version, not the time, orders bundles). */
  issuedAt: string;
}

export interface ConfigStatement {
  _type: typeof STATEMENT_TYPE;
  subject: Array<{ name: DocumentName; digest: { sha256: string } }>;
  predicateType: typeof PREDICATE_TYPE;
  predicate: BundlePredicate;
}

/** DSSE pre-authentication encoding: "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body, lengths in bytes. */
export function pae(payloadType: string, payload: Uint8Array): Uint8Array {
  const type = utf8(payloadType);
  const head = utf8(`DSSEv1 ${type.length} ${payloadType} ${payload.length} `);
  const out = new Uint8Array(head.length + payload.length);
  out.set(head);
  out.set(payload, head.length);
  return out;
}

/** The digest a subject carries for a document: SHA-256 (hex) over its RFC 8785 form. */
export function documentDigest(document: JsonValue): string {
  return sha256HexSync(canonicalJson(document));
}

export function configStatement(documents: BundleDocuments, predicate: BundlePredicate): ConfigStatement {
  return {
    _type: STATEMENT_TYPE,
    subject: DOCUMENT_NAMES.map((name) => ({ name, digest: { sha256: documentDigest(documents[name]) } })),
    predicateType: PREDICATE_TYPE,
    predicate,
  };
}

/** What a signer signs: the statement's bytes (canonical JSON) and their pre-authentication encoding. */
export interface UnsignedBundle {
  documents: BundleDocuments;
  payload: Uint8Array;
  signingInput: Uint8Array;
}

export function unsignedBundle(documents: BundleDocuments, predicate: BundlePredicate): UnsignedBundle {
  if (!Number.isSafeInteger(predicate.version) || predicate.version < 1) throw new RangeError("a bundle version is a positive safe integer");
  const payload = utf8(canonicalJson(configStatement(documents, predicate)));
  return { documents, payload, signingInput: pae(PAYLOAD_TYPE, payload) };
}

/** The KV value: the documents and the envelope with the given raw signatures. */
export function sealBundle(unsigned: UnsignedBundle, signatures: ReadonlyArray<{ keyid: string; signature: Uint8Array }>): string {
  const bundle: SignedBundle = {
    documents: unsigned.documents,
    envelope: {
      payloadType: PAYLOAD_TYPE,
      payload: base64(unsigned.payload),
      signatures: signatures.map(({ keyid, signature }) => ({ keyid, sig: base64(signature) })),
    },
  };
  return JSON.stringify(bundle);
}
