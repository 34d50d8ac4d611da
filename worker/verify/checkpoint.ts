/**
 * C2SP tlog-checkpoint bodies (c2sp.org/tlog-checkpoint): origin, tree size, base64 root hash, one
 * line each, no extension lines. The note around them is `note.ts`'s.
 *
 * Origins: one log per tenant, `<AUDIT_ORIGIN>/<tenant>` (default `verity.local/audit/acme`). The
 * gateway's signing key is named `<AUDIT_ORIGIN>` itself: one key ring signs every tenant's log, so
 * its verifier keys are the same for all of them and can be published once in the JWKS without
 * listing tenants. (tlog-checkpoint says the key name SHOULD match the origin; the prefix is the
 * closest a shared key can come.)
 */
import { base64, fromBase64, fromHex, toHex } from "../lib/encoding.ts";
import { AuditError } from "./errors.ts";
import { isKeyName } from "./note.ts";

export const DEFAULT_AUDIT_ORIGIN = "verity.local/audit";

export interface Checkpoint {
  origin: string;
  size: number;
  /** Hex, like every hash in the audit API. */
  rootHash: string;
}

/** The origin of `tenant`'s log under `prefix` (validated: it is a key name and a path). */
export function logOrigin(prefix: string, tenant: string): string {
  const origin = `${prefix}/${tenant}`;
  if (!isKeyName(prefix) || !isKeyName(origin)) throw new TypeError(`audit origin ${JSON.stringify(origin)} must contain no spaces, "+" or control characters`);
  return origin;
}

export function checkpointText(checkpoint: Checkpoint): string {
  return `${checkpoint.origin}\n${checkpoint.size}\n${base64(fromHex(checkpoint.rootHash))}\n`;
}

/** Reads a checkpoint body; `invalid_checkpoint` unless it is exactly the three mandatory lines. */
export function parseCheckpointText(text: string): Checkpoint {
  const lines = text.split("\n");
  const [origin, size, root, end] = lines;
  if (lines.length !== 4 || end !== "" || !origin || !size || !root) {
    throw new AuditError("invalid_checkpoint", "a checkpoint is origin, tree size and root hash on three lines");
  }
  if (!/^(0|[1-9]\d{0,15})$/.test(size) || !Number.isSafeInteger(Number(size))) throw new AuditError("invalid_checkpoint", "the tree size is not a decimal without leading zeroes");
  let rootBytes: Uint8Array;
  try {
    rootBytes = fromBase64(root);
  } catch {
    throw new AuditError("invalid_checkpoint", "the root hash is not base64");
  }
  if (rootBytes.length !== 32) throw new AuditError("invalid_checkpoint", "the root hash is not 32 bytes of base64");
  return { origin, size: Number(size), rootHash: toHex(rootBytes) };
}
