/**
 * The storage the vault core writes through: SQLite in the `PayloadVault` object (`sql-store.ts`),
 * memory in the unit tests. Every method is synchronous, so each one is atomic in the object (no
 * other request can run between its statements).
 */

/** A data subject's data key, as stored: wrapped by a KEK, never in the clear. */
export interface DataKeyRow {
  subject: string;
  dekId: string;
  kekId: string;
  wrapped: Uint8Array;
  createdAt: number;
}

export interface PayloadRow {
  id: string;
  subject: string;
  /** `prompt` or `output`. */
  kind: string;
  dekId: string;
  /** IV ‖ ciphertext ‖ tag (envelope.ts). */
  sealed: Uint8Array;
  /** SHA-256 hex of `sealed`, as the audit record carries it. */
  digest: string;
  /** Plaintext length. */
  bytes: number;
  createdAt: number;
  expiresAt: number;
}

export interface ErasureResult {
  /** The data keys destroyed (their ids). */
  dataKeys: string[];
  /** Payloads of the subject that can no longer be read. */
  payloads: number;
}

export interface VaultStore {
  /** The tenant bound by the first write, if any. */
  tenant(): string | undefined;
  bindTenant(tenant: string): void;
  /** The subject's data key in force. */
  dataKey(subject: string): DataKeyRow | undefined;
  dataKeyById(dekId: string): DataKeyRow | undefined;
  /** Inserts the key unless the subject has one already; returns the one in force either way. */
  insertDataKey(row: DataKeyRow): DataKeyRow;
  /** Data keys not wrapped by `kekId` (to re-wrap after a KEK rotation). */
  dataKeysNotWrappedBy(kekId: string): DataKeyRow[];
  rewrapDataKey(dekId: string, kekId: string, wrapped: Uint8Array): void;
  /** When the subject was last erased (epoch ms). */
  erasedAt(subject: string): number | undefined;
  /** Destroys the subject's data keys and records the erasure, atomically. */
  erase(subject: string, at: number): ErasureResult;
  /** Inserts the payload only if its data key still exists (false: erased meanwhile). */
  insertPayload(row: PayloadRow): boolean;
  payload(id: string): PayloadRow | undefined;
  /** Deletes payloads whose retention ended at or before `now`; returns how many. */
  deleteExpired(now: number): number;
  /** The earliest retention end still stored. */
  nextExpiry(): number | undefined;
}
