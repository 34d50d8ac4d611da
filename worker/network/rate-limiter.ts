/**
 * `RateLimiter`: one Durable Object per tenant (`idFromName(<tenant>)`) that admits requests against
 * the principal's and the tenant's limits (limits.ts) in one call, so a request costs one round trip
 * whatever the number of scopes. Why per tenant and not per principal: the tenant's own bucket must
 * live in one place anyway, and the principal's buckets beside it are free; the object is then the
 * tenant's hot spot, which bounds one tenant at roughly one object's throughput (about a thousand
 * simple calls a second), far above the defaults.
 *
 * Token usage is durable (SQLite, one row per scope, written by `charge` after a reply, off the
 * request path); request buckets are memory only (see LimiterCore).
 */
import { DurableObject } from "cloudflare:workers";
import { ensureSchema, type SqlSchema } from "../lib/sql-schema.ts";
import { type Admission, LimiterCore, type Limits, type Usage, type UsageStore } from "./limits.ts";

/** The part of `DurableObjectStorage` the store needs. */
export type SqlBackend = Pick<DurableObjectStorage, "sql" | "transactionSync">;

/**
 * Schema steps (versioned in `limiter_meta`); step i brings version i to version i + 1. Append only,
 * never edit a shipped step.
 */
const MIGRATIONS: readonly (readonly string[])[] = [
  // The first schema (objects created before versioning have it, with no version recorded).
  [`CREATE TABLE IF NOT EXISTS limiter_usage (scope TEXT PRIMARY KEY, window_start INTEGER NOT NULL, used INTEGER NOT NULL)`],
];

const LIMITER_TABLES: SqlSchema = {
  metaTable: "limiter_meta",
  migrations: MIGRATIONS,
  tooNew: (found) => new Error(`rate limiter schema version ${found} is newer than ${MIGRATIONS.length}`),
};

/** Usage rows, read through an in-memory copy: `admit` never waits for storage. */
export class SqlUsageStore implements UsageStore {
  readonly #storage: SqlBackend;
  readonly #cache = new Map<string, Usage>();

  constructor(storage: SqlBackend) {
    this.#storage = storage;
    ensureSchema(storage, LIMITER_TABLES);
    for (const row of storage.sql.exec<{ scope: string; window_start: number; used: number }>(`SELECT scope, window_start, used FROM limiter_usage`)) {
      this.#cache.set(row.scope, { windowStart: row.window_start, used: row.used });
    }
  }

  get(key: string): Usage | undefined {
    return this.#cache.get(key);
  }

  put(key: string, usage: Usage): void {
    this.#storage.sql.exec(
      `INSERT INTO limiter_usage (scope, window_start, used) VALUES (?, ?, ?) ON CONFLICT (scope) DO UPDATE SET window_start = excluded.window_start, used = excluded.used`,
      key,
      usage.windowStart,
      usage.used,
    );
    this.#cache.set(key, usage);
  }
}

export class RateLimiter extends DurableObject {
  readonly #core: LimiterCore;

  constructor(ctx: DurableObjectState, env: Cloudflare.Env) {
    super(ctx, env);
    this.#core = new LimiterCore(new SqlUsageStore(ctx.storage));
  }

  /** Admits one request of `principal` (consuming it) or says which limit refused it and for how long. */
  admit(principal: string, limits: Limits): Admission {
    return this.#core.admit(principal, limits, Date.now());
  }

  /** Counts a completed call's model tokens against the principal's and the tenant's budgets. */
  charge(principal: string, tokens: number, limits: Limits): void {
    this.#core.charge(principal, tokens, limits, Date.now());
  }
}
