/**
 * `VaultStore` over a Durable Object's SQLite storage. Tables are prefixed `vault_`; the schema
 * version sits in `vault_meta` and `ensureSchema` (worker/lib/sql-schema.ts) brings it up to date.
 */
import { sqlBlob } from "../../lib/encoding.ts";
import { ensureSchema, type SqlSchema, type SqlSchemaBackend } from "../../lib/sql-schema.ts";
import { VaultError } from "./errors.ts";
import type { DataKeyRow, ErasureResult, PayloadRow, VaultStore } from "./store.ts";

/** Schema steps; step i brings version i to i + 1. Append only. */
const MIGRATIONS: readonly (readonly string[])[] = [
  [
    `CREATE TABLE vault_data_keys (dek_id TEXT PRIMARY KEY, subject TEXT NOT NULL UNIQUE, kek_id TEXT NOT NULL, wrapped BLOB NOT NULL, created_at INTEGER NOT NULL)`,
    `CREATE TABLE vault_erasures (subject TEXT PRIMARY KEY, erased_at INTEGER NOT NULL) WITHOUT ROWID`,
    `CREATE TABLE vault_payloads (id TEXT PRIMARY KEY, subject TEXT NOT NULL, kind TEXT NOT NULL, dek_id TEXT NOT NULL, sealed BLOB NOT NULL,
       digest TEXT NOT NULL, bytes INTEGER NOT NULL, created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL)`,
    `CREATE INDEX vault_payloads_expiry ON vault_payloads (expires_at)`,
    `CREATE INDEX vault_payloads_subject ON vault_payloads (subject)`,
  ],
];

export const VAULT_SCHEMA_VERSION = MIGRATIONS.length;

const VAULT_SCHEMA: SqlSchema = {
  metaTable: "vault_meta",
  migrations: MIGRATIONS,
  tooNew: (found) => new VaultError("invalid_argument", `vault schema version ${found} is newer than ${VAULT_SCHEMA_VERSION}`),
};

type KeyRecord = { dek_id: string; subject: string; kek_id: string; wrapped: ArrayBuffer; created_at: number };
type PayloadRecord = {
  id: string;
  subject: string;
  kind: string;
  dek_id: string;
  sealed: ArrayBuffer;
  digest: string;
  bytes: number;
  created_at: number;
  expires_at: number;
};

function keyRow(r: KeyRecord): DataKeyRow {
  return { dekId: r.dek_id, subject: r.subject, kekId: r.kek_id, wrapped: new Uint8Array(r.wrapped), createdAt: r.created_at };
}

export class SqlVaultStore implements VaultStore {
  readonly #storage: SqlSchemaBackend;

  constructor(storage: SqlSchemaBackend) {
    this.#storage = storage;
    ensureSchema(storage, VAULT_SCHEMA);
  }

  tenant(): string | undefined {
    return this.#storage.sql.exec<{ value: string }>(`SELECT value FROM vault_meta WHERE key = 'tenant'`).toArray()[0]?.value;
  }

  bindTenant(tenant: string): void {
    this.#storage.sql.exec(`INSERT INTO vault_meta (key, value) VALUES ('tenant', ?) ON CONFLICT (key) DO NOTHING`, tenant);
  }

  dataKey(subject: string): DataKeyRow | undefined {
    const row = this.#storage.sql.exec<KeyRecord>(`SELECT * FROM vault_data_keys WHERE subject = ?`, subject).toArray()[0];
    return row && keyRow(row);
  }

  dataKeyById(dekId: string): DataKeyRow | undefined {
    const row = this.#storage.sql.exec<KeyRecord>(`SELECT * FROM vault_data_keys WHERE dek_id = ?`, dekId).toArray()[0];
    return row && keyRow(row);
  }

  insertDataKey(row: DataKeyRow): DataKeyRow {
    this.#storage.sql.exec(
      `INSERT INTO vault_data_keys (dek_id, subject, kek_id, wrapped, created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (subject) DO NOTHING`,
      row.dekId,
      row.subject,
      row.kekId,
      sqlBlob(row.wrapped),
      row.createdAt,
    );
    return this.dataKey(row.subject) ?? row;
  }

  dataKeysNotWrappedBy(kekId: string): DataKeyRow[] {
    return this.#storage.sql.exec<KeyRecord>(`SELECT * FROM vault_data_keys WHERE kek_id != ?`, kekId).toArray().map(keyRow);
  }

  rewrapDataKey(dekId: string, kekId: string, wrapped: Uint8Array): void {
    this.#storage.sql.exec(`UPDATE vault_data_keys SET kek_id = ?, wrapped = ? WHERE dek_id = ?`, kekId, sqlBlob(wrapped), dekId);
  }

  erasedAt(subject: string): number | undefined {
    return this.#storage.sql.exec<{ erased_at: number }>(`SELECT erased_at FROM vault_erasures WHERE subject = ?`, subject).toArray()[0]?.erased_at;
  }

  erase(subject: string, at: number): ErasureResult {
    const sql = this.#storage.sql;
    return this.#storage.transactionSync(() => {
      const dataKeys = sql.exec<{ dek_id: string }>(`SELECT dek_id FROM vault_data_keys WHERE subject = ?`, subject).toArray().map((r) => r.dek_id);
      sql.exec(`DELETE FROM vault_data_keys WHERE subject = ?`, subject);
      sql.exec(
        `INSERT INTO vault_erasures (subject, erased_at) VALUES (?, ?) ON CONFLICT (subject) DO UPDATE SET erased_at = MAX(erased_at, excluded.erased_at)`,
        subject,
        at,
      );
      const payloads = sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM vault_payloads WHERE subject = ?`, subject).one().n;
      return { dataKeys, payloads };
    });
  }

  insertPayload(row: PayloadRow): boolean {
    const sql = this.#storage.sql;
    return this.#storage.transactionSync(() => {
      if (sql.exec(`SELECT 1 FROM vault_data_keys WHERE dek_id = ?`, row.dekId).toArray().length === 0) return false;
      sql.exec(
        `INSERT INTO vault_payloads (id, subject, kind, dek_id, sealed, digest, bytes, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        row.id,
        row.subject,
        row.kind,
        row.dekId,
        sqlBlob(row.sealed),
        row.digest,
        row.bytes,
        row.createdAt,
        row.expiresAt,
      );
      return true;
    });
  }

  payload(id: string): PayloadRow | undefined {
    const r = this.#storage.sql.exec<PayloadRecord>(`SELECT * FROM vault_payloads WHERE id = ?`, id).toArray()[0];
    return (
      r && {
        id: r.id,
        subject: r.subject,
        kind: r.kind,
        dekId: r.dek_id,
        sealed: new Uint8Array(r.sealed),
        digest: r.digest,
        bytes: r.bytes,
        createdAt: r.created_at,
        expiresAt: r.expires_at,
      }
    );
  }

  deleteExpired(now: number): number {
    return this.#storage.sql.exec(`DELETE FROM vault_payloads WHERE expires_at <= ?`, now).rowsWritten;
  }

  nextExpiry(): number | undefined {
    return this.#storage.sql.exec<{ at: number | null }>(`SELECT MIN(expires_at) AS at FROM vault_payloads`).one().at ?? undefined;
  }
}
