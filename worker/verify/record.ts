/**
 * Audit records and their leaves. A record is a JSON object; its leaf is RFC 6962's leaf hash over
 * the record's RFC 8785 canonical JSON, so anyone holding the exported record text can recompute
 * the leaf without this code.
 */
import { canonicalJson, type JsonValue, NotJsonError } from "../lib/canonical-json.ts";
import { utf8 } from "../lib/encoding.ts";
import { AuditError } from "./errors.ts";
import { type Hash, leafHash } from "./merkle/hash.ts";

/** Known record types; other lower-case identifiers are accepted so later planes can add theirs. */
export type AuditRecordType = "decision" | "completion" | (string & {});

export interface AuditRecord {
  type: AuditRecordType;
  /** The request's `x-request-id`. */
  requestId: string;
  /** The tenant whose log holds the record; also the routing key to that log. */
  tenant: string;
  /** RFC 3339 timestamp, for example `2026-11-26T08:21:00.000Z`. */
  time: string;
  [field: string]: JsonValue;
}

/**
 * Largest canonical record accepted. The bound that matters is an `entries` page crossing Workers
 * RPC, whose serialized payload is limited to 32 MiB: MAX_ENTRIES_PAGE (1000) × 16 KiB = 15.6 MiB,
 * leaving room for leaf hashes and framing. SQLite rows in a Durable Object may hold 2 MB, far above.
 */
export const MAX_RECORD_BYTES = 16 * 1024;

const TYPE_PATTERN = /^[a-z][a-z0-9_]{0,63}$/;
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;
const MAX_ID_LENGTH = 256;

export interface PreparedRecord {
  record: AuditRecord;
  canonical: string;
  leafHash: Hash;
}

function requireId(value: unknown, field: string): void {
  if (typeof value !== "string" || value.length === 0 || value.length > MAX_ID_LENGTH) {
    throw new AuditError("invalid_record", `record.${field} must be a string of 1 to ${MAX_ID_LENGTH} characters`);
  }
}

/**
 * Checks a record and computes its leaf. `not_json` for a value JSON cannot carry (the walk refuses
 * rather than dropping it, since the leaf would then commit to something else than the caller
 * sent), `invalid_record` for a missing or malformed required field, `record_too_large` past
 * MAX_RECORD_BYTES.
 */
export async function prepareRecord(value: unknown): Promise<PreparedRecord> {
  let canonical: string;
  try {
    canonical = canonicalJson(value);
  } catch (error) {
    if (error instanceof NotJsonError) throw new AuditError("not_json", `audit record ${error.message}`, { cause: error });
    throw error;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new AuditError("invalid_record", "an audit record must be a JSON object");
  }
  const record = value as AuditRecord;
  if (typeof record.type !== "string" || !TYPE_PATTERN.test(record.type)) {
    throw new AuditError("invalid_record", "record.type must be a lower-case identifier such as \"decision\"");
  }
  requireId(record.requestId, "requestId");
  requireId(record.tenant, "tenant");
  if (typeof record.time !== "string" || !RFC3339.test(record.time) || Number.isNaN(Date.parse(record.time))) {
    throw new AuditError("invalid_record", "record.time must be an RFC 3339 timestamp");
  }
  const bytes = utf8(canonical);
  if (bytes.length > MAX_RECORD_BYTES) {
    throw new AuditError("record_too_large", `record is ${bytes.length} bytes canonical, over ${MAX_RECORD_BYTES}`);
  }
  return { record, canonical, leafHash: await leafHash(bytes) };
}
