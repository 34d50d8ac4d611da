/**
 * `Revocations`: one Durable Object per tenant (named by the tenant id, placed in its jurisdiction:
 * worker/lib/tenant-placement.ts) holding what has been revoked: sessions by `sid`, tokens by `jti`,
 * and principals by kind and id (`<kind>/<id>`, principal-key.ts: revoking user X leaves workload X
 * alone) — "nothing they authenticated before T". Every
 * authenticated request asks it, so a revocation is in force on the next request in every isolate
 * and location; KV would take 60 s or more to propagate.
 *
 * Bounds: an entry is kept RETENTION_SECONDS (a token entry until its `exp` when that is known, no
 * longer than that), and an alarm deletes expired rows. A lookup is three primary-key reads of
 * SQLite in the object's own thread (microseconds); the round trip to the object is the cost.
 */
import { DurableObject } from "cloudflare:workers";
import { ensureSchema } from "../../lib/sql-schema.ts";
import { isPrincipalIdentity, principalKey, type PrincipalIdentity } from "./principal-key.ts";

export type SqlBackend = Pick<DurableObjectStorage, "sql" | "transactionSync">;

/**
 * 30 days: longer than any token the gateway accepts is likely to live (issuers cap their tokens'
 * age with `maxTokenAgeSeconds` ≤ 86,400), and a session revoked is not expected back.
 */
export const RETENTION_SECONDS = 30 * 86_400;
const PRUNE_INTERVAL_MS = 3600_000;
const MAX_ID_CHARS = 256;

export type Revocation =
  | { kind: "session"; sessionId: string; reason: string }
  | { kind: "token"; tokenId: string; expiresAt?: number; reason: string }
  /** Every credential of the principal authenticated before `notBefore` (epoch seconds). */
  | { kind: "principal"; principal: PrincipalIdentity; notBefore: number; reason: string };

export interface RevocationQuery {
  principal: PrincipalIdentity;
  sessionId?: string;
  tokenId?: string;
  /** When the credential was authenticated (auth_time, else iat), epoch seconds; unknown counts as before. */
  authenticatedAt?: number;
}

/** What a query hit, if anything. */
export type Revoked = "session" | "token" | "principal" | undefined;

function id(value: unknown, what: string): string {
  if (typeof value !== "string" || value.length === 0 || value.length > MAX_ID_CHARS) throw new TypeError(`${what} must be 1–${MAX_ID_CHARS} characters`);
  return value;
}

/** Schema steps; step i brings version i to version i + 1. Append only, never edit a shipped step. */
const MIGRATIONS: readonly (readonly string[])[] = [
  // The first schema (objects created before versioning have it, with no version recorded).
  [
    `CREATE TABLE IF NOT EXISTS revoked_session (sid TEXT PRIMARY KEY, expires_at INTEGER NOT NULL, reason TEXT NOT NULL) WITHOUT ROWID`,
    `CREATE TABLE IF NOT EXISTS revoked_token (jti TEXT PRIMARY KEY, expires_at INTEGER NOT NULL, reason TEXT NOT NULL) WITHOUT ROWID`,
    `CREATE TABLE IF NOT EXISTS revoked_principal (principal TEXT PRIMARY KEY, not_before INTEGER NOT NULL, expires_at INTEGER NOT NULL, reason TEXT NOT NULL) WITHOUT ROWID`,
  ],
  // Principals keyed by `<kind>/<id>`. A row keyed by a bare id does not say whose it was, so it is
  // kept for both kinds (fail closed) until it expires like any other.
  [
    `CREATE TABLE revoked_principal_kind (principal TEXT PRIMARY KEY, not_before INTEGER NOT NULL, expires_at INTEGER NOT NULL, reason TEXT NOT NULL) WITHOUT ROWID`,
    `INSERT INTO revoked_principal_kind SELECT 'user/' || principal, not_before, expires_at, reason FROM revoked_principal`,
    `INSERT INTO revoked_principal_kind SELECT 'workload/' || principal, not_before, expires_at, reason FROM revoked_principal`,
    `DROP TABLE revoked_principal`,
  ],
];

export const REVOCATION_SCHEMA_VERSION = MIGRATIONS.length;

function ensureRevocationSchema(storage: SqlBackend): void {
  ensureSchema(storage, {
    metaTable: "revocation_meta",
    migrations: MIGRATIONS,
    tooNew: (found) => new Error(`revocation schema version ${found} is newer than ${REVOCATION_SCHEMA_VERSION}`),
  });
}

function principalOf(value: unknown): string {
  if (!isPrincipalIdentity(value)) throw new TypeError("principal must be { kind: user | workload, id }");
  return principalKey(value);
}

export class SqlRevocationStore {
  readonly #storage: SqlBackend;

  constructor(storage: SqlBackend) {
    this.#storage = storage;
    ensureRevocationSchema(storage);
  }

  revoke(entry: Revocation, nowSeconds: number): void {
    const keep = Math.ceil(nowSeconds) + RETENTION_SECONDS;
    switch (entry.kind) {
      case "session":
        this.#storage.sql.exec(
          `INSERT INTO revoked_session (sid, expires_at, reason) VALUES (?, ?, ?) ON CONFLICT (sid) DO UPDATE SET expires_at = excluded.expires_at`,
          id(entry.sessionId, "sessionId"),
          keep,
          entry.reason,
        );
        return;
      case "token":
        this.#storage.sql.exec(
          `INSERT INTO revoked_token (jti, expires_at, reason) VALUES (?, ?, ?) ON CONFLICT (jti) DO UPDATE SET expires_at = excluded.expires_at`,
          id(entry.tokenId, "tokenId"),
          Math.min(keep, Math.ceil(entry.expiresAt ?? keep)),
          entry.reason,
        );
        return;
      case "principal":
        // A later revocation moves the line forward; an earlier one (a replayed event) never moves it back.
        this.#storage.sql.exec(
          `INSERT INTO revoked_principal_kind (principal, not_before, expires_at, reason) VALUES (?, ?, ?, ?)
           ON CONFLICT (principal) DO UPDATE SET not_before = MAX(not_before, excluded.not_before), expires_at = excluded.expires_at, reason = excluded.reason`,
          principalOf(entry.principal),
          Math.floor(entry.notBefore),
          keep,
          entry.reason,
        );
        return;
    }
  }

  check(query: RevocationQuery, nowSeconds: number): Revoked {
    const sql = this.#storage.sql;
    if (query.sessionId !== undefined && sql.exec(`SELECT 1 FROM revoked_session WHERE sid = ? AND expires_at >= ?`, query.sessionId, nowSeconds).toArray().length > 0) {
      return "session";
    }
    if (query.tokenId !== undefined && sql.exec(`SELECT 1 FROM revoked_token WHERE jti = ? AND expires_at >= ?`, query.tokenId, nowSeconds).toArray().length > 0) {
      return "token";
    }
    const row = sql
      .exec<{ not_before: number }>(`SELECT not_before FROM revoked_principal_kind WHERE principal = ? AND expires_at >= ?`, principalOf(query.principal), nowSeconds)
      .toArray()[0];
    // Strictly before: a credential authenticated in the same second as the revocation is after it.
    if (row !== undefined && (query.authenticatedAt === undefined || query.authenticatedAt < row.not_before)) return "principal";
    return undefined;
  }

  /** Deletes expired entries; true when some remain (so another pruning is due). */
  prune(nowSeconds: number): boolean {
    let left = 0;
    for (const table of ["revoked_session", "revoked_token", "revoked_principal_kind"]) {
      this.#storage.sql.exec(`DELETE FROM ${table} WHERE expires_at < ?`, nowSeconds);
      left += this.#storage.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM ${table}`).one().n;
    }
    return left > 0;
  }
}

export class Revocations extends DurableObject<unknown> {
  readonly #store: SqlRevocationStore;

  constructor(ctx: DurableObjectState, env: unknown) {
    super(ctx, env);
    this.#store = new SqlRevocationStore(ctx.storage);
  }

  async check(query: RevocationQuery): Promise<Revoked> {
    principalOf(query?.principal);
    return this.#store.check(query, Date.now() / 1000);
  }

  /** In force for every later `check` once this resolves (the write is durable before the reply). */
  async revoke(entry: Revocation): Promise<void> {
    if (typeof entry?.reason !== "string" || entry.reason.length > 512) throw new TypeError("a revocation needs a reason");
    this.#store.revoke(entry, Date.now() / 1000);
    if ((await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(Date.now() + PRUNE_INTERVAL_MS);
  }

  override async alarm(): Promise<void> {
    if (this.#store.prune(Date.now() / 1000)) await this.ctx.storage.setAlarm(Date.now() + PRUNE_INTERVAL_MS);
  }
}
