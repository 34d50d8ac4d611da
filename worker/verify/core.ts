/**
 * The audit log of one tenant, over an `AuditStore`. The Durable Object is a thin shell around
 * this class; everything here is testable with an in-memory store.
 *
 * Write path (append): validate and hash every record, extend the compact range, then commit the
 * leaves, the completed nodes and the new head in one `store.commit`. Hashing is asynchronous
 * (WebCrypto) and the commit is synchronous, so appends are serialised by one drain loop: while one
 * group is between reading the head and committing, another would read the same head. The store
 * re-checks the size inside its transaction as a second line (`conflict`).
 *
 * Group commit: a commit is only as good as its flush to disk, and the flush (one fsync locally)
 * costs more than everything else an append does. So the drain waits for each group's flush
 * (`durable`) before it takes the next group: appends that arrive meanwhile, from any number of
 * RPC calls, share the next transaction and its single flush. An append's promise settles after
 * the flush of the transaction holding it.
 *
 * Read path (proofs, entries): perfect nodes and leaves are immutable once committed, and every
 * read is bounded by a size validated against the committed head first, so a read may interleave
 * with an append without seeing anything torn.
 */
import { concatBytes, toHex, utf8 } from "../lib/encoding.ts";
import { AuditError, type AuditErrorCode } from "./errors.ts";
import { isIndex } from "./merkle/bits.ts";
import { appendLeaves, frontierPositions } from "./merkle/compact-range.ts";
import { consistencyPath } from "./merkle/consistency.ts";
import type { Hash } from "./merkle/hash.ts";
import { inclusionPath } from "./merkle/inclusion.ts";
import { rangeHash, storedRangeHasher } from "./merkle/range-hash.ts";
import { type PreparedRecord, prepareRecord } from "./record.ts";
import type { AuditStore, StoredLeaf } from "./store.ts";
import { entryBundle, parseTilePath, tileSpan } from "./tiles.ts";

/**
 * Records per `append` call. One call is one transaction and one RPC message:
 * 256 × MAX_RECORD_BYTES (16 KiB) = 4 MiB, well under the 32 MiB Workers RPC payload limit.
 */
export const MAX_APPEND_BATCH = 256;

/** Entries per `entries` page; with MAX_RECORD_BYTES the page stays under the RPC limit (see record.ts). */
export const MAX_ENTRIES_PAGE = 1000;

export interface AppendReceipt {
  index: number;
  /** Hex. */
  leafHash: string;
  /** Size of the log after the call's commit; includes this record. */
  treeSize: number;
  /** Hex root of the tree of `treeSize` leaves. */
  rootHash: string;
}

/**
 * One record's result in `appendEach`: its receipt, or why it is not in the log. A value rather than
 * a rejection, so one refused record does not fail the others that travelled in the same call.
 */
export type AppendOutcome = { receipt: AppendReceipt } | { refused: { code: AuditErrorCode; message: string } };

export interface TreeHead {
  size: number;
  rootHash: string;
}

/**
 * One committed record. The record travels as its canonical JSON text, the exact bytes its leaf
 * hash commits to, so a verifier re-hashes what it received (`JSON.parse` gives the record back).
 * A typed record object would also make Workers RPC's recursive result types too deep for tsc.
 */
export interface AuditEntry {
  index: number;
  leafHash: string;
  canonical: string;
}

export interface InclusionProof {
  index: number;
  treeSize: number;
  leafHash: string;
  /** Root of the tree of `treeSize` leaves, as this log computes it; check it against a signed head. */
  rootHash: string;
  /** Audit path, leaf side first, hex. */
  proof: string[];
}

export interface ConsistencyProof {
  from: number;
  to: number;
  fromRootHash: string;
  toRootHash: string;
  proof: string[];
}

export interface AuditLogCoreOptions {
  /**
   * The tenant this log belongs to, when the host knows it (a Durable Object's name). If absent,
   * the first committed record binds the log to its tenant.
   */
  tenant?: string;
  /**
   * Resolves once every commit made so far is durable (a Durable Object passes `storage.sync()`);
   * absent, a commit counts as durable when `store.commit` returns (memory stores in tests).
   */
  durable?: () => Promise<void>;
}

function requireIndex(name: string, value: unknown): number {
  if (!isIndex(value)) throw new AuditError("invalid_argument", `${name} must be a non-negative safe integer`);
  return value;
}

/** One caller's `append`, waiting for the group it will be committed with. */
interface PendingAppend {
  records: readonly unknown[];
  resolve(receipts: AppendReceipt[]): void;
  reject(error: unknown): void;
}

/** A pending append whose records are validated and hashed, ready to join a commit. */
interface PreparedAppend {
  pending: PendingAppend;
  prepared: PreparedRecord[];
}

export class AuditLogCore {
  readonly #store: AuditStore;
  readonly #tenant: string | undefined;
  readonly #durable: (() => Promise<void>) | undefined;
  #pending: PendingAppend[] = [];
  #draining = false;
  /**
   * The write path's view of the log: head, owning tenant and frontier, kept in memory after the
   * first append so an append reads nothing from storage. Valid because this core is the log's only
   * writer (one Durable Object instance) and is updated only after a commit succeeded; dropped on
   * any failure, so the next append rereads storage (whose size check catches a stale view).
   */
  #tip: { size: number; tenant: string | undefined; frontier: Hash[] } | undefined;

  constructor(store: AuditStore, options: AuditLogCoreOptions = {}) {
    if (options.tenant !== undefined && (typeof options.tenant !== "string" || options.tenant === "")) {
      throw new TypeError("AuditLogCore: tenant must be a non-empty string when given");
    }
    this.#store = store;
    this.#tenant = options.tenant;
    this.#durable = options.durable;
  }

  /**
   * Appends `records` in order, all or none. Resolves once the batch is committed; every failure
   * is an `AuditError` and leaves the log unchanged.
   *
   * Group commit: calls that arrive while a commit is being prepared or flushed wait and are
   * committed together, in arrival order, in one transaction (one head update, one frontier walk,
   * one flush). Each
   * call is validated on its own, so one bad call is refused without failing its neighbours;
   * a storage failure fails every call of that group, and none of them is in the log.
   */
  append(records: readonly unknown[]): Promise<AppendReceipt[]> {
    const committed = this.#enqueue(records);
    if (!this.#draining) void this.#drain();
    return committed;
  }

  #enqueue(records: readonly unknown[]): Promise<AppendReceipt[]> {
    return new Promise<AppendReceipt[]>((resolve, reject) => this.#pending.push({ records, resolve, reject }));
  }

  /**
   * Appends each record as its own call (validated, refused or committed on its own), all of them
   * joining the same group commit: what a request's sink sends when it carries several of its
   * records in one RPC. Outcomes are in the order of `records`; committed records get consecutive indices in it.
   */
  appendEach(records: readonly unknown[]): Promise<AppendOutcome[]> {
    if (!Array.isArray(records) || records.length === 0 || records.length > MAX_APPEND_BATCH) {
      return Promise.reject(new AuditError("invalid_batch", `appendEach takes an array of 1 to ${MAX_APPEND_BATCH} records`));
    }
    // Queued before the drain starts, so the whole call lands in one group.
    const outcomes = Promise.all(
      records.map((record) =>
        this.#enqueue([record]).then(
          ([receipt]): AppendOutcome => {
            if (receipt === undefined) throw new AuditError("corrupt", "a committed record has no receipt");
            return { receipt };
          },
          (error: unknown): AppendOutcome => {
            if (error instanceof AuditError) return { refused: { code: error.code, message: error.message } };
            throw error;
          },
        ),
      ),
    );
    if (!this.#draining) void this.#drain();
    return outcomes;
  }

  /** Commits pending appends group by group; only one drain runs, so heads are never read twice. */
  async #drain(): Promise<void> {
    this.#draining = true;
    try {
      while (this.#pending.length > 0) {
        const group = this.#takeGroup();
        const ready = await this.#prepare(group);
        if (ready.length > 0) await this.#commit(ready);
      }
    } finally {
      this.#draining = false;
    }
  }

  /** The oldest pending calls whose records fit in one batch (always at least one call). */
  #takeGroup(): PendingAppend[] {
    let total = 0;
    let count = 0;
    for (const pending of this.#pending) {
      const size = Array.isArray(pending.records) ? pending.records.length : 1;
      if (count > 0 && total + size > MAX_APPEND_BATCH) break;
      total += size;
      count++;
    }
    return this.#pending.splice(0, count);
  }

  async #prepare(group: PendingAppend[]): Promise<PreparedAppend[]> {
    const ready: PreparedAppend[] = [];
    for (const pending of group) {
      try {
        const { records } = pending;
        if (!Array.isArray(records) || records.length === 0 || records.length > MAX_APPEND_BATCH) {
          throw new AuditError("invalid_batch", `append takes an array of 1 to ${MAX_APPEND_BATCH} records`);
        }
        const prepared: PreparedRecord[] = [];
        for (const record of records) prepared.push(await prepareRecord(record));
        ready.push({ pending, prepared });
      } catch (error) {
        pending.reject(error);
      }
    }
    return ready;
  }

  /**
   * Only the drain calls this, one group at a time, so no other append reads the head between this
   * read and the commit below, even across the hashing awaits.
   */
  async #commit(ready: PreparedAppend[]): Promise<void> {
    this.#tip ??= this.#readTip();
    const tip = this.#tip;
    const tenant = tip.tenant ?? this.#tenant ?? ready[0]?.prepared[0]?.record.tenant;
    const accepted = ready.filter(({ pending, prepared }) => {
      const stranger = prepared.find((p) => p.record.tenant !== tenant);
      if (stranger) pending.reject(new AuditError("tenant_mismatch", `this log belongs to another tenant than "${stranger.record.tenant}"`));
      return stranger === undefined;
    });
    if (accepted.length === 0 || tenant === undefined) return;
    try {
      const prepared = accepted.flatMap((a) => a.prepared);
      const grown = appendLeaves(tip.size, tip.frontier, prepared.map((p) => p.leafHash));
      const leaves: StoredLeaf[] = prepared.map((p, offset) => ({ index: tip.size + offset, leafHash: p.leafHash, canonical: p.canonical }));
      try {
        this.#store.commit({ fromSize: tip.size, tenant, leaves, nodes: grown.created, head: { size: grown.size, root: grown.root } });
      } catch (error) {
        if (error instanceof AuditError) throw error;
        throw new AuditError("storage_failed", "the audit store refused the append", { cause: error });
      }
      this.#tip = { size: grown.size, tenant, frontier: grown.frontier };
      // Only a flushed commit is reported: a caller holding a receipt may act on the record being there.
      if (this.#durable) {
        try {
          await this.#durable();
        } catch (error) {
          throw new AuditError("storage_failed", "the audit store could not make the append durable", { cause: error });
        }
      }
      const rootHash = toHex(grown.root);
      const receipts = leaves.map((leaf) => ({ index: leaf.index, leafHash: toHex(leaf.leafHash), treeSize: grown.size, rootHash }));
      let offset = 0;
      for (const { pending, prepared: own } of accepted) {
        pending.resolve(receipts.slice(offset, offset + own.length));
        offset += own.length;
      }
    } catch (error) {
      this.#tip = undefined;
      for (const { pending } of accepted) pending.reject(error);
    }
  }

  #readTip(): { size: number; tenant: string | undefined; frontier: Hash[] } {
    const { size } = this.#store.head();
    return {
      size,
      tenant: this.#store.tenant(),
      frontier: frontierPositions(size).map(({ level, index }) => this.#node(level, index)),
    };
  }

  treeHead(): TreeHead {
    const head = this.#store.head();
    return { size: head.size, rootHash: toHex(head.root) };
  }

  /**
   * Entries [start, end) as stored, at most MAX_ENTRIES_PAGE of them; `end` may not pass the log's
   * size. A missing row (only tampering with storage can remove one) is left out of the page rather
   * than failing it: exports go on, and verification names the missing index.
   */
  entries(start: number, end: number): AuditEntry[] {
    requireIndex("start", start);
    requireIndex("end", end);
    const size = this.#store.head().size;
    if (start > end || end > size) throw new AuditError("out_of_range", `[${start}, ${end}) is not inside a log of ${size}`);
    if (end - start > MAX_ENTRIES_PAGE) throw new AuditError("out_of_range", `a page holds at most ${MAX_ENTRIES_PAGE} entries`);
    return this.#store.leaves(start, end).map((leaf) => ({ index: leaf.index, leafHash: toHex(leaf.leafHash), canonical: leaf.canonical }));
  }

  /**
   * The C2SP tlog-tiles resource at `path` (what follows `tile/`, worker/verify/tiles.ts): a hash
   * tile as its hashes concatenated, an entry bundle as its length-prefixed canonical records;
   * undefined while the log does not hold the whole tile. Every hash it serves is immutable once
   * committed, so a tile never changes.
   */
  tile(path: string): Uint8Array<ArrayBuffer> | undefined {
    if (typeof path !== "string") throw new AuditError("invalid_argument", "a tile path is a string");
    // Parsed again (the route did too): like every method here, this one checks its RPC arguments.
    const tile = parseTilePath(path);
    const span = tileSpan(tile, this.#store.head().size);
    if (span === undefined) return undefined;
    const { height, first, count } = span;
    if (height === 0) {
      const leaves = this.#store.leaves(first, first + count);
      if (leaves.length !== count) throw new AuditError("corrupt", `stored leaves of [${first}, ${first + count}) are missing`);
      if (tile.kind === "entries") return entryBundle(leaves.map((leaf) => utf8(leaf.canonical)));
      return concatBytes(leaves.map((leaf) => leaf.leafHash));
    }
    return concatBytes(Array.from({ length: count }, (_, i) => this.#node(height, first + i)));
  }

  async inclusionProof(index: number, treeSize: number): Promise<InclusionProof> {
    requireIndex("index", index);
    requireIndex("treeSize", treeSize);
    this.#requireSize(treeSize);
    if (index >= treeSize) throw new AuditError("out_of_range", `leaf ${index} is not in a tree of ${treeSize}`);
    const hashRange = storedRangeHasher((level, i) => this.#node(level, i));
    const [proof, root] = await Promise.all([inclusionPath(index, treeSize, hashRange), hashRange(0, treeSize)]);
    return {
      index,
      treeSize,
      leafHash: toHex(this.#node(0, index)),
      rootHash: toHex(root),
      proof: proof.map((h) => toHex(h)),
    };
  }

  async consistencyProof(from: number, to: number): Promise<ConsistencyProof> {
    requireIndex("from", from);
    requireIndex("to", to);
    this.#requireSize(to);
    if (from === 0) throw new AuditError("out_of_range", "a consistency proof from the empty tree proves nothing");
    if (from > to) throw new AuditError("out_of_range", `from (${from}) is larger than to (${to})`);
    const read = (level: number, i: number): Hash => this.#node(level, i);
    const [proof, fromRoot, toRoot] = await Promise.all([
      consistencyPath(from, to, storedRangeHasher(read)),
      rangeHash(0, from, read),
      rangeHash(0, to, read),
    ]);
    return { from, to, fromRootHash: toHex(fromRoot), toRootHash: toHex(toRoot), proof: proof.map((h) => toHex(h)) };
  }

  #requireSize(treeSize: number): void {
    const size = this.#store.head().size;
    if (treeSize > size) throw new AuditError("out_of_range", `tree size ${treeSize} is beyond the log's ${size}`);
  }

  #node(level: number, index: number): Hash {
    const hash = this.#store.node(level, index);
    if (hash === undefined) throw new AuditError("corrupt", `stored node (${level}, ${index}) is missing`);
    return hash;
  }
}
