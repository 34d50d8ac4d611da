/**
 * RFC 6962 §2.1 hashing with SHA-256: a leaf is SHA-256(0x00 ‖ data), an interior node
 * SHA-256(0x01 ‖ left ‖ right). The distinct prefixes keep a leaf from being passed off as a node
 * (second-preimage resistance).
 */
import { fromHex, sha256 } from "../../lib/encoding.ts";
import { sha256Sync } from "../../lib/sha256-sync.ts";

export type Hash = Uint8Array;

/** SHA-256 output length in bytes. */
export const HASH_BYTES = 32;

/** MTH({}) = SHA-256() (RFC 6962 §2.1); known answer `e3b0c442…b855`. */
export const EMPTY_TREE_ROOT: Hash = fromHex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");

const LEAF_PREFIX = 0x00;
const NODE_PREFIX = 0x01;

export async function leafHash(data: Uint8Array): Promise<Hash> {
  const input = new Uint8Array(1 + data.length);
  input[0] = LEAF_PREFIX;
  input.set(data, 1);
  return sha256(input);
}

/**
 * An interior node's hash, computed synchronously: a node's input is 65 bytes (two SHA-256 blocks),
 * which the pure-JS hash does in a few microseconds, about what one `crypto.subtle.digest` costs in
 * workerd, but without a promise and a microtask turn per node (bench/AUDIT.md, the perf split). The
 * append path hashes O(log n) nodes per commit, proofs and their verification O(log n) each.
 */
export function nodeHash(left: Hash, right: Hash): Hash {
  const input = new Uint8Array(1 + left.length + right.length);
  input[0] = NODE_PREFIX;
  input.set(left, 1);
  input.set(right, 1 + left.length);
  return sha256Sync(input);
}

export function isHash(value: Uint8Array): boolean {
  return value.length === HASH_BYTES;
}

/** Byte equality. Inputs are public (roots, proofs), so no constant-time comparison is needed. */
export function equalHashes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
