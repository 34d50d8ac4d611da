/**
 * MTH(D[n]) straight from RFC 6962 §2.1, recursively over all leaf hashes. O(n) hashes: the log
 * never calls it on the write path (see `compact-range.ts`); it is the reference the incremental
 * root is tested against, and what an auditor uses over an exported log.
 */
import { splitPoint } from "./bits.ts";
import { EMPTY_TREE_ROOT, type Hash, nodeHash } from "./hash.ts";

export async function treeRoot(leafHashes: readonly Hash[]): Promise<Hash> {
  if (leafHashes.length === 0) return EMPTY_TREE_ROOT;
  return subtreeRoot(leafHashes, 0, leafHashes.length);
}

function subtreeRoot(leafHashes: readonly Hash[], start: number, end: number): Hash {
  if (end - start === 1) {
    const leaf = leafHashes[start];
    if (leaf === undefined) throw new RangeError(`no leaf ${start}`);
    return leaf;
  }
  const k = splitPoint(end - start);
  return nodeHash(subtreeRoot(leafHashes, start, start + k), subtreeRoot(leafHashes, start + k, end));
}
