/**
 * The audit benchmark's Worker (bench/audit.ts): the gateway's own audit sink and `AuditLog` Durable
 * Object (SQLite, group commit) in workerd, driven in batches so the Node side can time them from
 * outside (workerd's clock does not advance while code runs).
 *
 *   POST /append?n=N&inflight=C&tenant=T   N decision records, C in flight at a time, each through its own
 *                                          sink (as many requests would: one call each)
 *   POST /append?...&via=sink              the same through one sink (one request's concurrent commits, coalesced)
 *   POST /append?...&via=rpc&batch=B       straight to the object's `append`, B records a call
 *   POST /rpc?n=N&tenant=T                 N read-only calls (`treeHead`) one after another: the round trip
 *   POST /checkpoint?tenant=T              signs a checkpoint of the log (KeyRing round trip), answers 204
 *   GET  /healthz
 *
 * `inflight=1` is one request's audit step (one commit awaited before the next); larger values are
 * many requests of one tenant at once, which the object commits in groups.
 */
import { AuditLog, type AuditRecord, createAuditSink, KeyRing } from "../worker/verify/index.ts";

export { AuditLog, KeyRing };

interface Env {
  AUDIT_LOG: DurableObjectNamespace<AuditLog>;
}

/**
 * A decision record of the size the pipeline writes (≈ 1.5 KB canonical, entity slice included);
 * every tenth a deny. The probe (bench/audit-probe-worker.ts) writes it too.
 */
export function benchDecisionRecord(tenant: string, i: number): AuditRecord {
  return {
    type: "decision",
    requestId: crypto.randomUUID(),
    tenant,
    time: new Date().toISOString(),
    principal: { kind: "user", id: "alice", clientId: "verity-cli", method: "jwt", issuer: "https://idp.bench", binding: "none", sessionId: null },
    actor: null,
    delegation: null,
    action: "invoke_model",
    model: "gpt-4o-mini",
    stream: false,
    classification: { level: 0, categories: [], findings: 0 },
    requestDigest: "9f".repeat(32),
    configVersion: "ab".repeat(32),
    policyVersion: "cd".repeat(32),
    decision: i % 10 === 0 ? "deny" : "allow",
    resource: { type: "Backend", id: "eu-public" },
    reasons: ["models/tenant-members-may-chat"],
    errors: [],
    obligations: [],
    facts: {
      authn: { method: "jwt", mfa: false, acr: "", binding: "none", authAge: 120 },
      risk: "low",
      geo: { country: "DE", continent: "EU" },
      principal: { type: "User", id: "alice" },
      model: "gpt-4o-mini",
      classification: { level: 0, categories: [] },
      request: { wireFormat: "openai", stream: false, tools: [] },
    },
    entitySlice: [
      { uid: { type: "User", id: "alice" }, attrs: { tenant: "acme", roles: ["member"] }, parents: [{ type: "Group", id: "acme/members" }] },
      { uid: { type: "Group", id: "acme/members" }, attrs: {}, parents: [] },
      { uid: { type: "Backend", id: "eu-public" }, attrs: { region: "eu", tier: "public", attested: false }, parents: [] },
      { uid: { type: "Tenant", id: "acme" }, attrs: { residency: "eu" }, parents: [] },
    ],
  };
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname === "/healthz") return new Response("ok");
    const tenant = url.searchParams.get("tenant") ?? "bench";
    if (url.pathname === "/checkpoint") {
      await (env.AUDIT_LOG.get(env.AUDIT_LOG.idFromName(tenant)) as unknown as { checkpoint(): Promise<unknown> }).checkpoint();
      return new Response(null, { status: 204 });
    }
    const n = Number(url.searchParams.get("n") ?? "0");
    if (url.pathname === "/rpc") {
      // A read-only RPC into the tenant's object, one awaited after another: the round trip alone.
      const log = env.AUDIT_LOG.get(env.AUDIT_LOG.idFromName(tenant));
      for (let i = 0; i < n; i++) await log.treeHead();
      return new Response(null, { status: 204 });
    }
    if (url.pathname !== "/append") return new Response("not found", { status: 404 });
    const inflight = Math.max(1, Number(url.searchParams.get("inflight") ?? "1"));
    const perCall = Math.max(1, Number(url.searchParams.get("batch") ?? "1"));
    let next = 0;
    let lane: () => Promise<void>;
    if (url.searchParams.get("via") === "rpc") {
      // Straight to the object, `perCall` records a call, no coalescing in the Worker.
      const log = env.AUDIT_LOG.get(env.AUDIT_LOG.idFromName(tenant));
      lane = async () => {
        while (next < n) {
          const records = Array.from({ length: Math.min(perCall, n - next) }, () => benchDecisionRecord(tenant, next++));
          await log.append(records);
        }
      };
    } else if (url.searchParams.get("via") === "sink") {
      // One sink (one request's): its concurrent commits coalesce into shared calls.
      const sink = createAuditSink(env.AUDIT_LOG);
      lane = async () => {
        while (next < n) await sink.commit(benchDecisionRecord(tenant, next++));
      };
    } else {
      // The pipeline across requests: each commit through its own request's sink, so its own call.
      lane = async () => {
        while (next < n) await createAuditSink(env.AUDIT_LOG).commit(benchDecisionRecord(tenant, next++));
      };
    }
    await Promise.all(Array.from({ length: Math.min(inflight, Math.max(1, n)) }, lane));
    return new Response(null, { status: 204 });
  },
};
