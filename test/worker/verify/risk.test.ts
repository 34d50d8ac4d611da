/**
 * The risk engine and revocation Durable Objects in workerd (real SQLite, RPC), and continuous
 * verification's fail-closed edge: an object that cannot answer refuses the request.
 */
import { env } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { Principal } from "../../../worker/context.ts";
import { GatewayError } from "../../../worker/errors.ts";
import { createContinuousVerification, type RiskEngine, riskEngineName, SqlRevocationStore, SqlRiskStore } from "../../../worker/verify/risk/index.ts";

let counter = 0;
const unique = (label: string) => `${label}-${Date.now()}-${counter++}`;

function principal(overrides: Partial<Principal> = {}): Principal {
  return {
    kind: "user",
    id: unique("user"),
    tenant: unique("tenant"),
    groups: [],
    attributes: {},
    sessionId: unique("sid"),
    authn: { method: "oidc", issuer: "http://idp", acr: "", amr: [], mfa: false, expiresAt: 4_000_000_000, binding: "none", tokenId: unique("jti"), authTime: 1_000, issuedAt: 1_000 },
    ...overrides,
  };
}

const place = { country: "DE", asn: 3320 };

async function caught(promise: Promise<unknown>): Promise<GatewayError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(GatewayError);
    return error as GatewayError;
  }
  throw new Error("expected a refusal");
}

describe("RiskEngine over RPC", () => {
  it("starts low, rises to medium under a burst, and keeps its state across restarts of the object", async () => {
    const stub = env.RISK.get(env.RISK.idFromName(unique("acme/p")));
    expect(await stub.level()).toEqual({ level: "low" });
    let last;
    for (let i = 0; i < 400; i++) last = await stub.observe([{ kind: "request", at: Date.now(), denied: false, tools: [], place }]);
    expect(last!.level).toBe("medium");
    await runInDurableObject(stub, async (_instance: RiskEngine, state) => {
      const stored = new SqlRiskStore(state.storage).load();
      expect(stored.held?.level).toBe("medium");
      expect(stored.requests).toBe(400);
    });
  });

  it("folds a request and its token usage in one call (one round trip, one write), in order", async () => {
    const stub = env.RISK.get(env.RISK.idFromName(unique("acme/p")));
    const update = await stub.observe([
      { kind: "request", at: Date.now(), denied: false, tools: [], place },
      { kind: "usage", at: Date.now(), tokens: 1200 },
    ]);
    expect(update).toEqual({ level: "low" });
    await runInDurableObject(stub, async (_instance: RiskEngine, state) => {
      const stored = new SqlRiskStore(state.storage).load();
      expect(stored.requests).toBe(1);
      expect(stored.tokens.n).toBe(1);
    });
    await expect((async () => await stub.observe([]))()).rejects.toThrow(/not a list of risk observations/);
    const tooMany = Array.from({ length: 9 }, () => ({ kind: "usage" as const, at: Date.now(), tokens: 1 }));
    await expect((async () => await stub.observe(tooMany))()).rejects.toThrow(/not a list of risk observations/);
  });

  it("reports a change once, with its reasons", async () => {
    const stub = env.RISK.get(env.RISK.idFromName(unique("acme/p")));
    const raised = await stub.assert("high", "ssf:test", "ssf:risk-level-change", 60_000);
    expect(raised.change).toEqual({ previous: "low", level: "high", reasons: ["ssf:risk-level-change"] });
    const again = await stub.assert("high", "ssf:test", "ssf:risk-level-change", 60_000);
    expect(again.change).toBeUndefined();
    expect((await stub.assert("low", "ssf:test", "withdrawn", 0)).change).toMatchObject({ previous: "high", level: "low" });
  });

  it("refuses what is not an observation", async () => {
    const stub = env.RISK.get(env.RISK.idFromName(unique("acme/p")));
    await expect((async () => await stub.observe([{ kind: "request" }] as never))()).rejects.toThrow(/not a list of risk observations/);
  });
});

const dave = { kind: "user", id: "dave" } as const;

describe("Revocations over RPC", () => {
  it("revokes sessions, tokens and principals, effective on the next check", async () => {
    const stub = env.REVOCATIONS.get(env.REVOCATIONS.idFromName(unique("tenant")));
    const query = { principal: dave, sessionId: "s1", tokenId: "t1", authenticatedAt: 1000 };
    expect(await stub.check(query)).toBeUndefined();
    await stub.revoke({ kind: "token", tokenId: "t1", reason: "test" });
    expect(await stub.check(query)).toBe("token");
    await stub.revoke({ kind: "session", sessionId: "s1", reason: "test" });
    expect(await stub.check(query)).toBe("session");
    expect(await stub.check({ principal: dave, sessionId: "s2", authenticatedAt: 1000 })).toBeUndefined();
    await stub.revoke({ kind: "principal", principal: dave, notBefore: 2000, reason: "test" });
    expect(await stub.check({ principal: dave, sessionId: "s2", authenticatedAt: 1000 })).toBe("principal");
    // Signed in again after the revocation: fine. A replayed older revocation never moves the line back.
    expect(await stub.check({ principal: dave, sessionId: "s3", authenticatedAt: 2000 })).toBeUndefined();
    await stub.revoke({ kind: "principal", principal: dave, notBefore: 500, reason: "replayed" });
    expect(await stub.check({ principal: dave, sessionId: "s2", authenticatedAt: 1500 })).toBe("principal");
  });

  it("forgets entries after their retention (pruning)", async () => {
    const stub = env.REVOCATIONS.get(env.REVOCATIONS.idFromName(unique("tenant")));
    await stub.revoke({ kind: "token", tokenId: "short", expiresAt: Math.floor(Date.now() / 1000) + 1, reason: "test" });
    await runInDurableObject(stub, async (_instance, state) => {
      const store = new SqlRevocationStore(state.storage);
      store.prune(Date.now() / 1000 + 10);
      expect(store.check({ principal: { kind: "user", id: "x" }, tokenId: "short" }, Date.now() / 1000)).toBeUndefined();
    });
  });
});

describe("continuous verification (assess)", () => {
  it("adds the risk level to the principal, refuses a revoked session with session_revoked", async () => {
    const continuous = createContinuousVerification({ riskCacheMs: 0 });
    const p = principal();
    expect((await continuous.assess(p, env)).risk).toBe("low");
    await env.REVOCATIONS.get(env.REVOCATIONS.idFromName(p.tenant)).revoke({ kind: "session", sessionId: p.sessionId!, reason: "test" });
    expect((await caught(continuous.assess(p, env))).code).toBe("session_revoked");
  });

  it("refuses a revoked token with token_revoked", async () => {
    const continuous = createContinuousVerification();
    const p = principal();
    await env.REVOCATIONS.get(env.REVOCATIONS.idFromName(p.tenant)).revoke({ kind: "token", tokenId: p.authn.tokenId!, reason: "test" });
    expect((await caught(continuous.assess(p, env))).code).toBe("token_revoked");
  });

  it("fails closed when either object cannot answer", async () => {
    const continuous = createContinuousVerification();
    const broken = { idFromName: () => { throw new Error("overloaded"); }, get: () => { throw new Error("overloaded"); } };
    expect((await caught(continuous.assess(principal(), { RISK: env.RISK, REVOCATIONS: broken as never }))).code).toBe("revocation_unavailable");
    expect((await caught(continuous.assess(principal(), { RISK: broken as never, REVOCATIONS: env.REVOCATIONS }))).code).toBe("risk_unavailable");
  });

  it("reuses a principal's level within the cache window, and reads it again after", async () => {
    let now = 1_000_000;
    const continuous = createContinuousVerification({ riskCacheMs: 2000, now: () => now });
    const p = principal();
    expect((await continuous.assess(p, env)).risk).toBe("low");
    await env.RISK.get(env.RISK.idFromName(riskEngineName(p))).assert("medium", "test", "test", 60_000);
    expect((await continuous.assess(p, env)).risk).toBe("low");
    now += 2001;
    expect((await continuous.assess(p, env)).risk).toBe("medium");
  });
});
