/**
 * A user and a workload with the same id in one tenant are two principals: revoking one does not
 * revoke the other, and risk raised for one does not raise the other. Real `Revocations` and
 * `RiskEngine` objects (workerd SQLite), driven the way the pipeline and the SSF receiver drive them.
 */
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { Principal } from "../../../../worker/context.ts";
import { GatewayError } from "../../../../worker/errors.ts";
import { createContinuousVerification, principalKey, REVOCATION_SCHEMA_VERSION, riskEngineName, SqlRevocationStore } from "../../../../worker/verify/risk/index.ts";

let counter = 0;
const unique = (label: string) => `${label}-${Date.now()}-${counter++}`;

/** The user and the workload `id` of a fresh tenant, both signed in at t = 1000 s. */
function twins(): { user: Principal; workload: Principal } {
  const tenant = unique("tenant");
  const id = unique("shared-id");
  const authn: Principal["authn"] = { method: "oidc", issuer: "http://idp", acr: "", amr: [], mfa: false, expiresAt: 4_000_000_000, binding: "none", authTime: 1_000 };
  return {
    user: { kind: "user", id, tenant, groups: [], attributes: {}, authn },
    workload: { kind: "workload", id, tenant, groups: [], attributes: {}, authn: { ...authn, method: "spiffe-jwt" } },
  };
}

async function refusalCode(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(GatewayError);
    return (error as GatewayError).code;
  }
  return "served";
}

describe("principal keys carry the kind", () => {
  it("names a user's and a workload's engine and revocation key apart, with one helper", () => {
    const { user, workload } = twins();
    expect(riskEngineName(user)).toBe(`${user.tenant}/user/${user.id}`);
    expect(riskEngineName(workload)).toBe(`${user.tenant}/workload/${user.id}`);
    expect(principalKey(user)).not.toBe(principalKey(workload));
  });

  const directions = [
    ["user", "workload"],
    ["workload", "user"],
  ] as const;

  it.each(directions)("revoking %s X does not revoke %s X", async (revoked, spared) => {
    const continuous = createContinuousVerification({ riskCacheMs: 0 });
    const pair = twins();
    const target = pair[revoked];
    await continuous.apply(env, { kind: "revoke", tenant: target.tenant, revocation: { kind: "principal", principal: { kind: target.kind, id: target.id }, notBefore: 2_000, reason: "test" } }, "test");
    expect(await refusalCode(continuous.assess(pair[revoked], env))).toBe("session_revoked");
    expect(await refusalCode(continuous.assess(pair[spared], env))).toBe("served");
  });

  it.each(directions)("risk raised for %s X does not raise %s X", async (raised, spared) => {
    const continuous = createContinuousVerification({ riskCacheMs: 0 });
    const pair = twins();
    const target = pair[raised];
    await continuous.apply(env, { kind: "risk", tenant: target.tenant, principal: { kind: target.kind, id: target.id }, level: "medium", reason: "test", at: 1_000 }, "ssf:test");
    expect((await continuous.assess(pair[raised], env)).risk).toBe("medium");
    expect((await continuous.assess(pair[spared], env)).risk).toBe("low");
  });

  it("ignores an assertion older than the latest applied (a retried delivery arriving after a newer event)", async () => {
    const continuous = createContinuousVerification({ riskCacheMs: 0 });
    const { user } = twins();
    const risk = (level: "low" | "medium" | "high", at: number) =>
      continuous.apply(env, { kind: "risk", tenant: user.tenant, principal: { kind: "user", id: user.id }, level, reason: "ssf:risk-level-change", at }, "ssf:test");
    await risk("medium", 2_000);
    await risk("low", 3_000);
    expect((await risk("high", 2_500))?.change).toBeUndefined();
    expect((await continuous.assess(user, env)).risk).toBe("low");
    expect((await risk("medium", 3_000))?.level).toBe("medium");
  });

  it("refuses a revocation or a check that names no kind (the old string form)", async () => {
    const stub = env.REVOCATIONS.get(env.REVOCATIONS.idFromName(unique("tenant")));
    await expect((async () => await stub.check({ principal: "dave" } as never))()).rejects.toThrow(/principal must be/);
    await expect((async () => await stub.revoke({ kind: "principal", principal: "dave", notBefore: 1, reason: "x" } as never))()).rejects.toThrow(/principal must be/);
  });

  it("keeps a principal revoked before kinds existed revoked for both kinds (migration fails closed)", async () => {
    const stub = env.REVOCATIONS.get(env.REVOCATIONS.idFromName(unique("tenant")));
    await runInDurableObject(stub, async (_instance, state) => {
      const sql = state.storage.sql;
      // The first schema, as an object created before this change holds it: no version, bare ids.
      sql.exec(`DROP TABLE revoked_principal_kind`);
      sql.exec(`DELETE FROM revocation_meta`);
      sql.exec(`CREATE TABLE revoked_principal (principal TEXT PRIMARY KEY, not_before INTEGER NOT NULL, expires_at INTEGER NOT NULL, reason TEXT NOT NULL) WITHOUT ROWID`);
      sql.exec(`INSERT INTO revoked_principal VALUES ('erin', 2000, ?, 'before kinds')`, Math.floor(Date.now() / 1000) + 3600);
      const store = new SqlRevocationStore(state.storage);
      const now = Date.now() / 1000;
      expect(store.check({ principal: { kind: "user", id: "erin" }, authenticatedAt: 1000 }, now)).toBe("principal");
      expect(store.check({ principal: { kind: "workload", id: "erin" }, authenticatedAt: 1000 }, now)).toBe("principal");
      expect(store.check({ principal: { kind: "user", id: "frank" }, authenticatedAt: 1000 }, now)).toBeUndefined();
      expect(sql.exec<{ value: string }>(`SELECT value FROM revocation_meta WHERE key = 'schema_version'`).one().value).toBe(String(REVOCATION_SCHEMA_VERSION));
      expect(sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM sqlite_master WHERE name = 'revoked_principal'`).one().n).toBe(0);
    });
  });
});
