/**
 * The storage the log core writes through. Small on purpose: the Durable Object backs it with
 * SQLite (`sql-store.ts`); tests back it with memory that can fail at a chosen write. Every method
 * is synchronous, so a commit cannot interleave with anything else in the object.
 */
import type { MerkleNode } from "./merkle/compact-range.ts";
import type { Hash } from "./merkle/hash.ts";

export interface StoredHead {
  size: number;
  root: Hash;
}

export interface StoredLeaf {
  index: number;
  leafHash: Hash;
  /** The record's RFC 8785 canonical JSON: the exact bytes the leaf hash commits to. */
  canonical: string;
}

/** One append, committed as a unit. */
export interface AppendBatch {
  /** The size the batch was computed against; the commit fails with `conflict` if the log moved. */
  fromSize: number;
  /** The log's tenant, recorded on the first commit. */
  tenant: string;
  leaves: StoredLeaf[];
  /** Perfect subtree roots of level ≥ 1 that the batch completes. */
  nodes: MerkleNode[];
  head: StoredHead;
}

export interface AuditStore {
  /** The committed head; size 0 and the empty-tree root for a new log. */
  head(): StoredHead;
  /** The tenant bound by the first commit, if any. */
  tenant(): string | undefined;
  /** The stored root of the perfect subtree at (level, index); level 0 is a leaf hash. */
  node(level: number, index: number): Hash | undefined;
  /** Leaves [start, end) in index order, all of them committed. */
  leaves(start: number, end: number): StoredLeaf[];
  /**
   * Makes the whole batch durable or nothing of it: on any throw the store is as before. After it
   * returns, `head()` is `batch.head`.
   */
  commit(batch: AppendBatch): void;
}
