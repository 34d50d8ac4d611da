/**
 * C2SP tlog-tiles addressing: `tile/<L>/<N>[.p/<W>]` (hash tiles) and `tile/entries/<N>[.p/<W>]`
 * (entry bundles). A tile at level L is the row of 256 Merkle Tree Hashes of the perfect subtrees of
 * height 8·L under one subtree of height 8·(L+1); a partial tile holds the first W of them. Each
 * resource has exactly one name here: an index with a needless leading `x000` element, or a number
 * with a leading zero, is refused, so a cache can never hold one tile under two paths.
 */
import { AuditError } from "./errors.ts";

/** Hashes in a full tile, and the height of the subtree one tile spans. */
export const TILE_WIDTH = 256;
export const TILE_HEIGHT = 8;
/** Levels the specification allows (0 to 63). */
export const MAX_TILE_LEVEL = 63;

export type TileAddress =
  | { kind: "hashes"; level: number; index: number; width: number }
  | { kind: "entries"; index: number; width: number };

const LEVEL = /^(0|[1-9][0-9]?)$/;
const WIDTH = /^[1-9][0-9]{0,2}$/;

function refuse(path: string, why: string): never {
  throw new AuditError("invalid_argument", `"${path}" is not a tile path: ${why}`);
}

/** The tile a path after `tile/` names; throws `invalid_argument` for anything else. */
export function parseTilePath(path: string): TileAddress {
  const parts = path.split("/");
  const head = parts.shift();
  let width = TILE_WIDTH;
  const dotP = parts.findIndex((part) => part.endsWith(".p"));
  if (dotP !== -1) {
    // `.p/<W>` closes the path: the `.p` suffix is on N's last element and W is the last element.
    if (dotP !== parts.length - 2) refuse(path, "`.p/<W>` must end the path");
    const raw = parts.pop() as string;
    if (!WIDTH.test(raw) || Number(raw) >= TILE_WIDTH) refuse(path, "a partial tile's width is 1 to 255, without leading zeros");
    width = Number(raw);
    parts[dotP] = (parts[dotP] as string).slice(0, -2);
  }
  const index = tileIndex(parts, path);
  if (head === "entries") return { kind: "entries", index, width };
  if (head === undefined || !LEVEL.test(head) || Number(head) > MAX_TILE_LEVEL) refuse(path, "the level is 0 to 63, or `entries`");
  return { kind: "hashes", level: Number(head), index, width };
}

/** `x001/x234/067` → 1234067: zero-padded 3-digit elements, all but the last prefixed with `x`. */
function tileIndex(elements: string[], path: string): number {
  if (elements.length === 0) refuse(path, "no tile index");
  let index = 0;
  elements.forEach((element, i) => {
    const last = i === elements.length - 1;
    const digits = last ? element : element.startsWith("x") ? element.slice(1) : refuse(path, "all but the last index element begin with `x`");
    if (!/^[0-9]{3}$/.test(digits)) refuse(path, "index elements are three digits");
    if (i === 0 && !last && digits === "000") refuse(path, "the index has a needless leading element");
    index = index * 1000 + Number(digits);
  });
  if (!Number.isSafeInteger(index)) refuse(path, "the index is too large");
  return index;
}

/** The path (after `tile/`) of a tile: the inverse of `parseTilePath`. */
export function tilePath(tile: TileAddress): string {
  const groups: string[] = [];
  let rest = tile.index;
  do {
    groups.unshift(String(rest % 1000).padStart(3, "0"));
    rest = Math.floor(rest / 1000);
  } while (rest > 0);
  const index = groups.map((g, i) => (i < groups.length - 1 ? `x${g}` : g)).join("/");
  const partial = tile.width < TILE_WIDTH ? `.p/${tile.width}` : "";
  return `${tile.kind === "entries" ? "entries" : String(tile.level)}/${index}${partial}`;
}

/**
 * Entries `[start, end)` a tile's hashes cover at tree level `height` (the subtrees' roots), or
 * undefined when a tree of `size` does not hold all of them yet.
 */
export function tileSpan(tile: TileAddress, size: number): { height: number; first: number; count: number } | undefined {
  const height = tile.kind === "entries" ? 0 : tile.level * TILE_HEIGHT;
  const first = tile.index * TILE_WIDTH;
  // Each hash spans 2^height entries; every one of the tile's subtrees must be complete.
  if ((first + tile.width) * 2 ** height > size) return undefined;
  return { height, first, count: tile.width };
}

/** An entry bundle: each record's canonical bytes after its big-endian uint16 length. */
export function entryBundle(records: readonly Uint8Array[]): Uint8Array<ArrayBuffer> {
  const total = records.reduce((sum, r) => sum + 2 + r.length, 0);
  const bundle = new Uint8Array(total);
  let at = 0;
  for (const record of records) {
    // MAX_RECORD_BYTES (16 KiB) keeps every record inside a uint16 length.
    if (record.length > 0xffff) throw new AuditError("record_too_large", "a record is longer than an entry bundle can carry");
    bundle[at] = record.length >> 8;
    bundle[at + 1] = record.length & 0xff;
    bundle.set(record, at + 2);
    at += 2 + record.length;
  }
  return bundle;
}
