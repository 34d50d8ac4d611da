/**
 * Verifies a signed configuration bundle (see bundle-format.ts) against the pinned keys, before any
 * of its documents is used. Every refusal has its own code so the audit record says exactly why.
 * Checks run cheapest first; documents are only digested once a pinned key has vouched for the
 * statement. Web APIs only.
 */
import { canonicalJson, NotJsonError } from "../lib/canonical-json.ts";
import { fromBase64, sha256Hex } from "../lib/encoding.ts";
import { DuplicateKeyError, parseStrictJson } from "../lib/strict-json.ts";
import {
  type BundleDocuments,
  type BundlePredicate,
  DOCUMENT_NAMES,
  type DocumentName,
  MAX_BUNDLE_BYTES,
  MAX_SIGNATURES,
  pae,
  PAYLOAD_TYPE,
  PREDICATE_TYPE,
  STATEMENT_TYPE,
} from "./bundle-format.ts";
import type { TrustedKeys } from "./trusted-keys.ts";

export type BundleRefusalCode =
  | "bundle_too_large"
  | "bundle_malformed"
  | "bundle_duplicate_key"
  | "bundle_unsigned"
  | "bundle_unknown_key"
  | "bundle_signature_invalid"
  | "bundle_statement_invalid"
  | "bundle_digest_mismatch"
  | "bundle_rollback";

export class BundleError extends Error {
  override readonly name = "BundleError";
  constructor(
    readonly code: BundleRefusalCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface VerifiedBundle extends BundlePredicate {
  /** The pinned key whose signature was accepted. */
  keyid: string;
  documents: BundleDocuments;
}

export interface VerifyOptions {
  /** Lowest version accepted (the pinned floor, or the version in force). */
  minVersion: number;
}

const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });
const HEX64 = /^[0-9a-f]{64}$/;
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** JSON text → value, refusing duplicate names; `what` names the part for the message. */
function parse(text: string, what: string): unknown {
  try {
    return parseStrictJson(text);
  } catch (cause) {
    if (cause instanceof DuplicateKeyError) throw new BundleError("bundle_duplicate_key", `${what} has a ${cause.message}`, { cause });
    throw new BundleError("bundle_malformed", `${what} is not valid JSON (truncated?)`, { cause });
  }
}

function decodeBase64(text: unknown, what: string): Uint8Array {
  if (typeof text !== "string") throw new BundleError("bundle_malformed", `${what} must be a base64 string`);
  try {
    return fromBase64(text);
  } catch (cause) {
    throw new BundleError("bundle_malformed", `${what} is not canonical padded base64`, { cause });
  }
}

/** Which pinned key signed `signingInput`; the DSSE keyid only narrows the candidates (an empty one tries all). */
async function acceptedSigner(signatures: unknown, signingInput: Uint8Array, keys: TrustedKeys): Promise<string> {
  if (!Array.isArray(signatures) || signatures.length === 0) throw new BundleError("bundle_unsigned", "the bundle carries no signature");
  if (signatures.length > MAX_SIGNATURES) throw new BundleError("bundle_malformed", `more than ${MAX_SIGNATURES} signatures`);
  let namedPinnedKey = false;
  for (const [i, entry] of signatures.entries()) {
    if (!isObject(entry)) throw new BundleError("bundle_malformed", `signature ${i} is not an object`);
    const keyid = entry.keyid ?? "";
    if (typeof keyid !== "string") throw new BundleError("bundle_malformed", `signature ${i} has a non-string keyid`);
    const sig = decodeBase64(entry.sig, `signature ${i}`);
    const candidates = keyid === "" ? [...keys.values()] : keys.has(keyid) ? [keys.get(keyid)!] : [];
    if (candidates.length > 0) namedPinnedKey = true;
    for (const candidate of candidates) {
      if (await crypto.subtle.verify("Ed25519", candidate.key, sig as Uint8Array<ArrayBuffer>, signingInput as Uint8Array<ArrayBuffer>)) return candidate.kid;
    }
  }
  if (!namedPinnedKey) {
    const named = signatures.map((s) => JSON.stringify((s as { keyid?: unknown }).keyid ?? "")).join(", ");
    throw new BundleError("bundle_unknown_key", `no signature is by a pinned key (key ids ${named})`);
  }
  throw new BundleError("bundle_signature_invalid", "no signature verifies under a pinned key: the payload or the signature was altered, or another key signed it");
}

function readStatement(payload: Uint8Array): { subjects: Map<DocumentName, string>; predicate: BundlePredicate } {
  let text: string;
  try {
    text = decoder.decode(payload);
  } catch (cause) {
    throw new BundleError("bundle_statement_invalid", "the payload is not UTF-8", { cause });
  }
  const statement = parse(text, "the signed statement");
  const invalid = (why: string) => new BundleError("bundle_statement_invalid", `the signed statement ${why}`);
  if (!isObject(statement) || statement._type !== STATEMENT_TYPE) throw invalid(`is not an in-toto ${STATEMENT_TYPE}`);
  if (statement.predicateType !== PREDICATE_TYPE) throw invalid(`has predicateType ${JSON.stringify(statement.predicateType)}, not ${PREDICATE_TYPE}`);
  const { predicate, subject } = statement;
  if (!isObject(predicate) || !Number.isSafeInteger(predicate.version) || (predicate.version as number) < 1) throw invalid("has no positive integer version");
  if (typeof predicate.issuedAt !== "string" || !RFC3339.test(predicate.issuedAt)) throw invalid("has no RFC 3339 issuedAt");
  if (!Array.isArray(subject)) throw invalid("has no subject list");
  const subjects = new Map<DocumentName, string>();
  for (const entry of subject as unknown[]) {
    const name = isObject(entry) ? entry.name : undefined;
    const digest = isObject(entry) && isObject(entry.digest) ? entry.digest.sha256 : undefined;
    if (!DOCUMENT_NAMES.includes(name as DocumentName) || subjects.has(name as DocumentName)) throw invalid(`names an unknown or repeated subject ${JSON.stringify(name)}`);
    if (typeof digest !== "string" || !HEX64.test(digest)) throw invalid(`has no sha256 digest for ${String(name)}`);
    subjects.set(name as DocumentName, digest);
  }
  if (subjects.size !== DOCUMENT_NAMES.length) throw invalid(`must name every document: ${DOCUMENT_NAMES.join(", ")}`);
  return { subjects, predicate: { version: predicate.version as number, issuedAt: predicate.issuedAt } };
}

/** Same digest as bundle-format's documentDigest, hashed natively (async) since the Worker pays for it. */
function canonicalForm(document: unknown, name: string): string {
  try {
    return canonicalJson(document);
  } catch (cause) {
    // JSON.parse admits lone surrogates ("\ud800"), which RFC 8785 cannot represent.
    if (cause instanceof NotJsonError) throw new BundleError("bundle_malformed", `document ${name} has no canonical form: ${cause.message}`, { cause });
    throw cause;
  }
}

/**
 * The bundle's documents, once a pinned key's signature over the statement verifies, the statement's
 * version is at least `minVersion`, and every document matches its subject digest. Throws
 * BundleError otherwise.
 */
export async function verifyBundle(bytes: Uint8Array, keys: TrustedKeys, options: VerifyOptions): Promise<VerifiedBundle> {
  if (bytes.length > MAX_BUNDLE_BYTES) throw new BundleError("bundle_too_large", `the bundle is ${bytes.length} bytes, over ${MAX_BUNDLE_BYTES}`);
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch (cause) {
    throw new BundleError("bundle_malformed", "the bundle is not UTF-8", { cause });
  }
  const bundle = parse(text, "the bundle");
  if (!isObject(bundle) || !isObject(bundle.documents) || !isObject(bundle.envelope)) {
    throw new BundleError("bundle_malformed", "the bundle must be { documents, envelope }");
  }
  const { documents, envelope } = bundle;
  if (envelope.payloadType !== PAYLOAD_TYPE) throw new BundleError("bundle_statement_invalid", `payloadType must be ${PAYLOAD_TYPE}`);
  const payload = decodeBase64(envelope.payload, "the payload");
  const keyid = await acceptedSigner(envelope.signatures, pae(PAYLOAD_TYPE, payload), keys);

  const { subjects, predicate } = readStatement(payload);
  if (predicate.version < options.minVersion) {
    throw new BundleError("bundle_rollback", `bundle version ${predicate.version} is older than ${options.minVersion}; versions only go forward`);
  }
  const names = Object.keys(documents);
  const extra = names.filter((name) => !DOCUMENT_NAMES.includes(name as DocumentName));
  if (extra.length > 0) throw new BundleError("bundle_digest_mismatch", `documents not covered by the signature: ${extra.join(", ")}`);
  for (const name of DOCUMENT_NAMES) {
    if (!(name in documents)) throw new BundleError("bundle_digest_mismatch", `document ${name} is missing`);
    if ((await sha256Hex(canonicalForm(documents[name], name))) !== subjects.get(name)) {
      throw new BundleError("bundle_digest_mismatch", `document ${name} does not match its signed digest`);
    }
  }
  return { ...predicate, keyid, documents: documents as BundleDocuments };
}
