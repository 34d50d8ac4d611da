/**
 * Versioned SQLite schemas for Durable Objects. An object records its schema version in its own
 * meta table and, every time it starts, runs the steps it has not run yet, in one transaction with
 * nothing else able to run in between. Steps are append only: never edit a shipped one.
 */

export type SqlSchemaBackend = Pick<DurableObjectStorage, "sql" | "transactionSync">;

export interface SqlSchema {
  /** The table holding `schema_version` (one per object kind, e.g. `replay_meta`). */
  metaTable: string;
  /** Step i brings version i to version i + 1. */
  migrations: readonly (readonly string[])[];
  /** The error for a stored version newer than this code knows (a rollback of the code). */
  tooNew(found: string | undefined): Error;
}

export function ensureSchema(storage: SqlSchemaBackend, schema: SqlSchema): void {
  const { metaTable, migrations } = schema;
  storage.transactionSync(() => {
    storage.sql.exec(`CREATE TABLE IF NOT EXISTS ${metaTable} (key TEXT PRIMARY KEY, value TEXT NOT NULL)`);
    const row = storage.sql.exec<{ value: string }>(`SELECT value FROM ${metaTable} WHERE key = 'schema_version'`).toArray()[0];
    const found = row === undefined ? 0 : Number(row.value);
    if (!Number.isInteger(found) || found > migrations.length) throw schema.tooNew(row?.value);
    for (let version = found; version < migrations.length; version++) {
      for (const statement of migrations[version] ?? []) storage.sql.exec(statement);
    }
    storage.sql.exec(
      `INSERT INTO ${metaTable} (key, value) VALUES ('schema_version', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
      String(migrations.length),
    );
  });
}
