/**
 * `/audit/{tenant}/…`: read access to a tenant's log for its auditors, and the gateway's published
 * signing keys. Every audit read is a PDP decision (`read_audit` on the tenant) and is itself
 * recorded, allow or deny, with the facts the PDP was asked about (so `audit replay` can re-ask).
 */
import type { Context } from "hono";
import type { AppEnv } from "./env.ts";
import { GatewayError } from "./errors.ts";
import { authenticateCaller, authorizeTenantAction, type PipelineDeps } from "./caller.ts";
import { placedStub } from "./lib/tenant-placement.ts";
import {
  type AuditEntry,
  AuditError,
  type ConsistencyProof,
  type InclusionProof,
  KEY_RING_NAME,
  MAX_ENTRIES_PAGE,
  parseTilePath,
  type PublishedKey,
  type SignedCheckpoint,
  type TreeHead,
} from "./verify/index.ts";
import type { Tenant } from "./workload/index.ts";

/** The tenant whose log the caller may read (a PDP `read_audit` decision, itself audited); throws otherwise. */
export async function authorizeAuditor(c: Context<AppEnv>, deps: PipelineDeps, what: string): Promise<Tenant> {
  return authorizeTenantAction(c, deps, await authenticateCaller(c, deps), "read_audit", { what }, {
    notPerson: "audit routes are for people with the auditor role",
    notAllowed: "reading this audit log is not allowed by policy",
  });
}

/** The reads this route makes. Typed by hand: the RPC stub type of recursive JSON records is too deep for tsc. */
interface AuditLogReader {
  treeHead(): Promise<TreeHead>;
  entries(start: number, end: number): Promise<AuditEntry[]>;
  inclusionProof(index: number, treeSize: number): Promise<InclusionProof>;
  consistencyProof(from: number, to: number): Promise<ConsistencyProof>;
  checkpoint(): Promise<SignedCheckpoint>;
  checkpointAt(size: number): Promise<SignedCheckpoint | undefined>;
  tile(path: string): Promise<Uint8Array<ArrayBuffer> | undefined>;
}

/** The tenant's log, in the tenant's jurisdiction (the same placement the audit sink writes to). */
function logOf(env: AppEnv["Bindings"], tenant: Tenant): AuditLogReader {
  return placedStub(env.AUDIT_LOG, tenant.id, tenant.jurisdiction, env) as unknown as AuditLogReader;
}

function boundedInteger(raw: string | undefined, name: string, fallback: number): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!/^\d{1,15}$/.test(raw) || !Number.isSafeInteger(value)) throw new GatewayError("invalid_request", `"${name}" must be a non-negative integer`);
  return value;
}

function requiredInteger(c: Context<AppEnv>, name: string): number {
  const raw = c.req.query(name);
  if (raw === undefined) throw new GatewayError("invalid_request", `"${name}" is required`);
  return boundedInteger(raw, name, 0);
}

/** `[start, end)` clipped to the log and one page. */
async function pageOf(c: Context<AppEnv>, log: AuditLogReader): Promise<{ size: number; start: number; end: number }> {
  const { size } = await log.treeHead();
  const start = boundedInteger(c.req.query("start"), "start", 0);
  const end = Math.min(boundedInteger(c.req.query("end"), "end", size), size, start + MAX_ENTRIES_PAGE);
  if (start > end) throw new GatewayError("invalid_request", '"start" must not exceed "end" or the log size');
  return { size, start, end };
}

/** `GET /audit/{tenant}/head`: the log's current size and root hash. */
export async function handleAuditHead(c: Context<AppEnv>, deps: PipelineDeps): Promise<Response> {
  const tenant = await authorizeAuditor(c, deps, "head");
  return c.json(await logOf(c.env, tenant).treeHead());
}

/** `GET /audit/{tenant}/entries?start=&end=`: records with their leaf hashes, in log order. */
export async function handleAuditEntries(c: Context<AppEnv>, deps: PipelineDeps): Promise<Response> {
  const tenant = await authorizeAuditor(c, deps, "entries");
  const log = logOf(c.env, tenant);
  const { size, start, end } = await pageOf(c, log);
  const page = start === end ? [] : await log.entries(start, end);
  // `record` is the parsed canonical text; RFC 8785 makes it re-derivable byte for byte from `record`.
  const entries = page.map(({ index, leafHash, canonical }) => ({ index, leafHash, record: JSON.parse(canonical) as unknown }));
  return c.json({ treeSize: size, start, end, entries });
}

/**
 * `GET /audit/{tenant}/export?start=&end=`: one page of the log as JSON Lines, each line an entry
 * `{"index","leafHash","canonical"}` with the record's stored canonical text verbatim (the exact bytes
 * its leaf commits to, even if storage was tampered with: the verifier, not this route, judges them).
 * `x-audit-tree-size` carries the log's size. `verity audit export` pages through it.
 */
export async function handleAuditExport(c: Context<AppEnv>, deps: PipelineDeps): Promise<Response> {
  const tenant = await authorizeAuditor(c, deps, "export");
  const log = logOf(c.env, tenant);
  const { size, start, end } = await pageOf(c, log);
  const page = start === end ? [] : await log.entries(start, end);
  const body = page.map((entry) => `${JSON.stringify({ index: entry.index, leafHash: entry.leafHash, canonical: entry.canonical })}\n`).join("");
  return c.body(body, 200, { "content-type": "application/jsonl; charset=utf-8", "x-audit-tree-size": String(size) });
}

/**
 * `GET /audit/{tenant}/checkpoint[?size=]`: the latest signed checkpoint (a C2SP signed note, issued
 * on demand when the log has grown), or the one this log signed at `size`.
 */
export async function handleAuditCheckpoint(c: Context<AppEnv>, deps: PipelineDeps): Promise<Response> {
  const tenant = await authorizeAuditor(c, deps, "checkpoint");
  const log = logOf(c.env, tenant);
  const raw = c.req.query("size");
  const checkpoint = raw === undefined ? await log.checkpoint() : await log.checkpointAt(boundedInteger(raw, "size", 0));
  if (checkpoint === undefined) throw new GatewayError("not_found", "this log kept no checkpoint of that size");
  return c.body(checkpoint.note, 200, { "content-type": "text/plain; charset=utf-8", "x-audit-tree-size": String(checkpoint.size) });
}

/** `GET /audit/{tenant}/proof/inclusion?index=&size=`: RFC 6962 audit path of leaf `index` in the tree of `size` (default: the log's size). */
export async function handleInclusionProof(c: Context<AppEnv>, deps: PipelineDeps): Promise<Response> {
  const tenant = await authorizeAuditor(c, deps, "inclusion_proof");
  const log = logOf(c.env, tenant);
  const head = await log.treeHead();
  const index = requiredInteger(c, "index");
  const size = boundedInteger(c.req.query("size"), "size", head.size);
  if (size > head.size || index >= size) throw new GatewayError("invalid_request", `leaf ${index} is not in a tree of ${size} (the log holds ${head.size})`);
  return c.json(await log.inclusionProof(index, size));
}

/** `GET /audit/{tenant}/proof/consistency?from=&to=`: RFC 6962 consistency proof between two sizes (`to` defaults to the log's size). */
export async function handleConsistencyProof(c: Context<AppEnv>, deps: PipelineDeps): Promise<Response> {
  const tenant = await authorizeAuditor(c, deps, "consistency_proof");
  const log = logOf(c.env, tenant);
  const head = await log.treeHead();
  const from = requiredInteger(c, "from");
  const to = boundedInteger(c.req.query("to"), "to", head.size);
  if (from === 0 || from > to || to > head.size) throw new GatewayError("invalid_request", `no consistency proof from ${from} to ${to} (the log holds ${head.size})`);
  return c.json(await log.consistencyProof(from, to));
}

/**
 * `GET /audit/{tenant}/tile/<L>/<N>[.p/<W>]` and `…/tile/entries/<N>[.p/<W>]`: the log as C2SP
 * tlog-tiles (hash tiles and entry bundles), from which a client computes any proof against a
 * checkpoint itself. Immutable, so long-lived caching is safe, but private: the records are the
 * tenant's. 404 while the log does not hold the whole tile (a partial tile is served at its width).
 */
export async function handleAuditTile(c: Context<AppEnv>, deps: PipelineDeps): Promise<Response> {
  // `/audit/{tenant}/tile/…`: what follows `tile/`, however the tenant segment is encoded.
  const path = c.req.path.split("/").slice(4).join("/");
  let what = "tile";
  try {
    what = parseTilePath(path).kind === "entries" ? "entry_bundle" : "tile";
  } catch (error) {
    if (error instanceof AuditError) throw new GatewayError("invalid_request", error.message);
    throw error;
  }
  const tenant = await authorizeAuditor(c, deps, what);
  const tile = await logOf(c.env, tenant).tile(path);
  if (tile === undefined) throw new GatewayError("not_found", "the log does not hold this whole tile yet");
  return c.body(tile, 200, { "content-type": "application/octet-stream", "cache-control": "private, max-age=31536000, immutable" });
}

/**
 * `GET /.well-known/jwks.json`: the gateway's public signing keys, each a JWK (RFC 8037, `kid` its
 * RFC 7638 thumbprint) that also carries `vkey`, the same key as a C2SP note verifier key for
 * checkpoints. Public, unauthenticated, cacheable for a short while (keys overlap for days).
 */
export async function handleJwks(c: Context<AppEnv>): Promise<Response> {
  const ring = c.env.KEY_RING.get(c.env.KEY_RING.idFromName(KEY_RING_NAME)) as unknown as { publicKeys(): Promise<PublishedKey[]> };
  const keys = await ring.publicKeys();
  return c.json({ keys }, 200, { "cache-control": "public, max-age=300" });
}
