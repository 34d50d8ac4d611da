/**
 * The risk engine's SQLite store (workerd): an object whose table was created before the schema was
 * versioned (no `risk_meta`) is adopted as version 1 and keeps its baseline.
 */
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { SqlRiskStore } from "../../../../worker/verify/risk/index.ts";
import { emptyState } from "../../../../worker/verify/risk/score.ts";

const engineFor = () => env.RISK.get(env.RISK.idFromName(`acme/user/risk-store-${crypto.randomUUID()}`));

describe("SqlRiskStore schema", () => {
  it("adopts a table created before versioning and reads its state", async () => {
    await runInDurableObject(engineFor(), (_instance, state) => {
      const sql = state.storage.sql;
      // The table as the unversioned constructor created it, holding a principal's baseline.
      sql.exec(`DROP TABLE risk_meta`);
      sql.exec(`DROP TABLE risk_state`);
      sql.exec(`CREATE TABLE IF NOT EXISTS risk_state (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL, state TEXT NOT NULL)`);
      sql.exec(`INSERT INTO risk_state (id, version, state) VALUES (1, 1, ?)`, JSON.stringify({ ...emptyState(), requests: 7, tools: { search: 1_000 } }));

      const store = new SqlRiskStore(state.storage);
      expect(store.load()).toMatchObject({ requests: 7, tools: { search: 1_000 } });
      expect(sql.exec<{ value: string }>(`SELECT value FROM risk_meta WHERE key = 'schema_version'`).one().value).toBe("1");
      // Idempotent: the next start finds version 1 and changes nothing.
      expect(new SqlRiskStore(state.storage).load().requests).toBe(7);
    });
  });

  it("refuses a schema newer than the code (a rollback)", async () => {
    await runInDurableObject(engineFor(), (_instance, state) => {
      state.storage.sql.exec(`UPDATE risk_meta SET value = '2' WHERE key = 'schema_version'`);
      expect(() => new SqlRiskStore(state.storage)).toThrow(/newer/);
    });
  });
});
