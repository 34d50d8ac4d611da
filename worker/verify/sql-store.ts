/**
 * `AuditStore` over a Durable Object's SQLite storage. Tables are prefixed `audit_`; the schema is
 * versioned in `audit_meta` and brought up to date by the idempotent `ensureSchema`
 * (worker/lib/sql-schema.ts).
 *
 * Durability: `commit` runs in `transactionSync`, so a throw at any statement rolls back every
 * statement of the batch. Once it returns, the Durable Object's output gate holds the RPC reply
 * that reports the commit until SQLite has made it durable; a caller that sees the receipt can rely
 * on the record surviving a crash.
 */
import { sqlBlob } from "../lib/encoding.ts";
import { ensureSchema, type SqlSchema } from "../lib/sql-schema.ts";
import { AuditError } from "./errors.ts";
import { EMPTY_TREE_ROOT, type Hash } from "./merkle/hash.ts";
import type { CheckpointStore, StoredCheckpoint } from "./checkpoint-issuer.ts";
import type { AppendBatch, AuditStore, StoredHead, StoredLeaf } from "./store.ts";

/** The part of `DurableObjectStorage` the store needs; tests wrap it to fail chosen statements. */
export type SqlBackend = Pick<DurableObjectStorage, "sql" | "transactionSync">;

/** Schema steps; step i brings version i to version i + 1. Append only, never edit a shipped step. */
const MIGRATIONS: readonly (readonly string[])[] = [
  [
    // One row: the committed tree head.
    `CREATE TABLE audit_head (id INTEGER PRIMARY KEY CHECK (id = 0), size INTEGER NOT NULL, root BLOB NOT NULL)`,
    // One row per leaf: its hash and the canonical record text it commits to.
    `CREATE TABLE audit_leaves (idx INTEGER PRIMARY KEY, leaf_hash BLOB NOT NULL, record TEXT NOT NULL)`,
    // Perfect subtree roots of level ≥ 1 (level 0 lives in audit_leaves); immutable once written.
    `CREATE TABLE audit_nodes (level INTEGER NOT NULL, idx INTEGER NOT NULL, hash BLOB NOT NULL, PRIMARY KEY (level, idx)) WITHOUT ROWID`,
  ],
  [
    // Signed checkpoints (C2SP signed notes), the latest one per tree size.
    `CREATE TABLE audit_checkpoints (size INTEGER PRIMARY KEY, issued_at INTEGER NOT NULL, note TEXT NOT NULL)`,
  ],
];

export const AUDIT_SCHEMA_VERSION = MIGRATIONS.length;

function hashFrom(value: SqlStorageValue | undefined): Hash | undefined {
  return value instanceof ArrayBuffer ? new Uint8Array(value) : undefined;
}

const AUDIT_SCHEMA: SqlSchema = {
  metaTable: "audit_meta",
  migrations: MIGRATIONS,
  tooNew: (found) => new AuditError("schema_too_new", `audit schema version ${found} is newer than ${AUDIT_SCHEMA_VERSION}`),
};

export class SqlAuditStore implements AuditStore, CheckpointStore {
  readonly #storage: SqlBackend;
  /** The log's tenant row exists, so a commit need not write it again (set after a commit or a read). */
  #tenantRecorded = false;

  /** Ensures the schema; cheap and idempotent, so it runs every time the object starts. */
  constructor(storage: SqlBackend) {
    this.#storage = storage;
    ensureSchema(storage, AUDIT_SCHEMA);
  }

  head(): StoredHead {
    const row = this.#storage.sql.exec<{ size: number; root: ArrayBuffer }>(`SELECT size, root FROM audit_head WHERE id = 0`).toArray()[0];
    if (row === undefined) return { size: 0, root: EMPTY_TREE_ROOT };
    return { size: row.size, root: new Uint8Array(row.root) };
  }

  tenant(): string | undefined {
    const row = this.#storage.sql.exec<{ value: string }>(`SELECT value FROM audit_meta WHERE key = 'tenant'`).toArray()[0];
    if (row !== undefined) this.#tenantRecorded = true;
    return row?.value;
  }

  node(level: number, index: number): Hash | undefined {
    const cursor =
      level === 0
        ? this.#storage.sql.exec(`SELECT leaf_hash AS hash FROM audit_leaves WHERE idx = ?`, index)
        : this.#storage.sql.exec(`SELECT hash FROM audit_nodes WHERE level = ? AND idx = ?`, level, index);
    return hashFrom(cursor.toArray()[0]?.hash);
  }

  leaves(start: number, end: number): StoredLeaf[] {
    return this.#storage.sql
      .exec<{ idx: number; leaf_hash: ArrayBuffer; record: string }>(
        `SELECT idx, leaf_hash, record FROM audit_leaves WHERE idx >= ? AND idx < ? ORDER BY idx`,
        start,
        end,
      )
      .toArray()
      .map((row) => ({ index: row.idx, leafHash: new Uint8Array(row.leaf_hash), canonical: row.record }));
  }

  commit(batch: AppendBatch): void {
    const sql = this.#storage.sql;
    const tenantRecorded = this.#tenantRecorded;
    this.#storage.transactionSync(() => {
      // The head moves only from the size the batch was built for: one statement both checks and
      // writes it (no row is written when the stored size differs), so a stale writer changes nothing.
      const moved = sql.exec(
        `INSERT INTO audit_head (id, size, root) VALUES (0, ?, ?) ON CONFLICT (id) DO UPDATE SET size = excluded.size, root = excluded.root WHERE audit_head.size = ?`,
        batch.head.size,
        sqlBlob(batch.head.root),
        batch.fromSize,
      ).rowsWritten;
      if (moved !== 1) throw new AuditError("conflict", `log is at size ${this.head().size}, the batch was built for ${batch.fromSize}`);
      if (!tenantRecorded) sql.exec(`INSERT INTO audit_meta (key, value) VALUES ('tenant', ?) ON CONFLICT (key) DO NOTHING`, batch.tenant);
      for (const leaf of batch.leaves) {
        sql.exec(`INSERT INTO audit_leaves (idx, leaf_hash, record) VALUES (?, ?, ?)`, leaf.index, sqlBlob(leaf.leafHash), leaf.canonical);
      }
      for (const node of batch.nodes) {
        sql.exec(`INSERT INTO audit_nodes (level, idx, hash) VALUES (?, ?, ?)`, node.level, node.index, sqlBlob(node.hash));
      }
    });
    // Only after the transaction held: a rolled-back first commit recorded no tenant.
    this.#tenantRecorded = true;
  }

  latestCheckpoint(): StoredCheckpoint | undefined {
    return this.#checkpoint(`SELECT size, issued_at, note FROM audit_checkpoints ORDER BY size DESC LIMIT 1`);
  }

  checkpointAt(size: number): StoredCheckpoint | undefined {
    return this.#checkpoint(`SELECT size, issued_at, note FROM audit_checkpoints WHERE size = ?`, size);
  }

  saveCheckpoint(checkpoint: StoredCheckpoint): void {
    this.#storage.sql.exec(
      `INSERT INTO audit_checkpoints (size, issued_at, note) VALUES (?, ?, ?) ON CONFLICT (size) DO UPDATE SET issued_at = excluded.issued_at, note = excluded.note`,
      checkpoint.size,
      checkpoint.issuedAt,
      checkpoint.note,
    );
  }

  #checkpoint(query: string, ...bindings: number[]): StoredCheckpoint | undefined {
    const row = this.#storage.sql.exec<{ size: number; issued_at: number; note: string }>(query, ...bindings).toArray()[0];
    return row === undefined ? undefined : { size: row.size, issuedAt: row.issued_at, note: row.note };
  }
}
