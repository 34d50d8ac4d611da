/**
 * Consistency proofs: PROOF(m, D[n]) of RFC 6962 §2.1.2 to generate; to verify, the procedure of
 * RFC 9162 §2.1.4.2 in the generalised form of the Merkle Tree Certificates draft (consistency of
 * the subtree [start, end) with the tree of `size` leaves). Plain consistency between sizes m ≤ n
 * is the subtree [0, m) of the tree of n.
 */
import { AuditError } from "../errors.ts";
import { isIndex, isOdd, isValidSubtree, shiftRight, splitPoint } from "./bits.ts";
import { EMPTY_TREE_ROOT, equalHashes, type Hash, isHash, nodeHash } from "./hash.ts";
import type { RangeHasher } from "./range-hash.ts";

/** PROOF(from, D[to]), oldest subtree first. Requires 0 < from ≤ to (empty when from = to). */
export async function consistencyPath(from: number, to: number, hashRange: RangeHasher): Promise<Hash[]> {
  if (!isIndex(from) || !isIndex(to) || from === 0 || from > to) {
    throw new RangeError(`no consistency proof from ${from} to ${to}`);
  }
  const path: Hash[] = [];
  await collectSubproof(from, 0, to, true, hashRange, path);
  return path;
}

// SUBPROOF(m, D[start:end], known): `known` says the verifier already holds MTH(D[start:start+m]).
async function collectSubproof(
  m: number,
  start: number,
  end: number,
  known: boolean,
  hashRange: RangeHasher,
  path: Hash[],
): Promise<void> {
  const n = end - start;
  if (m === n) {
    if (!known) path.push(await hashRange(start, end));
    return;
  }
  const k = splitPoint(n);
  if (m <= k) {
    await collectSubproof(m, start, start + k, known, hashRange, path);
    path.push(await hashRange(start + k, end));
  } else {
    await collectSubproof(m - k, start + k, end, false, hashRange, path);
    path.push(await hashRange(start, start + k));
  }
}

function refuse(reason: string): AuditError {
  return new AuditError("invalid_proof", `consistency proof does not verify: ${reason}`);
}


/**
 * Throws `invalid_proof` unless `proof` shows that the tree of `size1` leaves with `root1` is a
 * prefix of the tree of `size2` leaves with `root2`. A proof from the empty tree is refused: it
 * would prove nothing, and a verifier holding size 0 should not be asking.
 */
export async function verifyConsistency(size1: number, size2: number, proof: readonly Hash[], root1: Hash, root2: Hash): Promise<void> {
  if (!isIndex(size1) || !isIndex(size2)) throw refuse("sizes must be non-negative safe integers");
  if (size1 === 0) throw refuse("a proof from the empty tree proves nothing");
  if (size1 > size2) throw refuse(`size ${size1} is larger than size ${size2}`);
  await verifySubtreeConsistency(0, size1, size2, proof, root1, root2);
}

/**
 * Throws `invalid_proof` unless `proof` shows that the subtree [start, end) with hash `subtreeRoot`
 * is part of the tree of `size` leaves with `root`. The empty subtree [k, k) is part of every tree
 * once its hash is the empty-tree hash, with an empty proof.
 */
export async function verifySubtreeConsistency(
  start: number,
  end: number,
  size: number,
  proof: readonly Hash[],
  subtreeRoot: Hash,
  root: Hash,
): Promise<void> {
  if (isIndex(start) && start === end) {
    if (proof.length !== 0) throw refuse("an empty subtree needs an empty proof");
    if (!equalHashes(subtreeRoot, EMPTY_TREE_ROOT)) throw refuse("an empty subtree has the empty-tree hash");
    return;
  }
  if (!isValidSubtree(start, end)) throw refuse(`[${start}, ${end}) is not a subtree`);
  if (!isIndex(size) || end > size) throw refuse(`[${start}, ${end}) is not inside a tree of ${size}`);
  // Roots are only ever compared, so their length needs no check of its own; proof hashes are hashed.
  if (proof.some((p) => !isHash(p))) throw refuse("a proof hash is not 32 bytes");

  // fn, sn: the subtree's first and last leaf; tn: the tree's last leaf; all climb level by level.
  let fn = start;
  let sn = end - 1;
  let tn = size - 1;
  const climb = (): void => {
    fn = shiftRight(fn, 1);
    sn = shiftRight(sn, 1);
    tn = shiftRight(tn, 1);
  };
  // Skip the levels whose nodes the verifier can compute alone: up to the subtree's root when the
  // subtree ends where the tree ends, else up to the lowest node on its right edge that is a left child.
  if (sn === tn) {
    while (fn !== sn) climb();
  } else {
    while (fn !== sn && isOdd(sn)) climb();
  }

  let rest: readonly Hash[] = proof;
  let fr: Hash;
  if (fn === sn) {
    fr = subtreeRoot;
  } else {
    const first = proof[0];
    if (first === undefined) throw refuse("proof is empty");
    fr = first;
    rest = proof.slice(1);
  }
  let sr = fr;

  for (const c of rest) {
    if (tn === 0) throw refuse("proof is too long");
    if (isOdd(sn) || sn === tn) {
      if (fn < sn) fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      while (!isOdd(sn) && sn !== 0) climb();
    } else {
      sr = nodeHash(sr, c);
    }
    climb();
  }
  if (tn !== 0) throw refuse("proof is too short");
  if (!equalHashes(fr, subtreeRoot)) throw refuse("the proof does not rebuild the older root");
  if (!equalHashes(sr, root)) throw refuse("the proof does not rebuild the newer root");
}
