/**
 * Every case of transparency-dev/merkle's testdata (RFC 6962 inclusion and consistency proofs and
 * the Merkle Tree Certificates subtree variants): each must verify or be refused exactly as its
 * `wantErr` says.
 *
 * Many of those negatives replace a root with a 9-byte string ("WrongRoot") that a verifier refuses
 * for its length before comparing anything, so they would pass a verifier that never compared that
 * root. Each positive case is therefore also replayed with every 32-byte input flipped in one bit.
 */
import { describe, expect, it } from "vitest";
import { verifyConsistency, verifySubtreeConsistency } from "../../../worker/verify/merkle/consistency.ts";
import type { Hash } from "../../../worker/verify/merkle/hash.ts";
import { verifyInclusion, verifySubtreeInclusion } from "../../../worker/verify/merkle/inclusion.ts";
import { type MerkleCase, type MerkleKind, merkleCases } from "./vectors.ts";

function b64(value: unknown): Hash {
  if (typeof value !== "string") throw new TypeError("vector hash is not a string");
  return Uint8Array.from(atob(value), (c) => c.charCodeAt(0));
}

function proofOf(value: unknown): Hash[] {
  if (value === null || value === undefined) return [];
  if (!Array.isArray(value)) throw new TypeError("vector proof is not an array");
  return value.map(b64);
}

/** JSON numbers past 2^53 (one vector has 2^63 + 2) arrive rounded; the verifiers must refuse them anyway. */
function num(value: unknown): number {
  if (typeof value !== "number") throw new TypeError("vector size is not a number");
  return value;
}

type Inputs = { hashes: Hash[]; proof: Hash[] };

function run(kind: MerkleKind, d: Record<string, unknown>, override?: Inputs): Promise<void> {
  const proof = override?.proof ?? proofOf(d.proof);
  switch (kind) {
    case "inclusion": {
      const [leaf, root] = override?.hashes ?? [b64(d.leafHash), b64(d.root)];
      return verifyInclusion(num(d.leafIdx), num(d.treeSize), leaf as Hash, proof, root as Hash);
    }
    case "subtreeinclusion": {
      const [leaf, root] = override?.hashes ?? [b64(d.leafHash), b64(d.root)];
      return verifySubtreeInclusion(num(d.leafIdx), num(d.start), num(d.end), leaf as Hash, proof, root as Hash);
    }
    case "consistency": {
      const [root1, root2] = override?.hashes ?? [b64(d.root1), b64(d.root2)];
      return verifyConsistency(num(d.size1), num(d.size2), proof, root1 as Hash, root2 as Hash);
    }
    case "subtreeconsistency": {
      const [root1, root2] = override?.hashes ?? [b64(d.root1), b64(d.root2)];
      return verifySubtreeConsistency(num(d.start), num(d.end), num(d.size), proof, root1 as Hash, root2 as Hash);
    }
  }
}

function inputs(kind: MerkleKind, d: Record<string, unknown>): Inputs {
  const hashes = kind.endsWith("inclusion") ? [b64(d.leafHash), b64(d.root)] : [b64(d.root1), b64(d.root2)];
  return { hashes, proof: proofOf(d.proof) };
}

function flipped(hash: Hash): Hash {
  const copy = hash.slice();
  copy[0] = (copy[0] ?? 0) ^ 0x10;
  return copy;
}

/** Every variant of a positive case with one 32-byte input flipped, skipping inputs the verifier ignores. */
function bitFlips(c: MerkleCase): { label: string; inputs: Inputs }[] {
  const base = inputs(c.kind, c.data);
  const out: { label: string; inputs: Inputs }[] = [];
  base.hashes.forEach((h, i) => {
    if (h.length !== 32) return;
    const hashes = base.hashes.slice();
    hashes[i] = flipped(h);
    out.push({ label: `hash ${i}`, inputs: { hashes, proof: base.proof } });
  });
  base.proof.forEach((p, i) => {
    const proof = base.proof.slice();
    proof[i] = flipped(p);
    out.push({ label: `proof[${i}]`, inputs: { hashes: base.hashes, proof } });
  });
  return out;
}

const cases = merkleCases();
const count = (kind: MerkleKind) => cases.filter((c) => c.kind === kind).length;

describe("transparency-dev/merkle testdata", () => {
  it("bundles all 518 cases", () => {
    expect(cases).toHaveLength(518);
    expect({
      inclusion: count("inclusion"),
      consistency: count("consistency"),
      subtreeinclusion: count("subtreeinclusion"),
      subtreeconsistency: count("subtreeconsistency"),
    }).toEqual({ inclusion: 98, consistency: 98, subtreeinclusion: 204, subtreeconsistency: 118 });
  });

  it.each(cases.map((c) => [c.name, c] as const))("%s", async (_name, c) => {
    const result = run(c.kind, c.data);
    if (c.data.wantErr === true) {
      await expect(result).rejects.toMatchObject({ code: "invalid_proof" });
    } else {
      expect(c.data.wantErr).toBe(false);
      await expect(result).resolves.toBeUndefined();
    }
  });
});

describe("positive cases with one bit flipped in a 32-byte input", () => {
  // Cases where a flipped hash still verifies by design: an empty subtree ignores the tree root,
  // and inclusion in a one-leaf subtree equates leaf and root (both flipped separately here).
  const ignoresRoot = (c: MerkleCase) => c.kind === "subtreeconsistency" && c.data.start === c.data.end;
  const positives = cases.filter((c) => c.data.wantErr === false);

  it.each(positives.map((c) => [c.name, c] as const))("%s", async (_name, c) => {
    const variants = bitFlips(c).filter((v) => !(ignoresRoot(c) && v.label === "hash 1"));
    for (const variant of variants) {
      await expect(run(c.kind, c.data, variant.inputs), variant.label).rejects.toMatchObject({ code: "invalid_proof" });
    }
  });
});
