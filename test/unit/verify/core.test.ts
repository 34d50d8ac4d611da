/** AuditLogCore over an in-memory store: records, receipts, tenant binding, paging, proofs, failures. */
import { describe, expect, it } from "vitest";
import { fromHex, toHex, utf8 } from "../../../worker/lib/encoding.ts";
import { AuditLogCore, MAX_APPEND_BATCH, MAX_ENTRIES_PAGE } from "../../../worker/verify/core.ts";
import { verifyConsistency } from "../../../worker/verify/merkle/consistency.ts";
import { leafHash } from "../../../worker/verify/merkle/hash.ts";
import { verifyInclusion } from "../../../worker/verify/merkle/inclusion.ts";
import { treeRoot } from "../../../worker/verify/merkle/tree-head.ts";
import { MAX_RECORD_BYTES } from "../../../worker/verify/record.ts";
import { MemoryAuditStore } from "./memory-store.ts";

const TIME = "2026-11-26T08:00:00.000Z";
const rec = (i: number, extra: Record<string, unknown> = {}) => ({
  type: "decision",
  requestId: `req-${i}`,
  tenant: "acme",
  time: TIME,
  decision: "allow",
  ...extra,
});

function fresh(tenant?: string) {
  const store = new MemoryAuditStore();
  return { store, core: new AuditLogCore(store, tenant === undefined ? {} : { tenant }) };
}

describe("append", () => {
  it("returns one receipt per record with the batch's tree head, leaf = RFC 6962 leaf of the JCS text", async () => {
    const { core } = fresh("acme");
    const receipts = await core.append([rec(0, { z: 1, a: [true] }), rec(1)]);
    expect(receipts.map((r) => r.index)).toEqual([0, 1]);
    const canonical = '{"a":[true],"decision":"allow","requestId":"req-0","tenant":"acme","time":"2026-11-26T08:00:00.000Z","type":"decision","z":1}';
    expect(receipts[0]?.leafHash).toBe(toHex(await leafHash(utf8(canonical))));
    const root = toHex(await treeRoot(receipts.map((r) => fromHex(r.leafHash))));
    expect(receipts.every((r) => r.treeSize === 2 && r.rootHash === root)).toBe(true);
    expect(core.treeHead()).toEqual({ size: 2, rootHash: root });
  });

  it.each([
    ["undefined", { note: undefined }, "not_json"],
    ["NaN", { score: Number.NaN }, "not_json"],
    ["a function", { f: () => 0 }, "not_json"],
    ["a Date", { at: new Date(0) }, "not_json"],
    ["no requestId", { requestId: "" }, "invalid_record"],
    ["a bad type", { type: "Decision!" }, "invalid_record"],
    ["a bad time", { time: "yesterday" }, "invalid_record"],
    ["an oversized body", { blob: "x".repeat(MAX_RECORD_BYTES) }, "record_too_large"],
  ])("refuses a record with %s, writing nothing", async (_label, extra, code) => {
    const { core, store } = fresh("acme");
    await expect(core.append([rec(0), rec(1, extra)])).rejects.toMatchObject({ code });
    expect(store.commits).toBe(0);
    expect(core.treeHead().size).toBe(0);
  });

  it("refuses an empty, oversized or non-array batch", async () => {
    const { core } = fresh("acme");
    await expect(core.append([])).rejects.toMatchObject({ code: "invalid_batch" });
    await expect(core.append(Array.from({ length: MAX_APPEND_BATCH + 1 }, (_, i) => rec(i)))).rejects.toMatchObject({ code: "invalid_batch" });
    await expect(core.append("nope" as unknown as unknown[])).rejects.toMatchObject({ code: "invalid_batch" });
  });

  it("refuses a record of another tenant than the object's name", async () => {
    const { core } = fresh("acme");
    await expect(core.append([rec(0, { tenant: "globex" })])).rejects.toMatchObject({ code: "tenant_mismatch" });
    await expect(core.append([rec(0), rec(1, { tenant: "globex" })])).rejects.toMatchObject({ code: "tenant_mismatch" });
  });

  it("without a name, binds the log to the first committed tenant", async () => {
    const { core, store } = fresh();
    await expect(core.append([rec(0), rec(1, { tenant: "globex" })])).rejects.toMatchObject({ code: "tenant_mismatch" });
    await core.append([rec(0)]);
    expect(store.tenant()).toBe("acme");
    await expect(core.append([rec(1, { tenant: "globex" })])).rejects.toMatchObject({ code: "tenant_mismatch" });
  });

  it("serialises concurrent appends: indices are dense and the head matches the leaves", async () => {
    const { core } = fresh("acme");
    const all = await Promise.all(Array.from({ length: 20 }, (_, i) => core.append([rec(i), rec(i + 100)])));
    expect(all.flat().map((r) => r.index).sort((a, b) => a - b)).toEqual(Array.from({ length: 40 }, (_, i) => i));
    const leaves = core.entries(0, 40).map((e) => fromHex(e.leafHash));
    expect(core.treeHead().rootHash).toBe(toHex(await treeRoot(leaves)));
  });
});

describe("a storage write that fails", () => {
  it.each([
    ["the tenant row", { kind: "tenant", nth: 0 }],
    ["the second leaf", { kind: "leaf", nth: 1 }],
    ["a node", { kind: "node", nth: 0 }],
    ["the head", { kind: "head", nth: 0 }],
  ] as const)("at %s leaves the log unchanged, throws storage_failed, and the log carries on", async (_label, failAt) => {
    const { core, store } = fresh("acme");
    await core.append([rec(0)]);
    const before = core.treeHead();
    store.failAt = failAt;
    await expect(core.append([rec(1), rec(2), rec(3)])).rejects.toMatchObject({ code: "storage_failed" });
    expect(core.treeHead()).toEqual(before);
    expect(core.entries(0, 1)).toHaveLength(1);
    expect(() => core.entries(0, 2)).toThrowError(expect.objectContaining({ code: "out_of_range" }));

    const receipts = await core.append([rec(1), rec(2), rec(3)]);
    expect(receipts.map((r) => r.index)).toEqual([1, 2, 3]);
    const proof = await core.inclusionProof(2, 4);
    await verifyInclusion(2, 4, fromHex(proof.leafHash), proof.proof.map(fromHex), fromHex(core.treeHead().rootHash));
  });
});

describe("reads", () => {
  it("pages entries in log order with records as committed", async () => {
    const { core } = fresh("acme");
    await core.append(Array.from({ length: 25 }, (_, i) => rec(i)));
    const page = core.entries(10, 20);
    expect(page.map((e) => e.index)).toEqual(Array.from({ length: 10 }, (_, i) => 10 + i));
    expect(JSON.parse(page[0]?.canonical ?? "")).toEqual(rec(10));
    expect(core.entries(25, 25)).toEqual([]);
  });

  it.each([
    ["start > end", 5, 4, "out_of_range"],
    ["end beyond the log", 0, 26, "out_of_range"],
    ["a negative start", -1, 3, "invalid_argument"],
    ["a fractional end", 0, 1.5, "invalid_argument"],
    ["a string", "0" as unknown as number, 1, "invalid_argument"],
  ])("refuses entries with %s", async (_label, start, end, code) => {
    const { core } = fresh("acme");
    await core.append(Array.from({ length: 25 }, (_, i) => rec(i)));
    expect(() => core.entries(start, end)).toThrowError(expect.objectContaining({ code }));
  });

  it("bounds a page to MAX_ENTRIES_PAGE", async () => {
    const { core } = fresh("acme");
    for (let i = 0; i < 5; i++) await core.append(Array.from({ length: 250 }, (_, j) => rec(i * 250 + j)));
    expect(core.entries(0, MAX_ENTRIES_PAGE)).toHaveLength(MAX_ENTRIES_PAGE);
    expect(() => core.entries(0, MAX_ENTRIES_PAGE + 1)).toThrowError(expect.objectContaining({ code: "out_of_range" }));
  });

  it("proves inclusion and consistency against earlier and current heads", async () => {
    const { core } = fresh("acme");
    const heads = [];
    for (let i = 0; i < 13; i++) {
      await core.append([rec(i)]);
      heads.push(core.treeHead());
    }
    for (const head of heads) {
      for (let i = 0; i < head.size; i++) {
        const p = await core.inclusionProof(i, head.size);
        expect(p.rootHash).toBe(head.rootHash);
        await verifyInclusion(i, head.size, fromHex(p.leafHash), p.proof.map(fromHex), fromHex(head.rootHash));
      }
      for (const older of heads.filter((h) => h.size <= head.size)) {
        const c = await core.consistencyProof(older.size, head.size);
        expect([c.fromRootHash, c.toRootHash]).toEqual([older.rootHash, head.rootHash]);
        await verifyConsistency(older.size, head.size, c.proof.map(fromHex), fromHex(older.rootHash), fromHex(head.rootHash));
      }
    }
  });

  it.each([
    ["inclusion: index = treeSize", (c: AuditLogCore) => c.inclusionProof(3, 3), "out_of_range"],
    ["inclusion: treeSize beyond the log", (c: AuditLogCore) => c.inclusionProof(0, 6), "out_of_range"],
    ["inclusion: negative index", (c: AuditLogCore) => c.inclusionProof(-1, 3), "invalid_argument"],
    ["inclusion: NaN size", (c: AuditLogCore) => c.inclusionProof(0, Number.NaN), "invalid_argument"],
    ["consistency: from 0", (c: AuditLogCore) => c.consistencyProof(0, 3), "out_of_range"],
    ["consistency: from > to", (c: AuditLogCore) => c.consistencyProof(4, 3), "out_of_range"],
    ["consistency: to beyond the log", (c: AuditLogCore) => c.consistencyProof(1, 6), "out_of_range"],
    ["consistency: 2^53", (c: AuditLogCore) => c.consistencyProof(1, 2 ** 53), "invalid_argument"],
  ])("refuses %s", async (_label, call, code) => {
    const { core } = fresh("acme");
    await core.append(Array.from({ length: 5 }, (_, i) => rec(i)));
    await expect(call(core)).rejects.toMatchObject({ code });
  });
});

describe("group commit", () => {
  it("commits concurrent appends together, in arrival order, each with its own receipts", async () => {
    const { core, store } = fresh("acme");
    await core.append([rec(0)]);
    const commitsBefore = store.commits;
    const calls = Array.from({ length: 10 }, (_, i) => core.append([rec(1 + i * 2), rec(2 + i * 2)]));
    const receipts = await Promise.all(calls);
    expect(receipts.map((r) => r.map((x) => x.index))).toEqual(Array.from({ length: 10 }, (_, i) => [1 + i * 2, 2 + i * 2]));
    // The first call starts a group at once; the nine that arrive while it is hashed form the next.
    expect(store.commits - commitsBefore).toBeLessThanOrEqual(2);
    expect(core.treeHead().size).toBe(21);
    const entries = core.entries(0, 21).map((e) => JSON.parse(e.canonical).requestId);
    expect(entries).toEqual(Array.from({ length: 21 }, (_, i) => `req-${i}`));
  });

  it("refuses a bad call alone; its neighbours in the group are committed", async () => {
    const { core } = fresh("acme");
    const [good, bad, stranger, alsoGood] = await Promise.allSettled([
      core.append([rec(0)]),
      core.append([rec(1, { time: "yesterday" })]),
      core.append([rec(2, { tenant: "globex" })]),
      core.append([rec(3)]),
    ]);
    expect(good).toMatchObject({ status: "fulfilled" });
    expect(bad).toMatchObject({ status: "rejected", reason: { code: "invalid_record" } });
    expect(stranger).toMatchObject({ status: "rejected", reason: { code: "tenant_mismatch" } });
    expect(alsoGood).toMatchObject({ status: "fulfilled", value: [{ index: 1 }] });
    expect(core.treeHead().size).toBe(2);
  });

  it("fails every call of a group whose commit fails, leaves the log unchanged, and goes on", async () => {
    const { core, store } = fresh("acme");
    await core.append([rec(0)]);
    const head = core.treeHead();
    const first = core.append([rec(1)]);
    store.failAt = { kind: "leaf", nth: 0 };
    const results = await Promise.allSettled([first, core.append([rec(2)]), core.append([rec(3)])]);
    expect(results.filter((r) => r.status === "rejected").length).toBeGreaterThan(0);
    for (const r of results) if (r.status === "rejected") expect(r.reason).toMatchObject({ code: "storage_failed" });
    const committed = results.filter((r) => r.status === "fulfilled").length;
    expect(core.treeHead().size).toBe(head.size + committed);
    await expect(core.append([rec(9)])).resolves.toHaveLength(1);
  });
});

describe("appendEach and the durability barrier", () => {
  /** A `durable` hook the test releases by hand, logging what the store held when each flush was asked for. */
  function gated() {
    const store = new MemoryAuditStore();
    const flushes: Array<{ size: number; release: () => void }> = [];
    const core = new AuditLogCore(store, {
      tenant: "acme",
      durable: () => new Promise<void>((release) => flushes.push({ size: store.head().size, release })),
    });
    return { store, core, flushes };
  }
  const tick = () => new Promise((r) => setTimeout(r, 0));

  it("settles each record on its own, in order, with consecutive indices", async () => {
    const { core } = fresh("acme");
    const outcomes = await core.appendEach([rec(0), rec(1, { time: "yesterday" }), rec(2), rec(3, { tenant: "globex" }), rec(4)]);
    expect(outcomes).toMatchObject([
      { receipt: { index: 0 } },
      { refused: { code: "invalid_record" } },
      { receipt: { index: 1 } },
      { refused: { code: "tenant_mismatch" } },
      { receipt: { index: 2, treeSize: 3 } },
    ]);
    expect(core.entries(0, 3).map((e) => JSON.parse(e.canonical).requestId)).toEqual(["req-0", "req-2", "req-4"]);
    await expect(core.appendEach([])).rejects.toMatchObject({ code: "invalid_batch" });
    await expect(core.appendEach(Array.from({ length: MAX_APPEND_BATCH + 1 }, (_, i) => rec(i)))).rejects.toMatchObject({ code: "invalid_batch" });
  });

  it("resolves no receipt before the flush of the commit holding it, and merges appends arriving during a flush", async () => {
    const { core, store, flushes } = gated();
    let resolved = 0;
    const first = core.append([rec(0)]).then((r) => (resolved++, r));
    await tick();
    // Committed (the store holds it), but not flushed: nothing may resolve yet.
    expect(store.commits).toBe(1);
    expect(flushes.map((f) => f.size)).toEqual([1]);
    const later = Array.from({ length: 20 }, (_, i) => core.append([rec(1 + i)]).then((r) => (resolved++, r)));
    await tick();
    expect(resolved).toBe(0);
    expect(store.commits).toBe(1);
    flushes[0]!.release();
    expect((await first)[0]?.index).toBe(0);
    await tick();
    // The twenty that arrived during the first flush: one transaction, one flush, still unresolved.
    expect(store.commits).toBe(2);
    expect(flushes.map((f) => f.size)).toEqual([1, 21]);
    expect(resolved).toBe(1);
    flushes[1]!.release();
    const receipts = await Promise.all(later);
    expect(receipts.map((r) => r[0]?.index)).toEqual(Array.from({ length: 20 }, (_, i) => 1 + i));
    expect(receipts.every((r) => r[0]?.treeSize === 21)).toBe(true);
  });

  it("a flush that fails rejects every caller of that commit with storage_failed, and the log goes on", async () => {
    const store = new MemoryAuditStore();
    let failNext = true;
    const core = new AuditLogCore(store, {
      tenant: "acme",
      durable: async () => {
        if (failNext) {
          failNext = false;
          throw new Error("disk gone");
        }
      },
    });
    const outcomes = await core.appendEach([rec(0), rec(1), rec(2)]);
    expect(outcomes).toEqual(Array.from({ length: 3 }, () => ({ refused: { code: "storage_failed", message: expect.any(String) } })));
    const after = await core.appendEach([rec(3)]);
    expect(after[0]).toMatchObject({ receipt: { index: store.head().size - 1 } });
  });
});
