/**
 * Plane 6's errors: one class, a closed set of codes. Callers and tests branch on `code`, never on
 * the message. Every code on the write path means "the record is not in the log": the gateway
 * turns any of them into a deny (write-ahead audit, fail closed).
 */

export type AuditErrorCode =
  /** The record is not an object with the required fields (`type`, `requestId`, `tenant`, `time`). */
  | "invalid_record"
  /** The record holds a value JSON cannot represent (undefined, NaN, a function, a Date, …). */
  | "not_json"
  /** The record's canonical form is larger than `MAX_RECORD_BYTES`. */
  | "record_too_large"
  /** The batch is empty, too long or not an array. */
  | "invalid_batch"
  /** The record belongs to another tenant than this log. */
  | "tenant_mismatch"
  /** An argument is not a non-negative safe integer, or not of the expected type. */
  | "invalid_argument"
  /** An index, size or range lies outside the log or the allowed page. */
  | "out_of_range"
  /** A Merkle proof (or a hash in it) does not verify. */
  | "invalid_proof"
  /** The log moved under a writer that expected another size; nothing was written. */
  | "conflict"
  /** The storage refused a write; nothing was written. */
  | "storage_failed"
  /** Stored state contradicts itself (a node the tree needs is missing); the log needs an operator. */
  | "corrupt"
  /** The stored schema is newer than this code understands; refusing to touch it. */
  | "schema_too_new"
  /** A signed note is malformed (layout, encoding, control characters, too many signatures). */
  | "invalid_note"
  /** A verifier key (vkey or JWK) is malformed, of another type, or its key ID does not match. */
  | "invalid_key"
  /** A signature by a known key does not verify: the note is forged or altered. */
  | "invalid_signature"
  /** No signature on a note is by a key the verifier trusts. */
  | "unknown_signer"
  /** A checkpoint's text is not origin, tree size and root hash, or it names another log. */
  | "invalid_checkpoint"
  /** The key ring has no key that may sign now (or could not be reached); nothing was signed. */
  | "signing_unavailable";

export class AuditError extends Error {
  override readonly name = "AuditError";
  constructor(
    readonly code: AuditErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
