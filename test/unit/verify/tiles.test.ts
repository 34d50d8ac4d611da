/**
 * C2SP tlog-tiles: one name per tile (the specification's examples, and every malformed form
 * refused), and tiles served by the core that reproduce the log's leaves, subtree roots and root.
 */
import { describe, expect, it } from "vitest";
import { toHex, utf8 } from "../../../worker/lib/encoding.ts";
import { AuditLogCore } from "../../../worker/verify/core.ts";
import { leafHash, type Hash } from "../../../worker/verify/merkle/hash.ts";
import { treeRoot } from "../../../worker/verify/merkle/tree-head.ts";
import { entryBundle, parseTilePath, tilePath, tileSpan } from "../../../worker/verify/tiles.ts";
import { MemoryAuditStore } from "./memory-store.ts";

describe("tile paths", () => {
  it.each([
    ["0/000", { kind: "hashes", level: 0, index: 0, width: 256 }],
    ["0/x001/x234/067", { kind: "hashes", level: 0, index: 1234067, width: 256 }],
    ["1/005.p/17", { kind: "hashes", level: 1, index: 5, width: 17 }],
    ["63/x001/000.p/255", { kind: "hashes", level: 63, index: 1000, width: 255 }],
    ["entries/x273/000", { kind: "entries", index: 273000, width: 256 }],
    ["entries/001.p/112", { kind: "entries", index: 1, width: 112 }],
  ] as const)("%s names one tile, and is its only name", (path, tile) => {
    expect(parseTilePath(path)).toEqual(tile);
    expect(tilePath(tile)).toBe(path);
  });

  it.each([
    ["", "no tile index"],
    ["0", "no tile index"],
    ["00/000", "level is 0 to 63"],
    ["64/000", "level is 0 to 63"],
    ["-1/000", "level is 0 to 63"],
    ["data/000", "level is 0 to 63"],
    ["0/0", "three digits"],
    ["0/0000", "three digits"],
    ["0/x1/000", "three digits"],
    ["0/001/002", "begin with `x`"],
    ["0/x000/005", "needless leading element"],
    ["0/000.p/0", "1 to 255"],
    ["0/000.p/256", "1 to 255"],
    ["0/000.p/017", "1 to 255"],
    ["0/000.p", "must end the path"],
    ["0/x000.p/3/001", "must end the path"],
    ["0/000.p/3/", "must end the path"],
    ["0/x999/x999/x999/x999/x999/x999/999", "too large"],
  ])("refuses %j (%s)", (path, why) => {
    expect(() => parseTilePath(path)).toThrow(why);
  });

  it("spans what the specification's example tree of 70,000 entries holds", () => {
    const at = (path: string) => tileSpan(parseTilePath(path), 70_000);
    expect(at("0/272")).toEqual({ height: 0, first: 272 * 256, count: 256 });
    expect(at("0/273")).toBeUndefined();
    expect(at("0/273.p/112")).toEqual({ height: 0, first: 273 * 256, count: 112 });
    expect(at("0/273.p/113")).toBeUndefined();
    expect(at("1/000")).toEqual({ height: 8, first: 0, count: 256 });
    expect(at("1/001.p/17")).toEqual({ height: 8, first: 256, count: 17 });
    expect(at("1/001.p/18")).toBeUndefined();
    expect(at("2/000.p/1")).toEqual({ height: 16, first: 0, count: 1 });
    expect(at("2/000.p/2")).toBeUndefined();
  });

  it("bundles entries with big-endian uint16 lengths", () => {
    expect([...entryBundle([utf8("ab"), new Uint8Array(0), new Uint8Array(258).fill(7)]).slice(0, 8)]).toEqual([0, 2, 97, 98, 0, 0, 1, 2]);
    expect(() => entryBundle([new Uint8Array(0x10000)])).toThrow("longer than an entry bundle");
  });
});

/** Splits a tile into its 32-byte hashes, and an entry bundle into its records. */
const hashesOf = (tile: Uint8Array): Hash[] => Array.from({ length: tile.length / 32 }, (_, i) => tile.slice(i * 32, i * 32 + 32));
function recordsOf(bundle: Uint8Array): Uint8Array[] {
  const records: Uint8Array[] = [];
  for (let at = 0; at < bundle.length; ) {
    const length = ((bundle[at] as number) << 8) | (bundle[at + 1] as number);
    records.push(bundle.slice(at + 2, at + 2 + length));
    at += 2 + length;
  }
  return records;
}

describe("tiles of a log", () => {
  it("reproduce its leaves, its subtree roots and its root, and exist only once the log holds them", async () => {
    const core = new AuditLogCore(new MemoryAuditStore(), { tenant: "acme" });
    const SIZE = 300;
    for (let start = 0; start < SIZE; start += 100) {
      await core.append(Array.from({ length: 100 }, (_, i) => ({ type: "decision", requestId: `req-${start + i}`, tenant: "acme", time: "2026-11-26T08:00:00.000Z" })));
    }
    const full = core.tile("0/000") as Uint8Array;
    const partial = core.tile("0/001.p/44") as Uint8Array;
    expect(full.length).toBe(256 * 32);
    const leaves = [...hashesOf(full), ...hashesOf(partial)];
    const page = core.entries(0, 300);
    expect(leaves.map((h) => toHex(h))).toEqual(page.map((e) => e.leafHash));

    // The level-1 tile's one hash is the root of the first 256 leaves; with the rest, the log's root.
    const [firstSubtree] = hashesOf(core.tile("1/000.p/1") as Uint8Array);
    expect(toHex(firstSubtree as Hash)).toBe(toHex(await treeRoot(leaves.slice(0, 256))));
    expect(toHex(await treeRoot(leaves))).toBe(core.treeHead().rootHash);

    const bundle = recordsOf(core.tile("entries/001.p/44") as Uint8Array);
    expect(bundle).toHaveLength(44);
    expect(await Promise.all(bundle.map(async (record) => toHex(await leafHash(record))))).toEqual(page.slice(256).map((e) => e.leafHash));
    expect(new TextDecoder().decode(bundle[0])).toBe(page[256]?.canonical);

    for (const missing of ["0/001", "0/001.p/45", "1/000", "1/000.p/2", "entries/001", "2/000.p/1", "0/002.p/1"]) expect(core.tile(missing)).toBeUndefined();
    expect(() => core.tile("0/x000/001")).toThrow("needless leading element");
  });
});
