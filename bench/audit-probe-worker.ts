/**
 * The bare commit probe's Worker (bench/audit-probe.ts): a SQLite-backed Durable Object with none of
 * the audit log's code, so the cost of a durable write in workerd can be split from ours.
 *
 *   POST /run?kind=K&n=N&tenant=T   N calls of kind K into the object `T`, one awaited after another
 *   GET  /healthz
 *
 * Kinds (each one RPC per call, payload ≈ 1.5 KB, the size of a decision record):
 *   ping          no storage, no argument: the RPC floor
 *   select        one SELECT of one row: a read-only RPC like `treeHead`
 *   clone-string  the record as a JSON string, nothing stored: RPC + cloning a string
 *   clone-object  the record as an object, nothing stored: RPC + structured clone of the object
 *   insert        one INSERT (string), durable through the output gate
 *   insert-sync   one INSERT, then `await storage.sync()` before answering (the audit log's way)
 *   insert-object the record as an object, `JSON.stringify`, one INSERT
 *   put           one `storage.put` (the KV API on the SQLite backend)
 *   insert-alarm  one INSERT, then `getAlarm()` every call (the alarm, set once, stays pending)
 *   insert-4      four INSERTs (one per table row the audit log writes) in one transaction
 *   insert-16     16 INSERTs in one call (16 records, one commit); reported per record
 *   audit-append  the gateway's `AuditLog.append([record])` (the record as an object)
 *   audit-sink    the pipeline's path: a fresh `createAuditSink(...).commit(record)` per call
 */
import { DurableObject } from "cloudflare:workers";
import { AuditLog, createAuditSink, KeyRing } from "../worker/verify/index.ts";
import { benchDecisionRecord } from "./audit-worker.ts";

export { AuditLog, KeyRing };

interface Env {
  PROBE: DurableObjectNamespace<Probe>;
  AUDIT_LOG: DurableObjectNamespace<AuditLog>;
}

export class Probe extends DurableObject<Env> {
  #next = 0;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.sql.exec(`CREATE TABLE IF NOT EXISTS probe (id INTEGER PRIMARY KEY, body TEXT NOT NULL)`);
    ctx.storage.sql.exec(`CREATE TABLE IF NOT EXISTS probe_head (id INTEGER PRIMARY KEY CHECK (id = 0), size INTEGER NOT NULL)`);
    ctx.storage.sql.exec(`INSERT INTO probe_head (id, size) VALUES (0, 0) ON CONFLICT (id) DO NOTHING`);
    this.#next = ctx.storage.sql.exec<{ n: number }>(`SELECT count(*) AS n FROM probe`).one().n;
  }

  ping(): number {
    return this.#next;
  }

  select(): number {
    return this.ctx.storage.sql.exec<{ size: number }>(`SELECT size FROM probe_head WHERE id = 0`).one().size;
  }

  cloneString(body: string): number {
    return body.length;
  }

  cloneObject(body: Record<string, unknown>): number {
    return Object.keys(body).length;
  }

  insert(body: string): number {
    this.ctx.storage.sql.exec(`INSERT INTO probe (id, body) VALUES (?, ?)`, this.#next, body);
    return this.#next++;
  }

  async insertSync(body: string): Promise<number> {
    const id = this.insert(body);
    await this.ctx.storage.sync();
    return id;
  }

  insertObject(body: Record<string, unknown>): number {
    return this.insert(JSON.stringify(body));
  }

  async put(body: string): Promise<number> {
    const id = this.#next++;
    await this.ctx.storage.put(`r${id}`, body);
    return id;
  }

  async insertAlarm(body: string): Promise<number> {
    const id = this.insert(body);
    if ((await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(Date.now() + 3_600_000);
    return id;
  }

  insertFour(body: string): number {
    const sql = this.ctx.storage.sql;
    this.ctx.storage.transactionSync(() => {
      sql.exec(`SELECT size FROM probe_head WHERE id = 0`).one();
      this.insert(body);
      sql.exec(`INSERT INTO probe (id, body) VALUES (?, ?)`, this.#next++, "x");
      sql.exec(`INSERT INTO probe (id, body) VALUES (?, ?)`, this.#next++, "y");
      sql.exec(`UPDATE probe_head SET size = ? WHERE id = 0`, this.#next);
    });
    return this.#next;
  }

  insertMany(bodies: string[]): number {
    for (const body of bodies) this.insert(body);
    return this.#next;
  }

  override async alarm(): Promise<void> {}
}


type Stub = DurableObjectStub<Probe>;

const KINDS: Record<string, (probe: Stub, i: number) => Promise<unknown>> = {
  ping: (p) => p.ping(),
  select: (p) => p.select(),
  "clone-string": (p, i) => p.cloneString(JSON.stringify(benchDecisionRecord("acme", i))),
  "clone-object": (p, i) => p.cloneObject(benchDecisionRecord("acme", i)),
  insert: (p, i) => p.insert(JSON.stringify(benchDecisionRecord("acme", i))),
  "insert-sync": (p, i) => p.insertSync(JSON.stringify(benchDecisionRecord("acme", i))),
  "insert-object": (p, i) => p.insertObject(benchDecisionRecord("acme", i)),
  put: (p, i) => p.put(JSON.stringify(benchDecisionRecord("acme", i))),
  "insert-alarm": (p, i) => p.insertAlarm(JSON.stringify(benchDecisionRecord("acme", i))),
  "insert-4": (p, i) => p.insertFour(JSON.stringify(benchDecisionRecord("acme", i))),
};

/** Records per call of `insert-16`. */
const MANY = 16;
/** Commits in flight in `audit-burst`. */
const BURST = 256;

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname === "/healthz") return new Response("ok");
    if (url.pathname !== "/run") return new Response("not found", { status: 404 });
    const kind = url.searchParams.get("kind") ?? "";
    const n = Number(url.searchParams.get("n") ?? "0");
    const tenant = url.searchParams.get("tenant") ?? "probe";
    const probe = env.PROBE.get(env.PROBE.idFromName(tenant));
    if (kind === "audit-append" || kind === "audit-sink") {
      const log = env.AUDIT_LOG.get(env.AUDIT_LOG.idFromName(tenant));
      for (let i = 0; i < n; i++) {
        const entry = { ...benchDecisionRecord("acme", i), tenant };
        if (kind === "audit-append") await log.append([entry]);
        else await createAuditSink(env.AUDIT_LOG).commit(entry);
      }
      return new Response(null, { status: 204 });
    }
    if (kind === "audit-burst") {
      // 256 commits in flight, each through its own sink (as many requests): the object's group commit.
      let next = 0;
      const lane = async () => {
        while (next < n) {
          const i = next++;
          await createAuditSink(env.AUDIT_LOG).commit({ ...benchDecisionRecord("acme", i), tenant });
        }
      };
      await Promise.all(Array.from({ length: Math.min(BURST, Math.max(1, n)) }, lane));
      return new Response(null, { status: 204 });
    }
    if (kind === "insert-16") {
      for (let i = 0; i < n; i += MANY) await probe.insertMany(Array.from({ length: MANY }, (_, k) => JSON.stringify(benchDecisionRecord("acme", i + k))));
      return new Response(null, { status: 204 });
    }
    const call = KINDS[kind];
    if (call === undefined) return new Response("unknown kind", { status: 400 });
    for (let i = 0; i < n; i++) await call(probe, i);
    return new Response(null, { status: 204 });
  },
};
