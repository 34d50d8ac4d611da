/**
 * Bitcoin address checks: legacy Base58Check (P2PKH "1…", P2SH "3…": 25 bytes, version 0x00/0x05,
 * the last four bytes the first four of double SHA-256), and segwit bech32/bech32m (BIP 173/350).
 */
import { sha256Sync } from "../../lib/sha256-sync.ts";

const BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

function base58Decode(value: string): Uint8Array | undefined {
  const bytes: number[] = [0];
  for (const char of value) {
    let carry = BASE58.indexOf(char);
    if (carry < 0) return undefined;
    for (let i = 0; i < bytes.length; i++) {
      carry += bytes[i]! * 58;
      bytes[i] = carry & 0xff;
      carry >>= 8;
    }
    while (carry > 0) {
      bytes.push(carry & 0xff);
      carry >>= 8;
    }
  }
  for (let i = 0; i < value.length && value[i] === "1"; i++) bytes.push(0);
  return Uint8Array.from(bytes.reverse());
}

export function base58CheckAddress(value: string): boolean {
  const bytes = base58Decode(value);
  if (!bytes || bytes.length !== 25 || (bytes[0] !== 0x00 && bytes[0] !== 0x05)) return false;
  const check = sha256Sync(sha256Sync(bytes.subarray(0, 21)));
  return check[0] === bytes[21] && check[1] === bytes[22] && check[2] === bytes[23] && check[3] === bytes[24];
}

const BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";
const GENERATOR = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];
const BECH32_CONST = 1;
const BECH32M_CONST = 0x2bc830a3;

function polymod(values: readonly number[]): number {
  let chk = 1;
  for (const v of values) {
    const top = chk >>> 25;
    chk = ((chk & 0x1ffffff) << 5) ^ v;
    for (let i = 0; i < 5; i++) if ((top >>> i) & 1) chk ^= GENERATOR[i]!;
  }
  return chk >>> 0;
}

/** A mainnet segwit address: "bc1", witness version 0 (bech32) or 1–16 (bech32m), checksum valid. */
export function bech32Address(value: string): boolean {
  if (value !== value.toLowerCase() && value !== value.toUpperCase()) return false;
  const lower = value.toLowerCase();
  if (!lower.startsWith("bc1") || lower.length < 14 || lower.length > 90) return false;
  const data: number[] = [];
  for (const char of lower.slice(3)) {
    const v = BECH32.indexOf(char);
    if (v < 0) return false;
    data.push(v);
  }
  const hrp = "bc";
  const expanded = [...[...hrp].map((c) => c.charCodeAt(0) >> 5), 0, ...[...hrp].map((c) => c.charCodeAt(0) & 31)];
  const check = polymod([...expanded, ...data]);
  const version = data[0]!;
  return version === 0 ? check === BECH32_CONST : version <= 16 && check === BECH32M_CONST;
}
