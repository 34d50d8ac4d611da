/**
 * Plane 6 (verify): the tamper-evident audit log. The pipeline uses `createAuditSink`; the Worker
 * exports `AuditLog` (bound as AUDIT_LOG); auditors and the CLI use the proof verifiers.
 */
export { AuditLog } from "./audit-log.ts";
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
export { EMPTY_TREE_ROOT, type Hash, HASH_BYTES, leafHash, nodeHash } from "./merkle/hash.ts";
export { inclusionPath, rootFromInclusionProof, verifyInclusion, verifySubtreeInclusion } from "./merkle/inclusion.ts";
export { rangeHash, type RangeHasher, storedRangeHasher } from "./merkle/range-hash.ts";
export { treeRoot } from "./merkle/tree-head.ts";
export { type AuditRecord, type AuditRecordType, MAX_RECORD_BYTES, prepareRecord } from "./record.ts";
export { type AuditSink, createAuditSink } from "./sink.ts";
export { AUDIT_SCHEMA_VERSION, SqlAuditStore } from "./sql-store.ts";
export type { AppendBatch, AuditStore, StoredHead, StoredLeaf } from "./store.ts";
