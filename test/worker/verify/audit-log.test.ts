/** The real AuditLog Durable Object in workerd: RPC surface, SQLite storage, rollback, sink. */
import { env } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { fromHex, toHex, utf8 } from "../../../worker/lib/encoding.ts";
import { AuditLog, AuditLogCore, createAuditSink, SqlAuditStore, verifyConsistency, verifyInclusion } from "../../../worker/verify/index.ts";
import { leafHash } from "../../../worker/verify/merkle/hash.ts";
import type { SqlBackend } from "../../../worker/verify/sql-store.ts";

const leafHashHex = async (text: string) => toHex(await leafHash(utf8(text)));

const rec = (tenant: string, i: number) => ({
  type: "decision",
  requestId: `req-${i}`,
  tenant,
  time: "2026-11-26T08:00:00.000Z",
  decision: i % 2 === 0 ? "allow" : "deny",
  principal: "alice",
});

/** Each test takes its own tenant, so its log starts empty whatever ran before. */
let counter = 0;
const tenantName = (label: string) => `${label}-${Date.now()}-${counter++}`;
const logFor = (tenant: string) => env.AUDIT_LOG.get(env.AUDIT_LOG.idFromName(tenant));

/**
 * Awaits an RPC call into a plain promise. `expect(...).rejects` probes properties of what it is
 * given, and on an RPC promise each probe is a pipelined call that rejects again, unhandled.
 */
async function settled<T>(call: Promise<T>): Promise<T> {
  return await call;
}

describe("AuditLog over RPC", () => {
  it("appends, reports the head, and proves inclusion and consistency", async () => {
    const tenant = tenantName("acme");
    const log = logFor(tenant);
    expect(await log.treeHead()).toEqual({ size: 0, rootHash: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" });

    const first = await log.append([rec(tenant, 0), rec(tenant, 1), rec(tenant, 2)]);
    expect(first.map((r) => [r.index, r.treeSize])).toEqual([[0, 3], [1, 3], [2, 3]]);
    const head3 = await log.treeHead();
    expect(head3).toEqual({ size: 3, rootHash: first[0]?.rootHash });

    const second = await log.append([rec(tenant, 3), rec(tenant, 4)]);
    const head5 = await log.treeHead();
    expect(second.at(-1)).toMatchObject({ index: 4, treeSize: 5, rootHash: head5.rootHash });

    for (const [index, size, root] of [[1, 3, head3.rootHash], [4, 5, head5.rootHash], [0, 5, head5.rootHash]] as const) {
      const p = await log.inclusionProof(index, size);
      await verifyInclusion(index, size, fromHex(p.leafHash), p.proof.map(fromHex), fromHex(root));
    }
    const c = await log.consistencyProof(3, 5);
    await verifyConsistency(3, 5, c.proof.map(fromHex), fromHex(head3.rootHash), fromHex(head5.rootHash));
  });

  it("refuses a record for another tenant and writes nothing", async () => {
    const tenant = tenantName("acme");
    const log = logFor(tenant);
    await expect(settled(log.append([rec(tenant, 0), rec("globex", 1)]))).rejects.toMatchObject({ code: "tenant_mismatch" });
    expect((await log.treeHead()).size).toBe(0);
    // The object knows its own name, so even the very first record cannot claim another tenant.
    await expect(settled(log.append([rec("globex", 0)]))).rejects.toMatchObject({ code: "tenant_mismatch" });
    await runInDurableObject(log, async (instance: AuditLog) => {
      await expect(instance.append([rec("globex", 0)])).rejects.toMatchObject({ code: "tenant_mismatch" });
    });
  });

  it("pages entries and validates the range", async () => {
    const tenant = tenantName("acme");
    const log = logFor(tenant);
    await log.append(Array.from({ length: 30 }, (_, i) => rec(tenant, i)));
    const page = await log.entries(10, 15);
    expect(page.map((e) => e.index)).toEqual([10, 11, 12, 13, 14]);
    expect(JSON.parse(page[0]?.canonical ?? "")).toEqual(rec(tenant, 10));
    expect(await leafHashHex(page[0]?.canonical ?? "")).toBe(page[0]?.leafHash);
    await expect(settled(log.entries(0, 31))).rejects.toMatchObject({ code: "out_of_range" });
    await expect(settled(log.entries(0, 1001))).rejects.toMatchObject({ code: "out_of_range" });
    await expect(settled(log.entries(-1, 2))).rejects.toMatchObject({ code: "invalid_argument" });
    await expect(settled(log.inclusionProof(30, 30))).rejects.toMatchObject({ code: "out_of_range" });
    await expect(settled(log.consistencyProof(5, 31))).rejects.toMatchObject({ code: "out_of_range" });
  });

  it("survives a restart of the object: the schema is idempotent and the log intact", async () => {
    const tenant = tenantName("acme");
    const log = logFor(tenant);
    await log.append([rec(tenant, 0), rec(tenant, 1)]);
    const head = await log.treeHead();
    await runInDurableObject(log, (_instance: AuditLog, state) => {
      const again = new AuditLogCore(new SqlAuditStore(state.storage), { tenant });
      expect(again.treeHead()).toEqual(head);
    });
  });
});

describe("SqlAuditStore rollback", () => {
  it.each(["INSERT INTO audit_leaves", "INSERT INTO audit_nodes", "INSERT INTO audit_head"])(
    "a failure at %s rolls the whole batch back",
    async (failing) => {
      const tenant = tenantName("acme");
      const log = logFor(tenant);
      await log.append([rec(tenant, 0)]);
      const before = await log.treeHead();
      await runInDurableObject(log, async (_instance: AuditLog, state) => {
        let armed = true;
        const failingSql = new Proxy(state.storage.sql, {
          get(target, prop, receiver) {
            if (prop !== "exec") return Reflect.get(target, prop, receiver);
            return (query: string, ...bindings: unknown[]) => {
              if (armed && query.startsWith(failing)) {
                armed = false;
                throw new Error(`injected failure at ${failing}`);
              }
              return target.exec(query, ...bindings);
            };
          },
        });
        const backend: SqlBackend = { sql: failingSql, transactionSync: (fn) => state.storage.transactionSync(fn) };
        const core = new AuditLogCore(new SqlAuditStore(backend), { tenant });
        // Records 1..3 complete nodes (1 = level 1, 3 = levels 1 and 2), so every statement kind runs.
        await expect(core.append([rec(tenant, 1), rec(tenant, 2), rec(tenant, 3)])).rejects.toMatchObject({ code: "storage_failed" });
        const rows = state.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM audit_leaves").one().n;
        expect(rows).toBe(1);
        expect(state.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM audit_nodes").one().n).toBe(0);
      });
      expect(await log.treeHead()).toEqual(before);
      const receipts = await log.append([rec(tenant, 1)]);
      expect(receipts[0]?.index).toBe(1);
    },
  );
});

describe("SqlAuditStore head check", () => {
  it("refuses a batch built for another size with `conflict` and writes nothing", async () => {
    const tenant = tenantName("acme");
    const log = logFor(tenant);
    await log.append([rec(tenant, 0), rec(tenant, 1)]);
    const before = await log.treeHead();
    await runInDurableObject(log, async (_instance: AuditLog, state) => {
      const store = new SqlAuditStore(state.storage);
      const count = () => state.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM audit_leaves").one().n;
      const stale = (fromSize: number) => ({
        fromSize,
        tenant,
        leaves: [{ index: fromSize, leafHash: new Uint8Array(32), canonical: "{}" }],
        nodes: [],
        head: { size: fromSize + 1, root: new Uint8Array(32) },
      });
      // Behind the log (another writer moved it), ahead of it, and a first commit into a log that has one.
      for (const fromSize of [1, 3, 0]) {
        expect(() => store.commit(stale(fromSize))).toThrow(expect.objectContaining({ code: "conflict" }));
        expect(count()).toBe(2);
      }
    });
    expect(await log.treeHead()).toEqual(before);
    expect((await log.append([rec(tenant, 2)]))[0]?.index).toBe(2);
  });
});

describe("createAuditSink", () => {
  it("routes by tenant and resolves with the receipt", async () => {
    const sink = createAuditSink(env.AUDIT_LOG);
    const acme = tenantName("acme");
    const globex = tenantName("globex");
    expect(await sink.commit(rec(acme, 0))).toMatchObject({ index: 0, treeSize: 1 });
    expect(await sink.commit(rec(acme, 1))).toMatchObject({ index: 1, treeSize: 2 });
    expect(await sink.commit(rec(globex, 0))).toMatchObject({ index: 0, treeSize: 1 });
    expect((await logFor(acme).treeHead()).size).toBe(2);
  });

  it("rejects a record the log refuses, and one without a tenant", async () => {
    const sink = createAuditSink(env.AUDIT_LOG);
    const tenant = tenantName("acme");
    await expect(sink.commit({ ...rec(tenant, 0), time: "not a time" })).rejects.toMatchObject({ code: "invalid_record" });
    await expect(sink.commit({ ...rec(tenant, 0), tenant: "" })).rejects.toMatchObject({ code: "invalid_record" });
    expect((await logFor(tenant).treeHead()).size).toBe(0);
  });

  it("carries concurrent commits of one isolate in few calls: exactly one record each, in call order, each resolved after its commit", async () => {
    const tenant = tenantName("acme");
    const calls: number[] = [];
    const counting = {
      idFromName: (name: string) => env.AUDIT_LOG.idFromName(name),
      get: (id: DurableObjectId) => {
        const stub = env.AUDIT_LOG.get(id);
        return {
          appendEach: (records: Parameters<typeof stub.appendEach>[0]) => {
            calls.push(records.length);
            return stub.appendEach(records);
          },
        };
      },
    } as unknown as typeof env.AUDIT_LOG;
    const sink = createAuditSink(counting);
    const log = logFor(tenant);
    const N = 120;
    // Each caller checks, as soon as its own promise resolves, that its record is already in the log.
    const receipts = await Promise.all(
      Array.from({ length: N }, async (_, i) => {
        const receipt = await sink.commit(rec(tenant, i));
        const [entry] = await log.entries(receipt.index, receipt.index + 1);
        expect(JSON.parse(entry?.canonical ?? "null")).toEqual(rec(tenant, i));
        expect(entry?.leafHash).toBe(receipt.leafHash);
        return receipt;
      }),
    );
    expect(receipts.map((r) => r.index)).toEqual(Array.from({ length: N }, (_, i) => i));
    expect(new Set(receipts.map((r) => r.index)).size).toBe(N);
    expect((await log.treeHead()).size).toBe(N);
    expect(calls.reduce((a, b) => a + b, 0)).toBe(N);
    expect(calls.length).toBeLessThan(N);
    // The same round trip again, one at a time: one record a call, no waiting for company.
    calls.length = 0;
    expect(await sink.commit(rec(tenant, N))).toMatchObject({ index: N, treeSize: N + 1 });
    expect(calls).toEqual([1]);
  });

  it("refuses a bad record alone; the commits travelling with it are written", async () => {
    const sink = createAuditSink(env.AUDIT_LOG);
    const tenant = tenantName("acme");
    const results = await Promise.allSettled([
      sink.commit(rec(tenant, 0)),
      sink.commit({ ...rec(tenant, 1), time: "yesterday" }),
      sink.commit({ ...rec(tenant, 2), payload: "x".repeat(20_000) }),
      sink.commit(rec(tenant, 3)),
    ]);
    expect(results).toMatchObject([
      { status: "fulfilled", value: { index: 0 } },
      { status: "rejected", reason: { code: "invalid_record" } },
      { status: "rejected", reason: { code: "record_too_large" } },
      { status: "fulfilled", value: { index: 1, treeSize: 2 } },
    ]);
    expect((await logFor(tenant).treeHead()).size).toBe(2);
  });

  it.each([
    ["overloaded (the call fails)", () => ({ appendEach: () => Promise.reject(new Error("Durable Object is overloaded")) })],
    ["unavailable (no stub)", () => {
      throw new Error("Durable Object unavailable");
    }],
  ])("an object that is %s rejects every commit the call carried, and the lane recovers", async (_label, get) => {
    const tenant = tenantName("acme");
    let broken = true;
    const flaky = {
      idFromName: (name: string) => env.AUDIT_LOG.idFromName(name),
      get: (id: DurableObjectId) => (broken ? get() : env.AUDIT_LOG.get(id)),
    } as unknown as typeof env.AUDIT_LOG;
    const sink = createAuditSink(flaky);
    const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => sink.commit(rec(tenant, i))));
    expect(results.every((r) => r.status === "rejected")).toBe(true);
    expect((await logFor(tenant).treeHead()).size).toBe(0);
    broken = false;
    expect(await sink.commit(rec(tenant, 20))).toMatchObject({ index: 0 });
  });

  it("is a start-up error without a namespace", () => {
    expect(() => createAuditSink(undefined as unknown as typeof env.AUDIT_LOG)).toThrow(TypeError);
  });
});
