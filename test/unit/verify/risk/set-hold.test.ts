/**
 * The two-step claim of a SET's jti in the real ReplayCache (workerd SQLite): hold, then settle or
 * release. What the Shared Signals receiver's exactly-once effect rests on.
 */
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { type JtiHold, REPLAY_SCHEMA_VERSION, SqlReplayStore } from "../../../../worker/identity/replay-cache.ts";

let counter = 0;
const cacheFor = () => env.REPLAY_CACHE.get(env.REPLAY_CACHE.idFromName(`ssf test-${Date.now()}-${counter++}`));
const seconds = (from: number) => Math.floor(Date.now() / 1000) + from;

/** Awaits an RPC call into a plain promise. */
async function settled<T>(call: Promise<T>): Promise<T> {
  return await call;
}

function holderOf(hold: JtiHold): string {
  if (hold.state !== "held") throw new Error(`expected a hold, got ${hold.state}`);
  return hold.holder;
}

describe("ReplayCache hold / settle / release", () => {
  it("holds a jti once; another delivery sees it pending; settled, it is seen", async () => {
    const cache = cacheFor();
    const holder = holderOf(await cache.hold("set-1", seconds(30)));
    expect(await cache.hold("set-1", seconds(30))).toEqual({ state: "pending" });
    expect(await cache.settle("set-1", holder, seconds(300))).toBe(true);
    expect(await cache.hold("set-1", seconds(30))).toEqual({ state: "seen" });
  });

  it("takes a released jti as new again (the apply failed)", async () => {
    const cache = cacheFor();
    const first = holderOf(await cache.hold("set-2", seconds(30)));
    await cache.release("set-2", first);
    const second = holderOf(await cache.hold("set-2", seconds(30)));
    expect(second).not.toBe(first);
  });

  it("gives exactly one of 20 parallel holds of the same jti", async () => {
    const cache = cacheFor();
    const holds: JtiHold[] = await Promise.all(Array.from({ length: 20 }, async (): Promise<JtiHold> => await cache.hold("raced", seconds(30))));
    expect(holds.filter((h) => h.state === "held")).toHaveLength(1);
    expect(holds.filter((h) => h.state === "pending")).toHaveLength(19);
  });

  it("frees a hold whose lease lapsed (its delivery died); the old holder can then neither settle nor release it", async () => {
    const cache = cacheFor();
    const stale = holderOf(await cache.hold("set-3", seconds(30)));
    await runInDurableObject(cache, async (_instance, state) => {
      state.storage.sql.exec(`UPDATE replay_jti SET expires_at = 0 WHERE jti = 'set-3'`);
    });
    const fresh = holderOf(await cache.hold("set-3", seconds(30)));
    expect(await cache.settle("set-3", stale, seconds(300))).toBe(false);
    await cache.release("set-3", stale);
    expect(await cache.hold("set-3", seconds(30))).toEqual({ state: "pending" });
    expect(await cache.settle("set-3", fresh, seconds(300))).toBe(true);
  });

  it("refuses a holder token that is not one", async () => {
    const cache = cacheFor();
    await expect(settled(cache.settle("set-4", "", seconds(300)))).rejects.toThrow(/holder/);
    await expect(settled(cache.release("set-4", "x".repeat(65)))).rejects.toThrow(/holder/);
  });

  it("adds the holder column to a cache created before it, keeping its claims", async () => {
    await runInDurableObject(cacheFor(), async (_instance, state) => {
      const sql = state.storage.sql;
      sql.exec(`DROP TABLE replay_jti`);
      sql.exec(`CREATE TABLE replay_jti (jti TEXT PRIMARY KEY, expires_at INTEGER NOT NULL) WITHOUT ROWID`);
      sql.exec(`INSERT INTO replay_jti VALUES ('old', ?)`, seconds(60));
      sql.exec(`UPDATE replay_meta SET value = '1' WHERE key = 'schema_version'`);
      const store = new SqlReplayStore(state.storage);
      expect(REPLAY_SCHEMA_VERSION).toBe(2);
      expect(store.hold("old", "h", seconds(30), Date.now() / 1000)).toEqual({ state: "seen" });
      expect(store.claim("old", seconds(60), Date.now() / 1000)).toBe(false);
    });
  });
});
