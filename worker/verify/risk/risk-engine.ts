/**
 * `RiskEngine`: one Durable Object per principal (named `<tenant>/<kind>/<id>`, principal-key.ts, in
 * the tenant's jurisdiction) holding its behavioural baseline (score.ts) in SQLite. A thin shell: the
 * state is one JSON row, read once when the object starts and kept in memory; every change is written
 * back before the reply leaves (the output gate holds the reply until the write is durable).
 *
 * Size: the state is bounded by score.ts (three sets of ≤ 32 names, a handful of numbers), a few KB,
 * far under SQLite's 2 MB row limit in a Durable Object.
 */
import { DurableObject } from "cloudflare:workers";
import { ensureSchema, type SqlSchema } from "../../lib/sql-schema.ts";
import {
  assertLevel,
  currentLevel,
  emptyState,
  isRiskLevel,
  observe,
  parseState,
  type Observation,
  type RiskLevel,
  type RiskState,
  type RiskTuning,
  tuningFrom,
} from "./score.ts";

/** The part of `DurableObjectStorage` the store needs; tests wrap it to fail chosen statements. */
export type SqlBackend = Pick<DurableObjectStorage, "sql" | "transactionSync">;

export const RISK_SCHEMA_VERSION = 1;
/** A request and its usage: what one call folds in; more is a caller's error. */
const MAX_OBSERVATIONS_PER_CALL = 8;

/**
 * Table schema steps (versioned in `risk_meta`); step i brings version i to version i + 1. Append
 * only, never edit a shipped step. The row's `version` column (RISK_SCHEMA_VERSION) is the row's own
 * format; the state it holds carries its own version (score.ts, read back by `parseState`).
 */
const MIGRATIONS: readonly (readonly string[])[] = [
  // The first schema (objects created before versioning have it, with no version recorded).
  [`CREATE TABLE IF NOT EXISTS risk_state (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL, state TEXT NOT NULL)`],
];

const RISK_TABLES: SqlSchema = {
  metaTable: "risk_meta",
  migrations: MIGRATIONS,
  tooNew: (found) => new Error(`risk table schema version ${found} is newer than ${MIGRATIONS.length}`),
};

/** The state as one row; the schema is ensured (idempotently) every time the object starts. */
export class SqlRiskStore {
  readonly #storage: SqlBackend;

  constructor(storage: SqlBackend) {
    this.#storage = storage;
    ensureSchema(storage, RISK_TABLES);
  }

  load(): RiskState {
    const row = this.#storage.sql.exec<{ version: number; state: string }>(`SELECT version, state FROM risk_state WHERE id = 1`).toArray()[0];
    if (row === undefined) return emptyState();
    if (row.version !== RISK_SCHEMA_VERSION) throw new Error(`risk state schema version ${row.version} is not ${RISK_SCHEMA_VERSION}`);
    return parseState(JSON.parse(row.state));
  }

  save(state: RiskState): void {
    this.#storage.sql.exec(
      `INSERT INTO risk_state (id, version, state) VALUES (1, ?, ?) ON CONFLICT (id) DO UPDATE SET version = excluded.version, state = excluded.state`,
      RISK_SCHEMA_VERSION,
      JSON.stringify(state),
    );
  }
}

/** What a caller learns: the level now, and (when it changed) what it was and why. */
export interface RiskReading {
  level: RiskLevel;
}

export interface RiskChange {
  previous: RiskLevel;
  level: RiskLevel;
  reasons: string[];
}

/** The answer to an observation or an assertion: the level now, and the change if there was one. */
export interface RiskUpdate extends RiskReading {
  change?: RiskChange;
}

/** Longest a transmitter's assertion holds without being repeated: 24 h (CAEP transmitters resend on change). */
export const MAX_ASSERTION_MS = 24 * 3600_000;

function validObservation(value: unknown): value is Observation {
  if (typeof value !== "object" || value === null) return false;
  const o = value as Record<string, unknown>;
  if (typeof o.at !== "number" || !Number.isFinite(o.at)) return false;
  if (o.kind === "usage") return typeof o.tokens === "number" && Number.isFinite(o.tokens);
  return (
    o.kind === "request" &&
    typeof o.denied === "boolean" &&
    Array.isArray(o.tools) &&
    o.tools.every((t) => typeof t === "string" && t.length <= 128) &&
    typeof o.place === "object" &&
    o.place !== null &&
    (o.level === undefined || typeof o.level === "number") &&
    (o.limited === undefined || typeof o.limited === "boolean")
  );
}

/** The engine's own setting: `RISK_TUNING` (wrangler var), overrides of the scoring thresholds. */
interface RiskEngineEnv {
  RISK_TUNING?: string;
}

export class RiskEngine extends DurableObject<RiskEngineEnv> {
  readonly #store: SqlRiskStore;
  readonly #tuning: RiskTuning;
  #state: RiskState;

  constructor(ctx: DurableObjectState, env: RiskEngineEnv) {
    super(ctx, env);
    this.#tuning = tuningFrom(env.RISK_TUNING);
    // Synchronous SQLite work only, so no request runs before the state is loaded.
    this.#store = new SqlRiskStore(ctx.storage);
    this.#state = this.#store.load();
  }

  /** The level in force now; memory only, no storage access. */
  async level(): Promise<RiskReading> {
    return { level: currentLevel(this.#state, Date.now()) };
  }

  /**
   * Folds observations in, in order — one call for a request and its token usage when both are known
   * by the time it is reported, so a request costs one round trip and one write. The time is the
   * object's own clock, not the caller's (an isolate's clock is not trusted to order observations).
   * No `await` between reading and writing `#state`, so concurrent calls cannot lose each other's updates.
   */
  async observe(observations: Observation[]): Promise<RiskUpdate> {
    if (!Array.isArray(observations) || observations.length === 0 || observations.length > MAX_OBSERVATIONS_PER_CALL || !observations.every(validObservation)) {
      throw new TypeError("not a list of risk observations");
    }
    const now = Date.now();
    const previous = currentLevel(this.#state, now);
    let state = this.#state;
    let level = previous;
    const reasons: string[] = [];
    for (const observation of observations) {
      const scored = observe(state, { ...observation, at: now }, now, this.#tuning);
      state = scored.state;
      level = scored.level;
      reasons.push(...scored.signals.map((s) => s.reason));
    }
    this.#store.save(state);
    this.#state = state;
    return this.#reply(previous, level, [...new Set(reasons)]);
  }

  /**
   * A trusted transmitter's level (Shared Signals); `low` withdraws an earlier assertion. `madeAt`
   * (the event's time, epoch s) orders assertions: one older than the latest applied changes nothing.
   */
  async assert(level: RiskLevel, source: string, reason: string, ttlMs: number, madeAt?: number): Promise<RiskUpdate> {
    if (!isRiskLevel(level) || typeof source !== "string" || typeof reason !== "string") throw new TypeError("not a risk assertion");
    if (madeAt !== undefined && (typeof madeAt !== "number" || !Number.isFinite(madeAt))) throw new TypeError("not a risk assertion");
    const now = Date.now();
    const previous = currentLevel(this.#state, now);
    const next = assertLevel(this.#state, level, source, reason, now, Math.min(Math.max(ttlMs, 0), MAX_ASSERTION_MS), madeAt);
    this.#store.save(next);
    this.#state = next;
    return this.#reply(previous, currentLevel(next, now), [reason]);
  }

  #reply(previous: RiskLevel, level: RiskLevel, reasons: string[]): RiskUpdate {
    return previous === level ? { level } : { level, change: { previous, level, reasons } };
  }
}
