/** The real ReplayCache Durable Object in workerd: claims over RPC, pruning by alarm, the fail-closed guard. */
import { env } from "cloudflare:workers";
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { errorResponse, GatewayError } from "../../worker/errors.ts";
import { createReplayGuard, MAX_RETENTION_SECONDS, type ReplayCache, SqlReplayStore } from "../../worker/identity/replay-cache.ts";

/** Each test takes its own proof key, so its cache starts empty whatever ran before. */
let counter = 0;
const keyName = (label: string) => `${label}-${Date.now()}-${counter++}`;
const cacheFor = (jkt: string) => env.REPLAY_CACHE.get(env.REPLAY_CACHE.idFromName(jkt));
const inAMinute = () => Math.floor(Date.now() / 1000) + 60;

/** Awaits an RPC call into a plain promise (see audit-log.test.ts: `rejects` on an RPC promise pipelines). */
async function settled<T>(call: Promise<T>): Promise<T> {
  return await call;
}

async function refusal(promise: Promise<unknown>): Promise<GatewayError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(GatewayError);
    return error as GatewayError;
  }
  throw new Error("expected a refusal");
}

describe("ReplayCache over RPC", () => {
  it("claims a jti the first time and refuses it the second", async () => {
    const cache = cacheFor(keyName("jkt"));
    expect(await cache.claim("jti-1", inAMinute())).toBe(true);
    expect(await cache.claim("jti-1", inAMinute())).toBe(false);
    expect(await cache.claim("jti-2", inAMinute())).toBe(true);
  });

  it("keeps proof keys independent: one key's jti does not block another's", async () => {
    const a = cacheFor(keyName("jkt-a"));
    const b = cacheFor(keyName("jkt-b"));
    expect(await a.claim("shared-jti", inAMinute())).toBe(true);
    expect(await b.claim("shared-jti", inAMinute())).toBe(true);
    expect(await a.claim("shared-jti", inAMinute())).toBe(false);
  });

  it("gives exactly one of 50 parallel claims of the same jti", async () => {
    const cache = cacheFor(keyName("jkt"));
    const results = await Promise.all(Array.from({ length: 50 }, () => settled(cache.claim("raced", inAMinute()))));
    expect(results.filter(Boolean)).toHaveLength(1);
  });

  it("gives exactly one success per jti when 50 parallel claims go through separate stubs", async () => {
    const jkt = keyName("jkt");
    const results = await Promise.all(Array.from({ length: 50 }, () => settled(cacheFor(jkt).claim("raced", inAMinute()))));
    expect(results.filter(Boolean)).toHaveLength(1);
  });

  it("refuses malformed input", async () => {
    const cache = cacheFor(keyName("jkt"));
    await expect(settled(cache.claim("", inAMinute()))).rejects.toThrow(/jti/);
    await expect(settled(cache.claim("x".repeat(257), inAMinute()))).rejects.toThrow(/jti/);
    await expect(settled(cache.claim("ok", Number.NaN))).rejects.toThrow(/expiresAt/);
  });
});

describe("ReplayCache storage and pruning", () => {
  it("schedules an alarm on the first claim and prunes expired rows when it runs", async () => {
    const stub = cacheFor(keyName("jkt"));
    const past = Math.floor(Date.now() / 1000) - 5;
    expect(await stub.claim("old-1", past)).toBe(true);
    expect(await stub.claim("old-2", past)).toBe(true);
    expect(await stub.claim("live", inAMinute())).toBe(true);
    await runInDurableObject(stub, async (_instance: ReplayCache, state) => {
      expect(await state.storage.getAlarm()).not.toBeNull();
      expect(new SqlReplayStore(state.storage).size()).toBe(3);
    });

    expect(await runDurableObjectAlarm(stub)).toBe(true);
    await runInDurableObject(stub, async (_instance: ReplayCache, state) => {
      expect(new SqlReplayStore(state.storage).size()).toBe(1);
      // A live row remains, so the next prune is already scheduled.
      expect(await state.storage.getAlarm()).not.toBeNull();
    });
    expect(await stub.claim("live", inAMinute())).toBe(false);

    // Once the last row is gone, no alarm is left behind.
    await runInDurableObject(stub, (_instance: ReplayCache, state) => {
      state.storage.sql.exec(`UPDATE replay_jti SET expires_at = 0`);
    });
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    await runInDurableObject(stub, async (_instance: ReplayCache, state) => {
      expect(new SqlReplayStore(state.storage).size()).toBe(0);
      expect(await state.storage.getAlarm()).toBeNull();
    });
  });

  it("lets an expired entry be claimed again (its proof would fail the iat window anyway)", async () => {
    const stub = cacheFor(keyName("jkt"));
    const past = Math.floor(Date.now() / 1000) - 5;
    expect(await stub.claim("again", past)).toBe(true);
    expect(await stub.claim("again", inAMinute())).toBe(true);
    expect(await stub.claim("again", inAMinute())).toBe(false);
  });

  it("never keeps a jti longer than the retention cap, whatever the caller asks", async () => {
    const stub = cacheFor(keyName("jkt"));
    expect(await stub.claim("far", Math.floor(Date.now() / 1000) + 10 * 365 * 86_400)).toBe(true);
    await runInDurableObject(stub, (_instance: ReplayCache, state) => {
      const row = state.storage.sql.exec<{ expires_at: number }>(`SELECT expires_at FROM replay_jti WHERE jti = 'far'`).one();
      expect(row.expires_at).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000) + MAX_RETENTION_SECONDS);
    });
  });

  it("ensures its schema idempotently", async () => {
    const stub = cacheFor(keyName("jkt"));
    await runInDurableObject(stub, (_instance: ReplayCache, state) => {
      new SqlReplayStore(state.storage);
      const store = new SqlReplayStore(state.storage);
      expect(store.claim("x", Date.now() / 1000 + 60, Date.now() / 1000)).toBe(true);
      expect(store.claim("x", Date.now() / 1000 + 60, Date.now() / 1000)).toBe(false);
    });
  });
});

describe("createReplayGuard", () => {
  it("passes a first proof and refuses its replay with dpop_proof_replayed", async () => {
    const guard = createReplayGuard(env.REPLAY_CACHE);
    const jkt = keyName("jkt");
    await guard(jkt, "proof-1", inAMinute());
    const error = await refusal(guard(jkt, "proof-1", inAMinute()));
    expect(error.code).toBe("dpop_proof_replayed");
    expect(error.status).toBe(401);
    expect(errorResponse(error, "openai", "req-1").headers.get("www-authenticate")).toMatch(/^DPoP realm="verity", error="invalid_dpop_proof"/);
    // The same jti under another key is a different proof.
    await guard(keyName("jkt"), "proof-1", inAMinute());
  });

  it("fails closed when the Durable Object cannot answer", async () => {
    const broken = {
      idFromName: (name: string) => env.REPLAY_CACHE.idFromName(name),
      get: () => ({ claim: () => Promise.reject(new Error("object overloaded")) }),
    } as unknown as DurableObjectNamespace<ReplayCache>;
    const error = await refusal(createReplayGuard(broken)(keyName("jkt"), "proof", inAMinute()));
    expect(error.code).toBe("dpop_proof_invalid");
    expect(error.message).toBe("the DPoP proof could not be checked for replay");
  });

  it("fails closed when the object refuses the input", async () => {
    const error = await refusal(createReplayGuard(env.REPLAY_CACHE)(keyName("jkt"), "", inAMinute()));
    expect(error.code).toBe("dpop_proof_invalid");
  });
});
