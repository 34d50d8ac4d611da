/**
 * Verifying an exported log, the auditor's side (`verity audit verify`): pure and Web-APIs-only, so
 * the CLI runs it in Node and the tests in workerd.
 *
 * An export is JSON Lines: entries `{"index","leafHash","canonical"}` in log order, then one or more
 * `{"checkpoint": "<signed note>"}` lines. What is checked, in this order, stopping at the first
 * problem so the report names the FIRST bad index:
 *
 *   1. every entry sits at its own index (a deleted or reordered row shows here);
 *   2. its text is the RFC 8785 canonical JSON of a record of the log's tenant;
 *   3. its leaf hash, recomputed (RFC 6962) from that text, is the one the log stored;
 *   4. every checkpoint is signed by a trusted key (signed-note rules), names this log's origin, and
 *      its root equals the root recomputed from the first `size` leaves. Checkpoints are taken in
 *      size order, so two inconsistent checkpoints fail at the older one's range.
 *
 * Step 3 names the index of a naive edit; an edit that also rewrote the stored leaf hash survives
 * 1–3 and is caught by 4, which can only bound it between two checkpoint sizes (reported as the
 * lower bound, with the range in the message).
 */
import { canonicalJson } from "../lib/canonical-json.ts";
import { base64url, fromHex, toHex, utf8 } from "../lib/encoding.ts";
import { type Checkpoint, parseCheckpointText } from "./checkpoint.ts";
import { AuditError } from "./errors.ts";
import { appendLeaves } from "./merkle/compact-range.ts";
import { verifyConsistency } from "./merkle/consistency.ts";
import { EMPTY_TREE_ROOT, type Hash, leafHash } from "./merkle/hash.ts";
import { type NoteVerifier, parseVerifierKey, verifyNote } from "./note.ts";

export interface ExportEntry {
  index: number;
  leafHash: string;
  canonical: string;
}

export type ExportLine = { kind: "entry"; entry: ExportEntry } | { kind: "checkpoint"; note: string } | { kind: "malformed"; reason: string };

export type LogProblemCode =
  | "malformed_line"
  | "missing_entry"
  | "misplaced_entry"
  | "not_canonical"
  | "tenant_mismatch"
  | "leaf_mismatch"
  | "no_checkpoint"
  | "bad_checkpoint"
  | "wrong_origin"
  | "truncated"
  | "root_mismatch"
  | "inconsistent_checkpoints";

export interface LogProblem {
  code: LogProblemCode;
  /** The first index known bad (a lower bound for `root_mismatch`); absent when no index is at fault. */
  index?: number;
  message: string;
}

export interface VerifiedCheckpoint extends Checkpoint {
  verifiedBy: string[];
}

export interface LogReport {
  ok: boolean;
  /** Entries read. */
  entries: number;
  /** Checkpoints verified, in size order. */
  checkpoints: VerifiedCheckpoint[];
  problem?: LogProblem;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** One JSON Lines line of an export. Never throws: a bad line is a `malformed` line. */
export function parseExportLine(line: string): ExportLine {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return { kind: "malformed", reason: "not JSON" };
  }
  if (isRecord(value) && typeof value.checkpoint === "string" && Object.keys(value).length === 1) return { kind: "checkpoint", note: value.checkpoint };
  if (
    isRecord(value) &&
    Number.isSafeInteger(value.index) &&
    (value.index as number) >= 0 &&
    typeof value.leafHash === "string" &&
    /^[0-9a-f]{64}$/.test(value.leafHash) &&
    typeof value.canonical === "string"
  ) {
    return { kind: "entry", entry: { index: value.index as number, leafHash: value.leafHash, canonical: value.canonical } };
  }
  return { kind: "malformed", reason: "neither an entry {index, leafHash, canonical} nor a {checkpoint}" };
}

export function parseExport(text: string): ExportLine[] {
  return text
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map(parseExportLine);
}

/** The vkeys of a JWKS as `/.well-known/jwks.json` serves it; a JWK whose vkey is another key is refused. */
export async function verifiersFromJwks(jwks: unknown): Promise<NoteVerifier[]> {
  if (!isRecord(jwks) || !Array.isArray(jwks.keys)) throw new AuditError("invalid_key", "a JWK Set is an object with a keys array");
  const verifiers: NoteVerifier[] = [];
  for (const jwk of jwks.keys as unknown[]) {
    if (!isRecord(jwk) || typeof jwk.vkey !== "string") continue;
    const verifier = await parseVerifierKey(jwk.vkey);
    const x = typeof jwk.x === "string" ? jwk.x : "";
    if (x !== "" && x !== base64url(verifier.publicKey)) throw new AuditError("invalid_key", `JWK ${String(jwk.kid)}: its vkey is not the same key as x`);
    verifiers.push(verifier);
  }
  return verifiers;
}

/** Signature, body and (when given) origin of one checkpoint; throws `AuditError`. */
export async function verifyCheckpoint(note: string, verifiers: readonly NoteVerifier[], origin?: string): Promise<VerifiedCheckpoint> {
  const { text, verifiedBy } = await verifyNote(note, verifiers);
  const checkpoint = parseCheckpointText(text);
  if (origin !== undefined && checkpoint.origin !== origin) {
    throw new AuditError("invalid_checkpoint", `the checkpoint is for ${checkpoint.origin}, not ${origin}`);
  }
  return { ...checkpoint, verifiedBy };
}

/**
 * Two signed checkpoints of one log and the consistency proof between them (as the gateway's
 * `/proof/consistency` returns it, hex). Throws `AuditError`: `invalid_checkpoint` for another
 * origin or a shrinking log, `invalid_proof` when the newer tree does not extend the older.
 */
export async function verifyCheckpointPair(older: string, newer: string, proof: readonly string[], verifiers: readonly NoteVerifier[]): Promise<void> {
  const a = await verifyCheckpoint(older, verifiers);
  const b = await verifyCheckpoint(newer, verifiers, a.origin);
  if (a.size > b.size) throw new AuditError("invalid_checkpoint", `the log shrank from ${a.size} to ${b.size}`);
  if (a.size === 0) return;
  await verifyConsistency(a.size, b.size, proof.map((h) => fromHex(h)), fromHex(a.rootHash), fromHex(b.rootHash));
}

function fail(report: Omit<LogReport, "ok" | "problem">, code: LogProblemCode, message: string, index?: number): LogReport {
  return { ...report, ok: false, problem: index === undefined ? { code, message } : { code, index, message } };
}

export interface VerifyLogOptions {
  verifiers: readonly NoteVerifier[];
  /** The log's origin, when the auditor knows it; else every checkpoint must name the same one. */
  origin?: string;
  /** Earlier checkpoints the auditor kept (signed notes): each must be consistent with this export. */
  trusted?: readonly string[];
}

export async function verifyLog(lines: readonly ExportLine[], options: VerifyLogOptions): Promise<LogReport> {
  const entries: ExportEntry[] = [];
  const notes: string[] = [...(options.trusted ?? [])];
  const partial = { entries: 0, checkpoints: [] as VerifiedCheckpoint[] };
  let tenant: unknown;
  const leaves: Hash[] = [];
  for (const line of lines) {
    if (line.kind === "checkpoint") {
      notes.push(line.note);
      continue;
    }
    const position = entries.length;
    if (line.kind === "malformed") return fail(partial, "malformed_line", `the line after entry ${position - 1} is ${line.reason}`, position);
    if (notes.length > (options.trusted?.length ?? 0)) return fail(partial, "malformed_line", "an entry follows a checkpoint", position);
    const { entry } = line;
    if (entry.index > position) return fail(partial, "missing_entry", `entry ${position} is missing (the next one is ${entry.index})`, position);
    if (entry.index < position) return fail(partial, "misplaced_entry", `entry ${entry.index} appears again at position ${position}`, position);
    let record: unknown;
    try {
      record = JSON.parse(entry.canonical);
    } catch {
      return fail(partial, "not_canonical", `entry ${position} is not JSON`, position);
    }
    if (!isRecord(record) || canonicalJson(record) !== entry.canonical) {
      return fail(partial, "not_canonical", `entry ${position} is not an RFC 8785 canonical JSON object`, position);
    }
    tenant ??= record.tenant;
    if (record.tenant !== tenant) return fail(partial, "tenant_mismatch", `entry ${position} is a record of tenant ${JSON.stringify(record.tenant)}, not ${JSON.stringify(tenant)}`, position);
    const leaf = await leafHash(utf8(entry.canonical));
    if (toHex(leaf) !== entry.leafHash) return fail(partial, "leaf_mismatch", `entry ${position}: its record does not hash to the leaf the log stored`, position);
    entries.push(entry);
    leaves.push(leaf);
    partial.entries = entries.length;
  }
  if (notes.length === 0) return fail(partial, "no_checkpoint", "the export ends without a signed checkpoint");

  // Trusted (earlier, kept by the auditor) checkpoints first, then the export's own.
  const trustedCount = options.trusted?.length ?? 0;
  const checked: { checkpoint: VerifiedCheckpoint; trusted: boolean }[] = [];
  for (const [i, note] of notes.entries()) {
    try {
      const checkpoint = await verifyCheckpoint(note, options.verifiers, options.origin ?? checked[0]?.checkpoint.origin);
      checked.push({ checkpoint, trusted: i < trustedCount });
    } catch (error) {
      const code = error instanceof AuditError && error.code === "invalid_checkpoint" && / is for /.test(error.message) ? "wrong_origin" : "bad_checkpoint";
      const which = i < trustedCount ? `trusted checkpoint ${i + 1}` : `the export's checkpoint ${i - trustedCount + 1}`;
      return fail(partial, code, `${which}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  checked.sort((a, b) => a.checkpoint.size - b.checkpoint.size);

  let size = 0;
  let frontier: Hash[] = [];
  let root = EMPTY_TREE_ROOT;
  let lastGood = 0;
  for (const { checkpoint, trusted } of checked) {
    if (checkpoint.size > leaves.length) {
      return fail(partial, "truncated", `a checkpoint covers ${checkpoint.size} entries but the export holds ${leaves.length}`, leaves.length);
    }
    if (checkpoint.size > size) {
      ({ frontier, root } = appendLeaves(size, frontier, leaves.slice(size, checkpoint.size)));
      size = checkpoint.size;
    }
    if (toHex(root) !== checkpoint.rootHash) {
      // A trusted earlier checkpoint that this export contradicts: the log signed two views that no
      // consistency proof can join (a fork, or a rollback and rewrite), whatever the export's own says.
      if (trusted) {
        return fail(partial, "inconsistent_checkpoints", `the trusted checkpoint of size ${checkpoint.size} is inconsistent with this log: an entry in [${lastGood}, ${checkpoint.size}) differs`, lastGood);
      }
      return fail(
        partial,
        "root_mismatch",
        `the entries do not hash to the signed root of size ${checkpoint.size}: an entry in [${lastGood}, ${checkpoint.size}) was altered along with its stored leaf hash`,
        lastGood,
      );
    }
    lastGood = checkpoint.size;
    partial.checkpoints.push(checkpoint);
  }
  return { ok: true, entries: leaves.length, checkpoints: partial.checkpoints };
}
