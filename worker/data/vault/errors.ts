/**
 * The vault's closed set of failures. They cross Workers RPC as a `code` in a result (a custom
 * error class does not survive the trip), and the edge maps them to the gateway's error codes.
 */
export type VaultErrorCode =
  /** The tenant has no key-encryption key (Worker secret `KEK_<TENANT>` unset), or not the one a data key was wrapped by. */
  | "kek_missing"
  /** The secret is set but is not base64 of 32 bytes. */
  | "kek_invalid"
  /** The payload's data subject was erased: its data key is destroyed, the ciphertext cannot be read. */
  | "payload_erased"
  /** No such payload, or its retention has run out. */
  | "payload_not_found"
  | "payload_too_large"
  /** Decryption failed: the ciphertext, its key or its bound context (tenant, subject, id) was altered. */
  | "integrity"
  | "invalid_argument";

export class VaultError extends Error {
  override readonly name = "VaultError";

  constructor(
    readonly code: VaultErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
