/**
 * Plane 6 (verify): the tamper-evident audit log. The pipeline uses `createAuditSink`; the Worker
 * exports `AuditLog` (bound as AUDIT_LOG); auditors and the CLI use the proof verifiers.
 */
export { AuditLog, type AuditLogEnv, type SignedCheckpoint } from "./audit-log.ts";
export { type Checkpoint, checkpointText, DEFAULT_AUDIT_ORIGIN, logOrigin, parseCheckpointText } from "./checkpoint.ts";
export { CheckpointIssuer, type CheckpointStore, type NoteSigner, type StoredCheckpoint } from "./checkpoint-issuer.ts";
export { auditOrigin, checkpointIntervalMs, keyRingPolicy, type VerifyVars } from "./config.ts";
export { KEY_RING_NAME, KeyRing } from "./key-ring.ts";
export { KeyRingCore, type KeyRingPolicy, type KeyRingStore, type PublishedKey, type RingKey } from "./key-ring-core.ts";
export {
  ed25519KeyId,
  formatNote,
  type NoteVerifier,
  parseNote,
  parseVerifierKey,
  signatureLine,
  verifierKeyString,
  verifyNote,
} from "./note.ts";
export {
  type AppendReceipt,
  type AuditEntry,
  AuditLogCore,
  type AuditLogCoreOptions,
  type ConsistencyProof,
  type InclusionProof,
  MAX_APPEND_BATCH,
  MAX_ENTRIES_PAGE,
  type TreeHead,
} from "./core.ts";
export { AuditError, type AuditErrorCode } from "./errors.ts";
export { appendLeaves, foldFrontier, frontierPositions, type MerkleNode } from "./merkle/compact-range.ts";
export { consistencyPath, verifyConsistency, verifySubtreeConsistency } from "./merkle/consistency.ts";
export { EMPTY_TREE_ROOT, type Hash, HASH_BYTES, leafHash } from "./merkle/hash.ts";
export { inclusionPath, rootFromInclusionProof, verifyInclusion, verifySubtreeInclusion } from "./merkle/inclusion.ts";
export { rangeHash, type RangeHasher, storedRangeHasher } from "./merkle/range-hash.ts";
export { treeRoot } from "./merkle/tree-head.ts";
export { type AuditRecord, type AuditRecordType, MAX_RECORD_BYTES, prepareRecord } from "./record.ts";
export { type AuditPlacement, type AuditSink, createAuditSink } from "./sink.ts";
export { AUDIT_SCHEMA_VERSION, SqlAuditStore } from "./sql-store.ts";
export type { AppendBatch, AuditStore, StoredHead, StoredLeaf } from "./store.ts";
export { entryBundle, MAX_TILE_LEVEL, parseTilePath, TILE_HEIGHT, TILE_WIDTH, type TileAddress, tilePath, tileSpan } from "./tiles.ts";
