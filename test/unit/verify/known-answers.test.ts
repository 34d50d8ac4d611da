/** RFC 6962 known answers (SHA-256), and the reference roots of transparency-dev/merkle's 8-leaf tree. */
import { describe, expect, it } from "vitest";
import { fromHex, sha256Hex, toHex } from "../../../worker/lib/encoding.ts";
import { appendLeaves } from "../../../worker/verify/merkle/compact-range.ts";
import { EMPTY_TREE_ROOT, leafHash, nodeHash } from "../../../worker/verify/merkle/hash.ts";
import { treeRoot } from "../../../worker/verify/merkle/tree-head.ts";

// Leaves and the roots of their prefixes, from transparency-dev/merkle's proof tests.
const LEAVES = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"];
const ROOTS = [
  "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
  "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
  "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
  "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
  "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
  "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
  "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
  "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

describe("RFC 6962 hashing", () => {
  it("the empty tree's root is SHA-256 of nothing", async () => {
    expect(toHex(EMPTY_TREE_ROOT)).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    expect(toHex(EMPTY_TREE_ROOT)).toBe(await sha256Hex(new Uint8Array()));
    expect(toHex(await treeRoot([]))).toBe(toHex(EMPTY_TREE_ROOT));
    expect(toHex((await appendLeaves(0, [], [])).root)).toBe(toHex(EMPTY_TREE_ROOT));
  });

  it("the leaf hash of the empty string is SHA-256(0x00)", async () => {
    expect(toHex(await leafHash(new Uint8Array()))).toBe("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d");
  });

  it("a node hash is SHA-256(0x01 ‖ left ‖ right)", async () => {
    const left = await leafHash(fromHex("00"));
    const right = await leafHash(fromHex("10"));
    const expected = await sha256Hex(Uint8Array.from([1, ...left, ...right]));
    expect(toHex(nodeHash(left, right))).toBe(expected);
  });

  it("recursive and incremental roots match the reference roots of every prefix", async () => {
    const hashes = await Promise.all(LEAVES.map((l) => leafHash(fromHex(l))));
    for (let n = 1; n <= hashes.length; n++) {
      expect(toHex(await treeRoot(hashes.slice(0, n))), `size ${n}`).toBe(ROOTS[n - 1]);
      expect(toHex((await appendLeaves(0, [], hashes.slice(0, n))).root), `size ${n}`).toBe(ROOTS[n - 1]);
    }
  });
});
