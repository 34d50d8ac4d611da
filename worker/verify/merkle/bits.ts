/**
 * Bit arithmetic on tree sizes and indices. JavaScript's bitwise operators truncate to 32 bits, and
 * a log may outgrow 2^32 leaves, so sizes are non-negative safe integers (< 2^53) and every
 * operation here is exact on that whole range: shifts are divisions by powers of two (exact in
 * binary floating point) and the rest goes through BigInt.
 */

export function isIndex(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

/** ⌊x / 2^k⌋ */
export function shiftRight(x: number, k: number): number {
  return Math.floor(x / 2 ** k);
}

export function isOdd(x: number): boolean {
  return x % 2 === 1;
}

/** Number of bits needed to write x (0 for 0). */
export function bitLength(x: number): number {
  return x === 0 ? 0 : BigInt(x).toString(2).length;
}

export function onesCount(x: number): number {
  let count = 0;
  for (const digit of BigInt(x).toString(2)) if (digit === "1") count++;
  return count;
}

/** The largest power of two strictly less than n, for n ≥ 2 (the split point k of RFC 6962 §2.1). */
export function splitPoint(n: number): number {
  return 2 ** (bitLength(n - 1) - 1);
}

/** Whether n is a power of two (n ≥ 1). */
export function isPowerOfTwo(n: number): boolean {
  return n >= 1 && onesCount(n) === 1;
}

/**
 * Whether [start, end) is a subtree in the sense of the Merkle Tree Certificates draft: non-empty
 * and start is a multiple of the smallest power of two ≥ end - start. Exactly the ranges that the
 * RFC 6962 recursion visits, so their hash is MTH over that range and is built from stored
 * perfect nodes.
 */
export function isValidSubtree(start: number, end: number): boolean {
  if (!isIndex(start) || !isIndex(end) || start >= end) return false;
  const ceiling = 2 ** bitLength(end - start - 1);
  return start % ceiling === 0;
}
