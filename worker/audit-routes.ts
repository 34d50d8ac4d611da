/**
 * `/audit/{tenant}/…`: read access to a tenant's log for its auditors. Every read is a PDP decision
 * (`read_audit` on the tenant) and is itself recorded, allow or deny.
 */
import type { Context } from "hono";
import type { AppEnv } from "./env.ts";
import { GatewayError } from "./errors.ts";
import { authenticateCaller, commit, decisionRecord, requestEnvironment, type PipelineDeps } from "./caller.ts";
import { tenantActionRequest } from "./policy/index.ts";
import { MAX_ENTRIES_PAGE, type AuditEntry, type TreeHead } from "./verify/index.ts";

async function authorizeAuditor(c: Context<AppEnv>, deps: PipelineDeps, what: string): Promise<string> {
  const { config, principal } = await authenticateCaller(c, deps);
  const tenant = c.req.param("tenant") ?? "";
  if (!config.registry.tenants.has(tenant)) throw new GatewayError("not_found", "no such tenant");
  if (principal.kind !== "user") throw new GatewayError("forbidden", "audit routes are for people with the auditor role");
  const decision = config.pdp.decide(
    tenantActionRequest("read_audit", { ...requestEnvironment(principal, c.req.raw, c.var.state.receivedAt), principal: { type: "User", id: principal.id }, tenant }),
  );
  await commit(
    deps.audit(c.env),
    decisionRecord(c.var.state, principal, {
      action: "read_audit",
      what,
      resource: { type: "Tenant", id: tenant },
      decision: decision.effect,
      reasons: decision.reasons,
      errors: decision.errors,
      policyVersion: decision.policyVersion,
      configVersion: config.version,
      entitySlice: decision.entitySlice,
    }),
  );
  if (decision.effect !== "allow") throw new GatewayError("policy_denied", "reading this audit log is not allowed by policy");
  return tenant;
}

/** The reads this route makes. Typed by hand: the RPC stub type of recursive JSON records is too deep for tsc. */
interface AuditLogReader {
  treeHead(): Promise<TreeHead>;
  entries(start: number, end: number): Promise<AuditEntry[]>;
}

function logOf(env: AppEnv["Bindings"], tenant: string): AuditLogReader {
  return env.AUDIT_LOG.get(env.AUDIT_LOG.idFromName(tenant)) as unknown as AuditLogReader;
}

function boundedInteger(raw: string | undefined, name: string, fallback: number): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!/^\d{1,15}$/.test(raw) || !Number.isSafeInteger(value)) throw new GatewayError("invalid_request", `"${name}" must be a non-negative integer`);
  return value;
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
  const head = await log.treeHead();
  const start = boundedInteger(c.req.query("start"), "start", 0);
  const end = Math.min(boundedInteger(c.req.query("end"), "end", head.size), head.size, start + MAX_ENTRIES_PAGE);
  if (start > end) throw new GatewayError("invalid_request", '"start" must not exceed "end" or the log size');
  const page = start === end ? [] : await log.entries(start, end);
  // `record` is the parsed canonical text; RFC 8785 makes it re-derivable byte for byte from `record`.
  const entries = page.map(({ index, leafHash, canonical }) => ({ index, leafHash, record: JSON.parse(canonical) as unknown }));
  return c.json({ treeSize: head.size, start, end, entries });
}
