/**
 * The rate limiter's SQLite usage store (workerd): an object whose table was created before the
 * schema was versioned (no `limiter_meta`) is adopted as version 1 and keeps its token usage.
 */
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { SqlUsageStore } from "../../../worker/network/rate-limiter.ts";

const limiterFor = () => env.RATE_LIMITER.get(env.RATE_LIMITER.idFromName(`limiter-store-${crypto.randomUUID()}`));

describe("SqlUsageStore schema", () => {
  it("adopts a table created before versioning and reads its usage", async () => {
    await runInDurableObject(limiterFor(), (_instance, state) => {
      const sql = state.storage.sql;
      // The table as the unversioned constructor created it, holding a principal's usage.
      sql.exec(`DROP TABLE limiter_meta`);
      sql.exec(`DROP TABLE limiter_usage`);
      sql.exec(`CREATE TABLE IF NOT EXISTS limiter_usage (scope TEXT PRIMARY KEY, window_start INTEGER NOT NULL, used INTEGER NOT NULL)`);
      sql.exec(`INSERT INTO limiter_usage (scope, window_start, used) VALUES ('p:alice', 1000, 42)`);

      const store = new SqlUsageStore(state.storage);
      expect(store.get("p:alice")).toEqual({ windowStart: 1000, used: 42 });
      expect(sql.exec<{ value: string }>(`SELECT value FROM limiter_meta WHERE key = 'schema_version'`).one().value).toBe("1");
      // Writes go to the adopted table, and the next start (idempotent) reads them back.
      store.put("p:alice", { windowStart: 2000, used: 1 });
      expect(new SqlUsageStore(state.storage).get("p:alice")).toEqual({ windowStart: 2000, used: 1 });
    });
  });

  it("refuses a schema newer than the code (a rollback)", async () => {
    await runInDurableObject(limiterFor(), (_instance, state) => {
      state.storage.sql.exec(`UPDATE limiter_meta SET value = '2' WHERE key = 'schema_version'`);
      expect(() => new SqlUsageStore(state.storage)).toThrow(/newer/);
    });
  });
});
