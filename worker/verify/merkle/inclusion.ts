/**
 * Inclusion proofs: PATH(m, D[n]) of RFC 6962 §2.1.1 to generate, RFC 9162 §2.1.3.2 to verify. The
 * subtree variant (a leaf inside the subtree [start, end) of the Merkle Tree Certificates draft) is
 * the same verification relative to the subtree's first leaf; plain inclusion is the subtree
 * [0, size).
 */
import { AuditError } from "../errors.ts";
import { isIndex, isOdd, isValidSubtree, shiftRight, splitPoint } from "./bits.ts";
import { equalHashes, type Hash, isHash, nodeHash } from "./hash.ts";
import type { RangeHasher } from "./range-hash.ts";

/** The audit path for leaf `index` in the tree of `size` leaves, leaf-side first. Requires index < size. */
export async function inclusionPath(index: number, size: number, hashRange: RangeHasher): Promise<Hash[]> {
  if (!isIndex(index) || !isIndex(size) || index >= size) {
    throw new RangeError(`no inclusion proof for leaf ${index} in a tree of ${size}`);
  }
  const path: Hash[] = [];
  await collectPath(index, 0, size, hashRange, path);
  return path;
}

async function collectPath(m: number, start: number, end: number, hashRange: RangeHasher, path: Hash[]): Promise<void> {
  const n = end - start;
  if (n === 1) return;
  const k = splitPoint(n);
  if (m < k) {
    await collectPath(m, start, start + k, hashRange, path);
    path.push(await hashRange(start + k, end));
  } else {
    await collectPath(m - k, start + k, end, hashRange, path);
    path.push(await hashRange(start, start + k));
  }
}

function refuse(reason: string): AuditError {
  return new AuditError("invalid_proof", `inclusion proof does not verify: ${reason}`);
}

/**
 * The root that `proof` implies for leaf `index` (hash `leaf`) in a tree of `size` leaves, or an
 * `invalid_proof` error if the proof cannot belong to such a tree (wrong length, wrong hash sizes).
 */
export async function rootFromInclusionProof(index: number, size: number, leaf: Hash, proof: readonly Hash[]): Promise<Hash> {
  if (!isIndex(index) || !isIndex(size)) throw refuse("index and size must be non-negative safe integers");
  if (index >= size) throw refuse(`leaf ${index} is not in a tree of ${size}`);
  if (!isHash(leaf)) throw refuse("leaf hash is not 32 bytes");
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of proof) {
    if (!isHash(p)) throw refuse("a proof hash is not 32 bytes");
    if (sn === 0) throw refuse("proof is too long");
    if (isOdd(fn) || fn === sn) {
      r = nodeHash(p, r);
      // Climb past the levels where this node has no right sibling (the tree's right border).
      while (!isOdd(fn) && fn !== 0) {
        fn = shiftRight(fn, 1);
        sn = shiftRight(sn, 1);
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = shiftRight(fn, 1);
    sn = shiftRight(sn, 1);
  }
  if (sn !== 0) throw refuse("proof is too short");
  return r;
}

/** Throws `invalid_proof` unless `proof` shows leaf `index` (hash `leaf`) in the tree of `size` with `root`. */
export async function verifyInclusion(index: number, size: number, leaf: Hash, proof: readonly Hash[], root: Hash): Promise<void> {
  const computed = await rootFromInclusionProof(index, size, leaf, proof);
  if (!equalHashes(computed, root)) throw refuse("root mismatch");
}

/** Like `verifyInclusion`, for leaf `index` of the subtree [start, end) whose hash is `subtreeRoot`. */
export async function verifySubtreeInclusion(
  index: number,
  start: number,
  end: number,
  leaf: Hash,
  proof: readonly Hash[],
  subtreeRoot: Hash,
): Promise<void> {
  if (!isValidSubtree(start, end)) throw refuse(`[${start}, ${end}) is not a subtree`);
  if (!isIndex(index) || index < start || index >= end) throw refuse(`leaf ${index} is outside [${start}, ${end})`);
  await verifyInclusion(index - start, end - start, leaf, proof, subtreeRoot);
}
