/**
 * The compact range [0, n): the roots of the perfect subtrees the first n leaves decompose into,
 * one per set bit of n, largest first. Appending a leaf merges it with the frontier's right end the
 * way a binary counter carries, so an append hashes O(log n) nodes and touches nothing else; the
 * root is the frontier folded from the right. Every perfect node an append completes is returned
 * so that the log can store it: proofs are later assembled from those stored nodes.
 */
import { isOdd, shiftRight } from "./bits.ts";
import { EMPTY_TREE_ROOT, type Hash, nodeHash } from "./hash.ts";

/** A perfect subtree's root: `level` 0 is a leaf; it covers leaves [index·2^level, (index+1)·2^level). */
export interface MerkleNode {
  level: number;
  index: number;
  hash: Hash;
}

/** Positions of the frontier nodes of a tree of `size` leaves, largest subtree first. */
export function frontierPositions(size: number): { level: number; index: number }[] {
  const positions: { level: number; index: number }[] = [];
  for (let level = 0, rest = size; rest > 0; level++, rest = shiftRight(rest, 1)) {
    if (isOdd(rest)) positions.push({ level, index: shiftRight(size, level) - 1 });
  }
  return positions.reverse();
}

export interface AppendResult {
  size: number;
  frontier: Hash[];
  root: Hash;
  /** Perfect nodes of level ≥ 1 completed by this append, in creation order. */
  created: MerkleNode[];
}

/**
 * Appends `leafHashes` to the tree of `size` leaves whose frontier is `frontier` (as positioned by
 * `frontierPositions(size)`). Pure: the inputs are not modified. Synchronous (`nodeHash`): the
 * log's write path calls this once per commit, with O(log n) small nodes to hash.
 */
export function appendLeaves(size: number, frontier: readonly Hash[], leafHashes: readonly Hash[]): AppendResult {
  const stack = [...frontier];
  const created: MerkleNode[] = [];
  let next = size;
  for (const leaf of leafHashes) {
    let carry = leaf;
    let level = 0;
    // The node at `level` on leaf `next`'s path is a right child exactly when that bit of `next`
    // is set; its left sibling is then the frontier's last (smallest) subtree.
    while (isOdd(shiftRight(next, level))) {
      const left = stack.pop();
      if (left === undefined) throw new RangeError(`frontier too short for a tree of ${size} leaves`);
      carry = nodeHash(left, carry);
      level++;
      created.push({ level, index: shiftRight(next, level), hash: carry });
    }
    stack.push(carry);
    next++;
  }
  return { size: next, frontier: stack, root: foldFrontier(stack), created };
}

/** MTH of the tree whose compact range [0, n) is `frontier`. */
export function foldFrontier(frontier: readonly Hash[]): Hash {
  let root = frontier.at(-1);
  if (root === undefined) return EMPTY_TREE_ROOT;
  for (let i = frontier.length - 2; i >= 0; i--) root = nodeHash(frontier[i] as Hash, root);
  return root;
}
