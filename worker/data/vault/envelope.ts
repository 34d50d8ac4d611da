/**
 * Envelope encryption, pure WebCrypto: a payload is sealed with AES-256-GCM under its data subject's
 * data key (DEK); the DEK is stored only wrapped (AES-256-GCM) by the tenant's KEK. Both seals bind
 * their context as additional authenticated data, so a ciphertext moved to another tenant, subject or
 * payload id — or a wrapped key moved to another subject — fails to open instead of decrypting.
 *
 * Layout of a seal: 12-byte random IV ‖ ciphertext ‖ 16-byte tag. A random 96-bit IV per seal is
 * safe far beyond any one subject's volume (NIST SP 800-38D §8.3: at most 2^32 seals per key).
 */
import { canonicalJson } from "../../lib/canonical-json.ts";
import { utf8 } from "../../lib/encoding.ts";
import { VaultError } from "./errors.ts";
import type { Kek } from "./keys.ts";

const IV_BYTES = 12;
const TAG_BYTES = 16;
export const DEK_BYTES = 32;
/** What a seal adds to its plaintext. */
export const SEAL_OVERHEAD = IV_BYTES + TAG_BYTES;

/** Where a wrapped data key belongs. */
export interface DataKeyContext {
  tenant: string;
  subject: string;
  dekId: string;
  kekId: string;
}

/** Where a sealed payload belongs. */
export interface PayloadContext {
  tenant: string;
  subject: string;
  payloadId: string;
  kind: string;
  dekId: string;
}

function aad(tag: string, context: DataKeyContext | PayloadContext): Uint8Array<ArrayBuffer> {
  return utf8(canonicalJson({ v: tag, ...context })) as Uint8Array<ArrayBuffer>;
}

async function seal(key: CryptoKey, plaintext: Uint8Array, additionalData: Uint8Array<ArrayBuffer>): Promise<Uint8Array> {
  const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
  const ciphertext = await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData, tagLength: TAG_BYTES * 8 }, key, plaintext as Uint8Array<ArrayBuffer>);
  const out = new Uint8Array(IV_BYTES + ciphertext.byteLength);
  out.set(iv);
  out.set(new Uint8Array(ciphertext), IV_BYTES);
  return out;
}

async function open(key: CryptoKey, sealed: Uint8Array, additionalData: Uint8Array<ArrayBuffer>, what: string): Promise<Uint8Array> {
  if (sealed.length < SEAL_OVERHEAD) throw new VaultError("integrity", `${what} is too short to be a seal`);
  try {
    const plaintext = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: sealed.slice(0, IV_BYTES), additionalData, tagLength: TAG_BYTES * 8 },
      key,
      sealed.slice(IV_BYTES),
    );
    return new Uint8Array(plaintext);
  } catch (cause) {
    throw new VaultError("integrity", `${what} does not open: it, its key or its context was altered`, { cause });
  }
}

/** A fresh random data key, as raw bytes (only ever stored wrapped). */
export function generateDataKey(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(DEK_BYTES));
}

export function importDataKey(raw: Uint8Array): Promise<CryptoKey> {
  return crypto.subtle.importKey("raw", raw as Uint8Array<ArrayBuffer>, "AES-GCM", false, ["encrypt", "decrypt"]);
}

export function wrapDataKey(kek: Kek, raw: Uint8Array, context: DataKeyContext): Promise<Uint8Array> {
  return seal(kek.key, raw, aad("verity-vault/dek/v1", context));
}

export async function unwrapDataKey(kek: Kek, wrapped: Uint8Array, context: DataKeyContext): Promise<Uint8Array> {
  const raw = await open(kek.key, wrapped, aad("verity-vault/dek/v1", context), `data key ${context.dekId}`);
  if (raw.length !== DEK_BYTES) throw new VaultError("integrity", `data key ${context.dekId} has ${raw.length} bytes`);
  return raw;
}

export function sealPayload(dek: CryptoKey, plaintext: Uint8Array, context: PayloadContext): Promise<Uint8Array> {
  return seal(dek, plaintext, aad("verity-vault/payload/v1", context));
}

export function openPayload(dek: CryptoKey, sealed: Uint8Array, context: PayloadContext): Promise<Uint8Array> {
  return open(dek, sealed, aad("verity-vault/payload/v1", context), `payload ${context.payloadId}`);
}
