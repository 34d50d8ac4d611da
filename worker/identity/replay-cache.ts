/**
 * `ReplayCache`: the DPoP proofs already seen for one proof key (callers address it with
 * `idFromName(jkt)`), so a captured proof cannot be sent again (RFC 9449 §11.1). Lives in a Durable
 * Object, not KV: the check-and-record must be atomic and strongly consistent, which KV is not.
 *
 * Bounds: a `jti` is remembered only until its proof's `iat` window closes (≈ 65 s), and an alarm
 * deletes expired rows. One object serves at most ~1,000 requests/s (the documented soft limit of a
 * single Durable Object), so its table holds at most ~1,000 × 65 ≈ 65,000 rows of ≤ 256-char `jti`s
 * (≈ 20 MB, on disk, not in memory), far under the 10 GB a SQLite-backed object may store.
 *
 * The Shared Signals receiver uses one per transmitter (`ssf <id>`) for SET `jti`s, with a two-step
 * claim (`hold`, then `settle` or `release`) so that an event whose effect failed can be delivered
 * again, while one applied, or being applied, cannot (worker/ssf-routes.ts).
 */
import { DurableObject } from "cloudflare:workers";
import { GatewayError } from "../errors.ts";
import { ensureSchema } from "../lib/sql-schema.ts";
import { MAX_JTI_CHARS } from "./dpop.ts";

/** The part of `DurableObjectStorage` the store needs; tests wrap it to fail chosen statements. */
export type SqlBackend = Pick<DurableObjectStorage, "sql" | "transactionSync">;

/** Longest a `jti` is kept whatever the caller asks: no DPoP window is this long, so rows cannot pile up. */
export const MAX_RETENTION_SECONDS = 600;
/** Expired rows are deleted in batches at most this often, not one alarm per row. */
export const PRUNE_INTERVAL_MS = 30_000;

/** Schema steps; step i brings version i to version i + 1. Append only, never edit a shipped step. */
const MIGRATIONS: readonly (readonly string[])[] = [
  [
    // One row per proof seen: its jti and when (epoch seconds) it may be forgotten.
    `CREATE TABLE replay_jti (jti TEXT PRIMARY KEY, expires_at INTEGER NOT NULL) WITHOUT ROWID`,
    `CREATE INDEX replay_jti_expiry ON replay_jti (expires_at)`,
  ],
  // A held jti (`hold`): its holder's token until settled; NULL once claimed for good.
  [`ALTER TABLE replay_jti ADD COLUMN holder TEXT`],
];

/** What `hold` found: the jti is now this caller's to apply, another delivery holds it, or it was applied. */
export type JtiHold = { state: "held"; holder: string } | { state: "pending" } | { state: "seen" };

export const REPLAY_SCHEMA_VERSION = MIGRATIONS.length;

export function ensureReplaySchema(storage: SqlBackend): void {
  ensureSchema(storage, {
    metaTable: "replay_meta",
    migrations: MIGRATIONS,
    tooNew: (found) => new Error(`replay cache schema version ${found} is newer than ${REPLAY_SCHEMA_VERSION}`),
  });
}

/** The replay rules over SQLite, free of the Durable Object shell so tests can drive it directly. */
export class SqlReplayStore {
  readonly #storage: SqlBackend;

  /** Ensures the schema; cheap and idempotent, so it runs every time the object starts. */
  constructor(storage: SqlBackend) {
    this.#storage = storage;
    ensureReplaySchema(storage);
  }

  /**
   * Records `jti` unless a live entry has it: true the first time, false on a replay. One statement,
   * so check and record are atomic. A row whose time has passed no longer counts: its proof would
   * now fail the `iat` window anyway.
   */
  claim(jti: string, expiresAt: number, nowSeconds: number): boolean {
    const keepUntil = Math.min(Math.ceil(expiresAt), Math.ceil(nowSeconds) + MAX_RETENTION_SECONDS);
    const written = this.#storage.sql
      .exec(
        `INSERT INTO replay_jti (jti, expires_at) VALUES (?, ?)
         ON CONFLICT (jti) DO UPDATE SET expires_at = excluded.expires_at, holder = NULL WHERE replay_jti.expires_at < ?
         RETURNING jti`,
        jti,
        keepUntil,
        nowSeconds,
      )
      .toArray();
    return written.length === 1;
  }

  /**
   * Holds `jti` for `holder` until `leaseUntil` unless a live entry has it (one statement, so two
   * deliveries cannot both hold it). A lease that ran out (its holder crashed) counts as free.
   */
  hold(jti: string, holder: string, leaseUntil: number, nowSeconds: number): JtiHold {
    const until = Math.min(Math.ceil(leaseUntil), Math.ceil(nowSeconds) + MAX_RETENTION_SECONDS);
    const sql = this.#storage.sql;
    const held = sql
      .exec(
        `INSERT INTO replay_jti (jti, expires_at, holder) VALUES (?, ?, ?)
         ON CONFLICT (jti) DO UPDATE SET expires_at = excluded.expires_at, holder = excluded.holder WHERE replay_jti.expires_at < ?
         RETURNING jti`,
        jti,
        until,
        holder,
        nowSeconds,
      )
      .toArray();
    if (held.length === 1) return { state: "held", holder };
    const row = sql.exec<{ holder: string | null }>(`SELECT holder FROM replay_jti WHERE jti = ?`, jti).one();
    return row.holder === null ? { state: "seen" } : { state: "pending" };
  }

  /** Turns `holder`'s hold into a claim kept until `expiresAt`; false when the hold was lost (lease ran out). */
  settle(jti: string, holder: string, expiresAt: number, nowSeconds: number): boolean {
    const keepUntil = Math.min(Math.ceil(expiresAt), Math.ceil(nowSeconds) + MAX_RETENTION_SECONDS);
    return (
      this.#storage.sql
        .exec(`UPDATE replay_jti SET expires_at = MAX(expires_at, ?), holder = NULL WHERE jti = ? AND holder = ? RETURNING jti`, keepUntil, jti, holder)
        .toArray().length === 1
    );
  }

  /** Gives `holder`'s hold up, so the next delivery of the jti is taken as new. */
  release(jti: string, holder: string): void {
    this.#storage.sql.exec(`DELETE FROM replay_jti WHERE jti = ? AND holder = ?`, jti, holder);
  }

  /** Deletes expired rows; returns the earliest expiry left (epoch seconds), if any. */
  prune(nowSeconds: number): number | undefined {
    this.#storage.sql.exec(`DELETE FROM replay_jti WHERE expires_at < ?`, nowSeconds);
    const next = this.#storage.sql.exec<{ next: number | null }>(`SELECT MIN(expires_at) AS next FROM replay_jti`).one().next;
    return next ?? undefined;
  }

  size(): number {
    return this.#storage.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM replay_jti`).one().n;
  }
}

function checkClaim(jti: unknown, expiresAt: unknown): void {
  if (typeof jti !== "string" || jti.length === 0 || jti.length > MAX_JTI_CHARS) throw new TypeError("jti must be 1–256 characters");
  if (typeof expiresAt !== "number" || !Number.isFinite(expiresAt)) throw new TypeError("expiresAt must be epoch seconds");
}

function checkHolder(holder: unknown): void {
  if (typeof holder !== "string" || holder.length === 0 || holder.length > 64) throw new TypeError("holder must be the token hold returned");
}

export class ReplayCache extends DurableObject<unknown> {
  readonly #store: SqlReplayStore;
  /** Whether an alarm is known to be pending; forgotten on eviction, then asked of storage again. */
  #alarmPending = false;

  constructor(ctx: DurableObjectState, env: unknown) {
    super(ctx, env);
    // Synchronous SQLite work only, so nothing else can run in the object before the schema exists.
    this.#store = new SqlReplayStore(ctx.storage);
  }

  /**
   * True the first time `jti` is claimed, false on a replay. The check and the insert are one
   * synchronous statement, so concurrent claims of one `jti` cannot both see it as new; the reply
   * is held by the output gate until the insert is durable, so a `true` survives a crash.
   */
  async claim(jti: string, expiresAt: number): Promise<boolean> {
    checkClaim(jti, expiresAt);
    const first = this.#store.claim(jti, expiresAt, Date.now() / 1000);
    if (first) await this.#ensureAlarm(expiresAt);
    return first;
  }

  /** After the insert, never between check and insert: awaiting here lets other claims run. */
  async #ensureAlarm(expiresAt: number): Promise<void> {
    if (this.#alarmPending) return;
    this.#alarmPending = true;
    if ((await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(this.#pruneTime(expiresAt));
  }

  /**
   * The first step of a two-step claim: `held` (with the token `settle`/`release` need) the first time,
   * or again once a failed delivery released it or its lease ran out; `pending` while another delivery
   * holds it; `seen` once settled.
   */
  async hold(jti: string, leaseUntil: number): Promise<JtiHold> {
    checkClaim(jti, leaseUntil);
    const hold = this.#store.hold(jti, crypto.randomUUID(), leaseUntil, Date.now() / 1000);
    if (hold.state === "held") await this.#ensureAlarm(leaseUntil);
    return hold;
  }

  async settle(jti: string, holder: string, expiresAt: number): Promise<boolean> {
    checkClaim(jti, expiresAt);
    checkHolder(holder);
    return this.#store.settle(jti, holder, expiresAt, Date.now() / 1000);
  }

  async release(jti: string, holder: string): Promise<void> {
    checkClaim(jti, 0);
    checkHolder(holder);
    this.#store.release(jti, holder);
  }

  override async alarm(): Promise<void> {
    const next = this.#store.prune(Date.now() / 1000);
    this.#alarmPending = next !== undefined;
    if (next !== undefined) await this.ctx.storage.setAlarm(this.#pruneTime(next));
  }

  #pruneTime(expiresAtSeconds: number): number {
    return Math.max(Math.ceil(expiresAtSeconds) * 1000 + 1000, Date.now() + PRUNE_INTERVAL_MS);
  }
}

/** Refuses a proof whose `jti` this key has used before; throws, never returns a verdict to ignore. */
export type ReplayGuard = (jkt: string, jti: string, expiresAt: number) => Promise<void>;

/**
 * The client side: one Durable Object per proof key. Fails closed: when the object cannot answer,
 * the proof is refused, because an unchecked proof might be a replay.
 */
export function createReplayGuard(namespace: DurableObjectNamespace<ReplayCache>): ReplayGuard {
  return async function guardAgainstReplay(jkt, jti, expiresAt) {
    let first: boolean;
    try {
      first = await namespace.get(namespace.idFromName(jkt)).claim(jti, expiresAt);
    } catch (cause) {
      throw new GatewayError("dpop_proof_invalid", "the DPoP proof could not be checked for replay", { cause });
    }
    if (!first) {
      throw new GatewayError("dpop_proof_replayed", "the DPoP proof has been used before");
    }
  };
}
