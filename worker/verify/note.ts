/**
 * C2SP signed notes (c2sp.org/signed-note, v1.0.0) with Ed25519 signatures: the envelope of audit
 * checkpoints. Web APIs only, so the gateway (workerd) and the CLI (Node) share one implementation.
 *
 *   <text ending in \n>\n
 *   — <key name> base64(4-byte key ID ‖ 64-byte Ed25519 signature over the text)\n   (one or more)
 *
 * Key ID = SHA-256(key name ‖ 0x0A ‖ 0x01 ‖ 32-byte public key)[:4]. A verifier key travels in the
 * `vkey` form `<name>+<key ID hex>+base64(0x01 ‖ public key)`, as Go's `golang.org/x/mod/sumdb/note`
 * and the transparency-dev tools print it.
 */
import { base64, fromBase64, sha256, toHex, utf8 } from "../lib/encoding.ts";
import { AuditError } from "./errors.ts";

/** Signature type byte for plain Ed25519 (signed-note §Signature types). */
const ED25519_TYPE = 0x01;
const ED25519_PUBLIC_BYTES = 32;
const ED25519_SIGNATURE_BYTES = 64;
const KEY_ID_BYTES = 4;
/**
 * Signatures read per note. The spec asks verifiers to accept at least 16; a gateway note carries
 * one per signing key in the overlap window (normally one, two while rotating).
 */
export const MAX_NOTE_SIGNATURES = 16;
/** Notes this long are refused before parsing: a checkpoint is < 200 bytes plus ~130 per signature. */
export const MAX_NOTE_BYTES = 16 * 1024;

const SIGNATURE_PREFIX = "\u2014 ";

export interface NoteVerifier {
  name: string;
  /** Key ID as an unsigned 32-bit integer. */
  keyId: number;
  /** 32-byte Ed25519 public key. */
  publicKey: Uint8Array;
}

export interface NoteSignature {
  name: string;
  keyId: number;
  /** The signature bytes after the key ID. */
  signature: Uint8Array;
}

export interface ParsedNote {
  /** The signed text, final newline included. */
  text: string;
  signatures: NoteSignature[];
}

/** Strict padded standard base64, or undefined (a malformed signature is refused, not thrown). */
function decodeBase64(text: string): Uint8Array | undefined {
  try {
    return fromBase64(text);
  } catch {
    return undefined;
  }
}

/** Key names: non-empty, no Unicode space, no `+` (signed-note §Format). */
export function isKeyName(name: string): boolean {
  return name.length > 0 && !/[\s+\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/u.test(name) && !hasControl(name);
}

function hasControl(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x20 && code !== 0x0a) return true;
  }
  return false;
}

export async function ed25519KeyId(name: string, publicKey: Uint8Array): Promise<number> {
  const nameBytes = utf8(name);
  const input = new Uint8Array(nameBytes.length + 2 + publicKey.length);
  input.set(nameBytes, 0);
  input[nameBytes.length] = 0x0a;
  input[nameBytes.length + 1] = ED25519_TYPE;
  input.set(publicKey, nameBytes.length + 2);
  const digest = await sha256(input);
  return new DataView(digest.buffer, digest.byteOffset, KEY_ID_BYTES).getUint32(0, false);
}

/** `<name>+<key ID hex>+base64(0x01 ‖ public key)`. */
export async function verifierKeyString(name: string, publicKey: Uint8Array): Promise<string> {
  if (!isKeyName(name)) throw new TypeError(`not a signed-note key name: ${JSON.stringify(name)}`);
  if (publicKey.length !== ED25519_PUBLIC_BYTES) throw new TypeError("an Ed25519 public key is 32 bytes");
  const typed = new Uint8Array(1 + ED25519_PUBLIC_BYTES);
  typed[0] = ED25519_TYPE;
  typed.set(publicKey, 1);
  const id = keyIdHex(await ed25519KeyId(name, publicKey));
  return `${name}+${id}+${base64(typed)}`;
}

/**
 * Reads a `vkey` string. Refuses (`invalid_key`) another signature type, a wrong length and a key ID
 * that is not the one the name and key determine (a vkey is configuration: a mismatch is an error).
 */
export async function parseVerifierKey(vkey: string): Promise<NoteVerifier> {
  // The first two "+" split it: names hold none, but base64 may.
  const text = vkey.trim();
  const first = text.indexOf("+");
  const second = first < 0 ? -1 : text.indexOf("+", first + 1);
  const [name, idHex, keyText] = [text.slice(0, first), text.slice(first + 1, second), text.slice(second + 1)];
  if (second < 0 || !isKeyName(name) || !/^[0-9a-f]{8}$/.test(idHex)) {
    throw new AuditError("invalid_key", "a verifier key reads <name>+<8 hex digits>+<base64 key>");
  }
  const typed = decodeBase64(keyText);
  if (typed === undefined || typed.length !== 1 + ED25519_PUBLIC_BYTES || typed[0] !== ED25519_TYPE) {
    throw new AuditError("invalid_key", `verifier key ${name} is not an Ed25519 (type 0x01) key`);
  }
  const publicKey = typed.slice(1);
  const keyId = await ed25519KeyId(name, publicKey);
  if (keyId !== Number.parseInt(idHex, 16)) throw new AuditError("invalid_key", `verifier key ${name}: key ID ${idHex} does not match the key`);
  return { name, keyId, publicKey };
}

/**
 * Splits a note into text and signature lines. The text ends at the last blank line (signed-note
 * §Format); every line after it must be a well-formed signature line.
 */
export function parseNote(note: string): ParsedNote {
  if (utf8(note).length > MAX_NOTE_BYTES) throw new AuditError("invalid_note", `a note may hold at most ${MAX_NOTE_BYTES} bytes`);
  if (hasControl(note)) throw new AuditError("invalid_note", "a note must not contain control characters other than newline");
  if (!note.endsWith("\n")) throw new AuditError("invalid_note", "a note ends with a newline");
  const split = note.lastIndexOf("\n\n");
  if (split < 0) throw new AuditError("invalid_note", "a note has no blank line before its signatures");
  const text = note.slice(0, split + 1);
  const lines = note.slice(split + 2, -1).split("\n");
  if (lines.length > MAX_NOTE_SIGNATURES) throw new AuditError("invalid_note", `a note may carry at most ${MAX_NOTE_SIGNATURES} signatures`);
  const signatures = lines.map((line): NoteSignature => {
    if (!line.startsWith(SIGNATURE_PREFIX)) throw new AuditError("invalid_note", "a signature line starts with an em dash and a space");
    const rest = line.slice(SIGNATURE_PREFIX.length);
    const space = rest.indexOf(" ");
    const name = rest.slice(0, space);
    const bytes = space > 0 ? decodeBase64(rest.slice(space + 1)) : undefined;
    if (!isKeyName(name) || bytes === undefined || bytes.length <= KEY_ID_BYTES) {
      throw new AuditError("invalid_note", "a signature line reads \u2014 <key name> <base64 key ID and signature>");
    }
    const keyId = new DataView(bytes.buffer, bytes.byteOffset, KEY_ID_BYTES).getUint32(0, false);
    return { name, keyId, signature: bytes.slice(KEY_ID_BYTES) };
  });
  return { text, signatures };
}

/** One signature line for `text`, made by the caller's signer (the key ring holds the private keys). */
export function signatureLine(name: string, keyId: number, signature: Uint8Array): string {
  const bytes = new Uint8Array(KEY_ID_BYTES + signature.length);
  new DataView(bytes.buffer).setUint32(0, keyId, false);
  bytes.set(signature, KEY_ID_BYTES);
  return `${SIGNATURE_PREFIX}${name} ${base64(bytes)}\n`;
}

/** The note: text (which must end in a newline), a blank line, the signature lines. */
export function formatNote(text: string, signatureLines: readonly string[]): string {
  if (!text.endsWith("\n") || hasControl(text)) throw new TypeError("note text must end with a newline and hold no control characters");
  if (signatureLines.length === 0) throw new TypeError("a signed note needs at least one signature");
  return `${text}\n${signatureLines.join("")}`;
}

export interface VerifiedNote {
  text: string;
  /** The known keys whose signatures verified, as `<name>+<key ID hex>`. */
  verifiedBy: string[];
}

async function importVerifier(publicKey: Uint8Array): Promise<CryptoKey> {
  return crypto.subtle.importKey("raw", publicKey as Uint8Array<ArrayBuffer>, { name: "Ed25519" }, false, ["verify"]);
}

/**
 * Verifies `note` against `known` keys (signed-note §Signatures): signatures of unknown keys are
 * ignored; a known key's signature that fails is `invalid_signature` (the whole note is rejected);
 * no verified known signature at all is `unknown_signer`.
 */
export async function verifyNote(note: string, known: readonly NoteVerifier[]): Promise<VerifiedNote> {
  const { text, signatures } = parseNote(note);
  const message = utf8(text);
  const verifiedBy: string[] = [];
  for (const sig of signatures) {
    const key = known.find((k) => k.name === sig.name && k.keyId === sig.keyId);
    if (key === undefined) continue;
    const label = `${key.name}+${keyIdHex(sig.keyId)}`;
    const ok =
      sig.signature.length === ED25519_SIGNATURE_BYTES &&
      (await crypto.subtle.verify({ name: "Ed25519" }, await importVerifier(key.publicKey), sig.signature as Uint8Array<ArrayBuffer>, message as Uint8Array<ArrayBuffer>));
    if (!ok) throw new AuditError("invalid_signature", `the signature by ${label} does not verify`);
    verifiedBy.push(label);
  }
  if (verifiedBy.length === 0) throw new AuditError("unknown_signer", "no signature on the note is by a known key");
  return { text, verifiedBy };
}

/** Hex key ID, as it appears in a vkey and in reports. */
export function keyIdHex(keyId: number): string {
  return toHex(new Uint8Array([keyId >>> 24, (keyId >>> 16) & 0xff, (keyId >>> 8) & 0xff, keyId & 0xff]));
}
