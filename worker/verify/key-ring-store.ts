/**
 * `KeyRingStore` over the `KeyRing` Durable Object's SQLite storage. Tables are prefixed `keyring_`;
 * the schema is versioned in `keyring_meta` and brought up to date by `ensureSchema` (worker/lib/sql-schema.ts).
 * Private keys are PKCS#8 blobs in this table and nowhere else: no RPC method returns them.
 */
import { sqlBlob } from "../lib/encoding.ts";
import { ensureSchema, type SqlSchema } from "../lib/sql-schema.ts";
import { AuditError } from "./errors.ts";
import type { KeyRingStore, RingKey } from "./key-ring-core.ts";
import type { SqlBackend } from "./sql-store.ts";

const MIGRATIONS: readonly (readonly string[])[] = [
  [
    `CREATE TABLE keyring_keys (kid TEXT PRIMARY KEY, public_key BLOB NOT NULL, private_key BLOB, created_at INTEGER NOT NULL, signs_until INTEGER)`,
  ],
];

export const KEY_RING_SCHEMA_VERSION = MIGRATIONS.length;

const KEY_RING_SCHEMA: SqlSchema = {
  metaTable: "keyring_meta",
  migrations: MIGRATIONS,
  tooNew: (found) => new AuditError("schema_too_new", `key ring schema version ${found} is newer than ${KEY_RING_SCHEMA_VERSION}`),
};

export class SqlKeyRingStore implements KeyRingStore {
  readonly #storage: SqlBackend;

  constructor(storage: SqlBackend) {
    this.#storage = storage;
    ensureSchema(storage, KEY_RING_SCHEMA);
  }

  keys(): RingKey[] {
    return this.#storage.sql
      .exec<{ kid: string; public_key: ArrayBuffer; private_key: ArrayBuffer | null; created_at: number; signs_until: number | null }>(
        `SELECT kid, public_key, private_key, created_at, signs_until FROM keyring_keys ORDER BY created_at`,
      )
      .toArray()
      .map((row) => ({
        kid: row.kid,
        publicKey: new Uint8Array(row.public_key),
        privateKey: row.private_key === null ? null : new Uint8Array(row.private_key),
        createdAt: row.created_at,
        signsUntil: row.signs_until,
      }));
  }

  save(keys: readonly RingKey[]): void {
    const sql = this.#storage.sql;
    this.#storage.transactionSync(() => {
      sql.exec(`DELETE FROM keyring_keys`);
      for (const key of keys) {
        sql.exec(
          `INSERT INTO keyring_keys (kid, public_key, private_key, created_at, signs_until) VALUES (?, ?, ?, ?, ?)`,
          key.kid,
          sqlBlob(key.publicKey),
          key.privateKey === null ? null : sqlBlob(key.privateKey),
          key.createdAt,
          key.signsUntil,
        );
      }
    });
  }
}
