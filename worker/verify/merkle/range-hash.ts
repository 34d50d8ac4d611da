/**
 * MTH(D[start:end]) for a valid subtree (see `isValidSubtree`), assembled from stored perfect nodes:
 * the left part of every RFC 6962 split of such a range is an aligned perfect subtree, so the hash
 * needs O(log n) node reads and hashes rather than the leaves below it.
 */
import { isPowerOfTwo, isValidSubtree, splitPoint } from "./bits.ts";
import { type Hash, nodeHash } from "./hash.ts";

/** Reads the stored root of the perfect subtree at (level, index). */
export type NodeReader = (level: number, index: number) => Hash;

export async function rangeHash(start: number, end: number, readNode: NodeReader): Promise<Hash> {
  if (!isValidSubtree(start, end)) throw new RangeError(`[${start}, ${end}) is not a subtree`);
  return validRangeHash(start, end, readNode);
}

function validRangeHash(start: number, end: number, readNode: NodeReader): Hash {
  const width = end - start;
  if (isPowerOfTwo(width)) return readNode(Math.log2(width), start / width);
  const k = splitPoint(width);
  return nodeHash(readNode(Math.log2(k), start / k), validRangeHash(start + k, end, readNode));
}

/** The hash provider proofs are generated over: MTH(D[start:end]) for a valid subtree. */
export type RangeHasher = (start: number, end: number) => Promise<Hash>;

export function storedRangeHasher(readNode: NodeReader): RangeHasher {
  return (start, end) => rangeHash(start, end, readNode);
}
