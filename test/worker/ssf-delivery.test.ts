/**
 * `POST /ssf/events` takes effect exactly once per SET (RFC 8935 push): a delivery whose apply fails
 * is answered 503 (Retry-After) and its retry is applied; a retry after a successful apply is a 400
 * replay; two concurrent deliveries apply it once, the second told to retry. Faults are injected
 * with a Durable Object namespace whose stubs fail or stall on demand.
 */
import { createExecutionContext, env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { signSet, subjects } from "../../dev/ssf-set.ts";
import { createApp } from "../../worker/app.ts";
import { createIdentity } from "../../worker/identity/index.ts";
import { createAuditSink, type AuditSink } from "../../worker/verify/index.ts";
import { createContinuousVerification, riskEngineName } from "../../worker/verify/risk/index.ts";
import { createConfigSource } from "../../worker/workload/index.ts";
import { auditRecords } from "../support/gateway.ts";
import { seedKv } from "../support/seed.ts";

beforeAll(() => seedKv(env.CONFIG));

/** How the wrapped object's chosen method behaves now. */
interface Fault {
  mode: "pass" | "fail" | "stall";
  calls: number;
  /** Resolves once a stalled call has started; `release` lets it go on. */
  stalled?: Promise<void>;
  release?: () => void;
}

/** `namespace` with `method` of every stub routed through `fault` (the other methods go straight through). */
function faulty<N extends Pick<DurableObjectNamespace, "idFromName" | "get">>(namespace: N, method: string, fault: Fault): N {
  return {
    idFromName: (name: string) => namespace.idFromName(name),
    get: (id: DurableObjectId) => {
      const real = namespace.get(id) as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
      return new Proxy(
        {},
        {
          get: (_target, property: string) => async (...args: unknown[]) => {
            if (property !== method) return await real[property]!(...args);
            fault.calls++;
            if (fault.mode === "fail") throw new Error("Durable Object unavailable");
            if (fault.mode === "stall") {
              let started!: () => void;
              fault.stalled = new Promise<void>((resolve) => (started = resolve));
              const go = new Promise<void>((resolve) => (fault.release = resolve));
              started();
              await go;
            }
            return await real[property]!(...args);
          },
        },
      );
    },
  } as unknown as N;
}

const ctx = createExecutionContext();
const realAudit = (e: typeof env): AuditSink => createAuditSink(e.AUDIT_LOG);

function receiver(bindings: object) {
  const app = createApp({ config: createConfigSource(), authenticate: createIdentity({}), audit: realAudit, continuous: createContinuousVerification({ riskCacheMs: 0 }) });
  return (set: string) =>
    app.request("https://gateway.test/ssf/events", { method: "POST", headers: { "content-type": "application/secevent+jwt" }, body: set }, bindings, ctx);
}

const revocationQuery = (sessionId: string) => ({ principal: { kind: "user" as const, id: "nobody" }, sessionId });
const revokedIn = (tenant: string, sessionId: string) => env.REVOCATIONS.get(env.REVOCATIONS.idFromName(tenant)).check(revocationQuery(sessionId));

describe("SET delivery is exactly-once effective", () => {
  it("answers 503 with Retry-After when applying fails, applies the retry (202), and refuses the next retry as a replay (400)", async () => {
    const fault: Fault = { mode: "fail", calls: 0 };
    const post = receiver({ ...env, REVOCATIONS: faulty(env.REVOCATIONS, "revoke", fault) });
    const sessionId = `sid-${crypto.randomUUID()}`;
    const set = await signSet({ event: "session-revoked", subject: subjects.session(sessionId) });

    const failed = await post(set);
    expect(failed.status).toBe(503);
    expect(failed.headers.get("retry-after")).toBe("5");
    expect(((await failed.json()) as { error: { code: string } }).error.code).toBe("revocation_unavailable");
    expect(await revokedIn("acme", sessionId)).toBeUndefined();

    fault.mode = "pass";
    const retried = await post(set);
    expect(retried.status).toBe(202);
    expect(await revokedIn("acme", sessionId)).toBe("session");
    expect(await revokedIn("globex", sessionId)).toBe("session");

    const replayed = await post(set);
    expect(replayed.status).toBe(400);
    expect(await replayed.json()).toEqual({ err: "invalid_request", description: "this SET (jti) has been received before" });
  });

  it("applies a risk event whose first delivery failed at the risk engine, for the user it names only", async () => {
    const fault: Fault = { mode: "fail", calls: 0 };
    const post = receiver({ ...env, RISK: faulty(env.RISK, "assert", fault) });
    const id = `ssf-user-${crypto.randomUUID()}`;
    const set = await signSet({ event: "risk-level-change", subject: subjects.user(id), payload: { current_level: "MEDIUM" } });
    expect((await post(set)).status).toBe(503);
    fault.mode = "pass";
    expect((await post(set)).status).toBe(202);
    const level = (kind: "user" | "workload") => env.RISK.get(env.RISK.idFromName(riskEngineName({ tenant: "acme", kind, id }))).level();
    expect(await level("user")).toEqual({ level: "medium" });
    expect(await level("workload")).toEqual({ level: "low" });
    expect((await post(set)).status).toBe(400);
  });

  it("answers 503 when the audit log cannot record the event first, and applies the retry", async () => {
    let auditDown = true;
    const sink = (e: typeof env): AuditSink => ({
      commit: async (record) => {
        if (auditDown && record.type === "security_event") throw new Error("Durable Object unavailable");
        return createAuditSink(e.AUDIT_LOG).commit(record);
      },
    });
    const app = createApp({ config: createConfigSource(), authenticate: createIdentity({}), audit: sink });
    const sessionId = `sid-${crypto.randomUUID()}`;
    const set = await signSet({ event: "session-revoked", subject: subjects.session(sessionId) });
    const post = () => app.request("https://gateway.test/ssf/events", { method: "POST", headers: { "content-type": "application/secevent+jwt" }, body: set }, env, ctx);
    const failed = await post();
    expect(failed.status).toBe(503);
    expect(((await failed.json()) as { error: { code: string } }).error.code).toBe("audit_unavailable");
    expect(await revokedIn("acme", sessionId)).toBeUndefined();
    auditDown = false;
    expect((await post()).status).toBe(202);
    expect(await revokedIn("acme", sessionId)).toBe("session");
    const recorded = (await auditRecords("acme")).filter((r) => r.type === "security_event" && (r.subject as { sessionId?: string }).sessionId === sessionId);
    expect(recorded).toHaveLength(1);
  });

  /**
   * A first delivery of a fresh session-revoked SET, stalled inside its first revoke (so it holds the
   * jti), and a second delivery of the same SET made meanwhile.
   */
  async function concurrentDeliveries() {
    const fault: Fault = { mode: "stall", calls: 0 };
    const post = receiver({ ...env, REVOCATIONS: faulty(env.REVOCATIONS, "revoke", fault) });
    const sessionId = `sid-${crypto.randomUUID()}`;
    const set = await signSet({ event: "session-revoked", subject: subjects.session(sessionId) });
    const first = post(set);
    for (let i = 0; i < 200 && fault.stalled === undefined; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    await fault.stalled;
    const second = await post(set);
    return { fault, post, set, sessionId, first, second };
  }

  it("applies two concurrent deliveries of one SET once: the second is told to retry, and its retry is a replay", async () => {
    const { fault, post, set, sessionId, first, second } = await concurrentDeliveries();
    expect(second.status).toBe(503);
    expect(second.headers.get("retry-after")).toBe("5");

    fault.mode = "pass";
    fault.release!();
    expect((await first).status).toBe(202);
    // Two tenants (acme, globex): one revoke each, all from the first delivery.
    expect(fault.calls).toBe(2);
    expect(await revokedIn("acme", sessionId)).toBe("session");

    const retried = await post(set);
    expect(retried.status).toBe(400);
    expect(((await retried.json()) as { err: string }).err).toBe("invalid_request");
    expect(fault.calls).toBe(2);
  });

  it("applies the concurrent delivery's retry when the first delivery failed", async () => {
    const { fault, post, set, sessionId, first, second } = await concurrentDeliveries();
    expect(second.status).toBe(503);
    // The stalled call (one tenant) goes through; the next one fails, so the first delivery releases
    // the jti and is answered 503 as well.
    fault.mode = "fail";
    fault.release!();
    expect((await first).status).toBe(503);
    fault.mode = "pass";
    expect((await post(set)).status).toBe(202);
    expect(await revokedIn("globex", sessionId)).toBe("session");
  });
});
