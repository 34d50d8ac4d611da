/**
 * The incremental tree against the RFC 6962 definition: the compact-range root equals the recursive
 * MTH for every size 0..300, and proofs generated from stored perfect nodes verify (and fail when
 * tampered with).
 */
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { toHex, utf8 } from "../../../worker/lib/encoding.ts";
import { appendLeaves, foldFrontier, frontierPositions } from "../../../worker/verify/merkle/compact-range.ts";
import { consistencyPath, verifyConsistency } from "../../../worker/verify/merkle/consistency.ts";
import { type Hash, leafHash } from "../../../worker/verify/merkle/hash.ts";
import { inclusionPath, verifyInclusion } from "../../../worker/verify/merkle/inclusion.ts";
import { rangeHash, storedRangeHasher } from "../../../worker/verify/merkle/range-hash.ts";
import { treeRoot } from "../../../worker/verify/merkle/tree-head.ts";

const MAX = 300;
let leaves: Hash[] = [];
/** Recursive MTH of every prefix, index = size. */
let roots: string[] = [];
/** Perfect nodes as an append-only log would store them; level 0 is the leaves. */
const nodes = new Map<string, Hash>();
const readNode = (level: number, index: number): Hash => {
  const hash = nodes.get(`${level}:${index}`);
  if (hash === undefined) throw new Error(`node ${level}:${index} not stored`);
  return hash;
};
const hashRange = storedRangeHasher(readNode);

beforeAll(async () => {
  leaves = await Promise.all(Array.from({ length: MAX }, (_, i) => leafHash(utf8(`leaf ${i}`))));
  roots = await Promise.all(Array.from({ length: MAX + 1 }, async (_, n) => toHex(await treeRoot(leaves.slice(0, n)))));
  leaves.forEach((leaf, i) => nodes.set(`0:${i}`, leaf));
  for (const node of (await appendLeaves(0, [], leaves)).created) nodes.set(`${node.level}:${node.index}`, node.hash);
});

describe("compact range", () => {
  it("appending one leaf at a time gives the recursive root at every size 0..300", async () => {
    let state = await appendLeaves(0, [], []);
    expect(toHex(state.root)).toBe(roots[0]);
    for (let n = 0; n < MAX; n++) {
      state = await appendLeaves(state.size, state.frontier, [leaves[n] as Hash]);
      for (const node of state.created) expect(toHex(node.hash)).toBe(toHex(readNode(node.level, node.index)));
      expect(toHex(state.root), `size ${n + 1}`).toBe(roots[n + 1]);
      // The frontier is exactly the stored nodes at the positions the log reads it back from.
      const reread = frontierPositions(state.size).map(({ level, index }) => readNode(level, index));
      expect(reread.map((h) => toHex(h))).toEqual(state.frontier.map((h) => toHex(h)));
      expect(toHex(await foldFrontier(reread))).toBe(roots[n + 1]);
    }
  });

  it("appending in batches of any split gives the same root and nodes", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 1, max: 40 }), { maxLength: 12 }), async (cuts) => {
        let state = await appendLeaves(0, [], []);
        for (const cut of cuts) {
          const batch = leaves.slice(state.size, Math.min(MAX, state.size + cut));
          state = await appendLeaves(state.size, state.frontier, batch);
          for (const node of state.created) expect(toHex(node.hash)).toBe(toHex(readNode(node.level, node.index)));
        }
        expect(toHex(state.root)).toBe(roots[state.size]);
      }),
      { numRuns: 50 },
    );
  });

  it("range hashes from stored nodes equal the recursive root of every prefix", async () => {
    for (let n = 1; n <= MAX; n++) expect(toHex(await rangeHash(0, n, readNode))).toBe(roots[n]);
  });
});

describe("proofs from stored nodes", () => {
  const root = (n: number): Hash => Uint8Array.from((roots[n] ?? "").match(/../g) ?? [], (b) => Number.parseInt(b, 16));

  it("every inclusion proof in trees of 1..64 leaves verifies", async () => {
    for (let n = 1; n <= 64; n++) {
      for (let i = 0; i < n; i++) {
        await verifyInclusion(i, n, leaves[i] as Hash, await inclusionPath(i, n, hashRange), root(n));
      }
    }
  });

  it("every consistency proof between sizes 1..64 verifies", async () => {
    for (let n = 1; n <= 64; n++) {
      for (let m = 1; m <= n; m++) {
        await verifyConsistency(m, n, await consistencyPath(m, n, hashRange), root(m), root(n));
      }
    }
  });

  it("sampled inclusion proofs up to 300 verify, and refuse another leaf or a flipped proof hash", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: MAX }).chain((n) => fc.tuple(fc.constant(n), fc.nat(n - 1), fc.nat(n - 1))),
        async ([n, i, other]) => {
          const proof = await inclusionPath(i, n, hashRange);
          await verifyInclusion(i, n, leaves[i] as Hash, proof, root(n));
          if (other !== i) {
            await expect(verifyInclusion(i, n, leaves[other] as Hash, proof, root(n))).rejects.toMatchObject({ code: "invalid_proof" });
          }
          if (proof.length > 0) {
            const bad = proof.map((h) => h.slice());
            (bad[0] as Hash)[0] = ((bad[0] as Hash)[0] ?? 0) ^ 1;
            await expect(verifyInclusion(i, n, leaves[i] as Hash, bad, root(n))).rejects.toMatchObject({ code: "invalid_proof" });
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it("sampled consistency proofs up to 300 verify, and refuse a root of another size", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: MAX }).chain((n) => fc.tuple(fc.integer({ min: 1, max: n }), fc.constant(n))),
        async ([m, n]) => {
          const proof = await consistencyPath(m, n, hashRange);
          await verifyConsistency(m, n, proof, root(m), root(n));
          if (m < n) {
            await expect(verifyConsistency(m, n, proof, root(m + 1), root(n))).rejects.toMatchObject({ code: "invalid_proof" });
            await expect(verifyConsistency(m, n, proof, root(m), root(n - 1))).rejects.toMatchObject({ code: "invalid_proof" });
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
