/**
 * Security Event Token verification (RFC 8417, SSF 1.0, RFC 8935 error codes) and what each CAEP
 * event asks for. Adversarial: every attack is refused with its RFC 8935 `err` and its own reason.
 */
import { createLocalJWKSet, exportJWK, generateKeyPair, SignJWT, type JWK } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { signSet, SSF_TRANSMITTER_KEY, subjects, transmitterJwks } from "../../../../dev/ssf-set.ts";
import { planSignal } from "../../../../worker/verify/risk/signals.ts";
import { type JtiClaim, SetCheckUnavailable, SetRefusal, verifySet, type SetVerifier, type VerifiedSet } from "../../../../worker/verify/risk/set.ts";
import { parseRegistry, type Registry, type Transmitter } from "../../../../worker/workload/index.ts";
import { seedFiles } from "../../../support/seed.ts";

let registry: Registry;
let transmitters: readonly Transmitter[];
/** The in-memory replay store: a jti is "held" by a delivery, or settled. */
let seen: Map<string, "held" | "settled">;
let verifier: SetVerifier;
let strangerKey: JWK;

beforeAll(async () => {
  const files = seedFiles();
  registry = parseRegistry({
    tenants: files.tenants,
    issuers: files.issuers,
    trustDomains: files.trustDomains,
    workloads: files.workloads,
    backends: files.backends,
    tools: files.tools,
    transmitters: files.transmitters,
  });
  transmitters = registry.transmitters;
  const { privateKey } = await generateKeyPair("ES256", { extractable: true });
  strangerKey = { ...(await exportJWK(privateKey)), kid: SSF_TRANSMITTER_KEY.kid };
});

function freshVerifier(): SetVerifier {
  seen = new Map();
  const keys = createLocalJWKSet(transmitterJwks());
  return {
    keys: () => keys,
    claim: async (t, jti): Promise<JtiClaim> => {
      const key = `${t.id} ${jti}`;
      const state = seen.get(key);
      if (state !== undefined) return { state: state === "held" ? "pending" : "seen" };
      seen.set(key, "held");
      return {
        state: "first",
        settle: async () => seen.set(key, "settled").size > 0,
        release: async () => void seen.delete(key),
      };
    },
    now: Date.now,
  };
}

async function refusal(token: string, v: SetVerifier = freshVerifier()): Promise<SetRefusal> {
  try {
    await verifySet(token, transmitters, v);
  } catch (error) {
    expect(error).toBeInstanceOf(SetRefusal);
    return error as SetRefusal;
  }
  throw new Error("expected a refusal");
}

const revokeSession = { event: "session-revoked", subject: subjects.userSession("dave", "sid-1") };

describe("verifySet", () => {
  it("accepts a SET from the seeded transmitter", async () => {
    verifier = freshVerifier();
    const set = await verifySet(await signSet(revokeSession), transmitters, verifier);
    expect(set.event).toBe("session-revoked");
    expect(set.transmitter.id).toBe("dev-ssf");
  });

  it("refuses a replay (same jti) once the first delivery is settled", async () => {
    const v = freshVerifier();
    const token = await signSet(revokeSession);
    const first = await verifySet(token, transmitters, v);
    expect(await first.claim.settle()).toBe(true);
    const r = await refusal(token, v);
    expect([r.err, r.reason]).toEqual(["invalid_request", "replayed"]);
  });

  it("answers a delivery of a SET another delivery holds as unavailable (retry), not as a replay", async () => {
    const v = freshVerifier();
    const token = await signSet(revokeSession);
    await verifySet(token, transmitters, v);
    await expect(verifySet(token, transmitters, v)).rejects.toBeInstanceOf(SetCheckUnavailable);
  });

  it("takes a released SET (its apply failed) as new again", async () => {
    const v = freshVerifier();
    const token = await signSet(revokeSession);
    await (await verifySet(token, transmitters, v)).claim.release();
    await expect(verifySet(token, transmitters, v)).resolves.toMatchObject({ event: "session-revoked" });
  });

  it("answers unavailable (not a refusal) when the replay store cannot tell", async () => {
    const v: SetVerifier = { ...freshVerifier(), claim: async () => Promise.reject(new Error("Durable Object overloaded")) };
    await expect(verifySet(await signSet(revokeSession), transmitters, v)).rejects.toBeInstanceOf(SetCheckUnavailable);
  });

  it("refuses an unsigned SET (alg none)", async () => {
    const signed = await signSet(revokeSession);
    const [, payload] = signed.split(".");
    const header = btoa(JSON.stringify({ alg: "none", typ: "secevent+jwt" })).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
    const r = await refusal(`${header}.${payload}.`);
    expect([r.err, r.reason]).toEqual(["authentication_failed", "unsigned"]);
  });

  it("refuses an HMAC SET (algorithm confusion)", async () => {
    const token = await new SignJWT({ jti: "x", events: {} })
      .setProtectedHeader({ alg: "HS256", typ: "secevent+jwt" })
      .setIssuer(transmitters[0]!.issuer)
      .setAudience(transmitters[0]!.audience)
      .setIssuedAt()
      .sign(new TextEncoder().encode("a shared secret that is long enough"));
    const r = await refusal(token);
    expect([r.err, r.reason]).toEqual(["invalid_key", "algorithm"]);
  });

  it("refuses a SET signed by another key under the transmitter's kid", async () => {
    const r = await refusal(await signSet({ ...revokeSession, key: strangerKey }));
    expect([r.err, r.reason]).toEqual(["authentication_failed", "signature"]);
  });

  it("refuses a SET for another audience", async () => {
    const r = await refusal(await signSet({ ...revokeSession, audience: "https://other.example/ssf" }));
    expect([r.err, r.reason]).toEqual(["invalid_audience", "audience"]);
  });

  it("refuses a SET from an issuer that is not a trusted transmitter", async () => {
    const r = await refusal(await signSet({ ...revokeSession, issuer: "https://evil.example" }));
    expect([r.err, r.reason]).toEqual(["invalid_issuer", "issuer"]);
  });

  it("refuses an unknown event type", async () => {
    const r = await refusal(await signSet({ ...revokeSession, event: "https://schemas.openid.net/secevent/caep/event-type/device-compliance-change" }));
    expect([r.err, r.reason]).toEqual(["invalid_request", "event_type"]);
  });

  it("refuses a token of another type (an access token is not a SET)", async () => {
    const r = await refusal(await signSet({ ...revokeSession, header: { typ: "at+jwt" } }));
    expect([r.err, r.reason]).toEqual(["invalid_request", "type"]);
  });

  it("refuses a SET that names its own key", async () => {
    const r = await refusal(await signSet({ ...revokeSession, header: { jwk: transmitterJwks().keys[0] } }));
    expect([r.err, r.reason]).toEqual(["invalid_key", "header_key"]);
  });

  it("refuses a stale SET and one from the future", async () => {
    const old = await refusal(await signSet({ ...revokeSession, issuedAt: Math.floor(Date.now() / 1000) - 3600 }));
    expect([old.err, old.reason]).toEqual(["invalid_request", "stale"]);
    const future = await refusal(await signSet({ ...revokeSession, issuedAt: Math.floor(Date.now() / 1000) + 3600 }));
    expect([future.err, future.reason]).toEqual(["invalid_request", "stale"]);
  });

  it("refuses a SET with two events, and a body that is not a JWT", async () => {
    const two = await refusal(
      await signSet({ ...revokeSession, claims: { events: { "https://schemas.openid.net/secevent/caep/event-type/session-revoked": {}, "https://schemas.openid.net/secevent/caep/event-type/credential-change": {} } } }),
    );
    expect([two.err, two.reason]).toEqual(["invalid_request", "claims"]);
    const junk = await refusal("not a jwt");
    expect([junk.err, junk.reason]).toEqual(["invalid_request", "malformed"]);
  });

  it("does not burn a jti for a forged SET (replay check runs after the signature)", async () => {
    const v = freshVerifier();
    const jti = "shared-jti";
    await refusal(await signSet({ ...revokeSession, jti, key: strangerKey }), v);
    await expect(verifySet(await signSet({ ...revokeSession, jti }), transmitters, v)).resolves.toBeDefined();
  });
});

describe("planSignal", () => {
  const now = () => Math.floor(Date.now() / 1000);
  async function plan(options: Parameters<typeof signSet>[0]) {
    const set: VerifiedSet = await verifySet(await signSet(options), transmitters, freshVerifier());
    return planSignal(set, registry, now());
  }

  it("session-revoked with a session ends that session in the issuer's tenants", async () => {
    const p = await plan(revokeSession);
    expect(p.tenants).toEqual(["acme", "globex"]);
    expect(p.actions).toContainEqual({ kind: "revoke", tenant: "acme", revocation: { kind: "session", sessionId: "sid-1", reason: "ssf:session-revoked" } });
  });

  it("credential-change for a user ends the user's earlier sessions; a new credential does not", async () => {
    const p = await plan({ event: "credential-change", subject: subjects.user("dave"), payload: { change_type: "update", credential_type: "password" } });
    expect(p.actions.every((a) => a.kind === "revoke" && a.revocation.kind === "principal" && a.revocation.principal.kind === "user" && a.revocation.principal.id === "dave")).toBe(true);
    expect((await plan({ event: "credential-change", subject: subjects.user("dave"), payload: { change_type: "create" } })).actions).toEqual([]);
  });

  it("risk-level-change maps LOW/MEDIUM/HIGH onto the risk engine; HIGH also ends sessions", async () => {
    const medium = await plan({ event: "risk-level-change", subject: subjects.user("dave"), payload: { current_level: "MEDIUM", principal: "USER" } });
    expect(medium.actions).toContainEqual({ kind: "risk", tenant: "acme", principal: { kind: "user", id: "dave" }, level: "medium", reason: "ssf:risk-level-change", at: expect.any(Number) });
    const high = await plan({ event: "risk-level-change", subject: subjects.user("dave"), payload: { current_level: "HIGH" } });
    expect(high.actions.some((a) => a.kind === "revoke")).toBe(true);
  });

  it("maps an application subject onto the workload with that client id, a user subject onto the user", async () => {
    const application = { format: "complex", application: { format: "iss_sub", iss: subjects.user("x").iss, sub: "dave" } };
    const workload = await plan({ event: "risk-level-change", subject: application, payload: { current_level: "HIGH" } });
    expect(workload.subject).toEqual({ principal: { kind: "workload", id: "dave" } });
    expect(workload.actions).toContainEqual({ kind: "risk", tenant: "acme", principal: { kind: "workload", id: "dave" }, level: "high", reason: "ssf:risk-level-change", at: expect.any(Number) });
    expect(workload.actions.filter((a) => a.kind === "revoke").map((a) => a.kind === "revoke" && a.revocation)).toContainEqual(
      expect.objectContaining({ kind: "principal", principal: { kind: "workload", id: "dave" } }),
    );
    const user = await plan({ event: "credential-change", subject: subjects.user("dave"), payload: { change_type: "delete" } });
    expect(user.subject).toEqual({ principal: { kind: "user", id: "dave" } });
    // Both named: the user (the application only narrows it; acting on the user is the broader, safer choice).
    const both = await plan({ event: "session-revoked", subject: { ...application, user: subjects.user("dave") } });
    expect(both.subject.principal).toEqual({ kind: "user", id: "dave" });
    await expect(plan({ event: "session-revoked", subject: { format: "complex", application: { format: "opaque", id: "app" } } })).rejects.toMatchObject({
      reason: "subject",
    });
  });

  it("assurance-level-change down asks for step-up (medium); up does nothing", async () => {
    const down = await plan({ event: "assurance-level-change", subject: subjects.user("dave"), payload: { change_direction: "decrease", current_level: "aal1" } });
    expect(down.actions.every((a) => a.kind === "risk" && a.level === "medium")).toBe(true);
    expect((await plan({ event: "assurance-level-change", subject: subjects.user("dave"), payload: { change_direction: "increase" } })).actions).toEqual([]);
  });

  it("token-claims-change ends the session so fresh tokens carry the new claims", async () => {
    const p = await plan({ event: "token-claims-change", subject: subjects.session("sid-9"), payload: { claims: { role: "reader" } } });
    expect(p.actions).toContainEqual({ kind: "revoke", tenant: "globex", revocation: { kind: "session", sessionId: "sid-9", reason: "ssf:token-claims-change" } });
  });

  it("refuses subjects it cannot map, and tenants the transmitter may not touch", async () => {
    await expect(plan({ event: "session-revoked", subject: { format: "email", email: "dave@example.com" } })).rejects.toMatchObject({ reason: "subject", err: "invalid_request" });
    await expect(plan({ event: "session-revoked", subject: subjects.user("dave", "https://unknown-idp.example") })).rejects.toMatchObject({ reason: "subject" });
    await expect(
      plan({ event: "session-revoked", subject: { format: "complex", session: { format: "opaque", id: "s" }, tenant: { format: "opaque", id: "initech" } } }),
    ).rejects.toMatchObject({ reason: "tenant", err: "access_denied" });
    await expect(plan({ event: "risk-level-change", subject: subjects.user("dave"), payload: { current_level: "SEVERE" } })).rejects.toMatchObject({ reason: "claims" });
  });
});
