/**
 * The pipeline's handle on the audit log: `commit` routes a record to its tenant's `AuditLog` and
 * resolves with the receipt once the record is durable. The pipeline awaits it before any upstream
 * call; a rejection (of any kind) means the record is not in the log and the request is denied.
 */
import { placedStub, type PlacementVars } from "../lib/tenant-placement.ts";
import type { AuditLog } from "./audit-log.ts";
import type { AppendReceipt } from "./core.ts";
import { AuditError } from "./errors.ts";
import type { AuditRecord } from "./record.ts";

export interface AuditSink {
  commit(record: AuditRecord): Promise<AppendReceipt>;
}

/**
 * Where each tenant's log lives. `jurisdictionOf` answers from the configuration in force (null for
 * the gateway's own logs, `_config` and `_unauthenticated`); a tenant it cannot place is refused, so
 * the record is not committed and the request is denied. Without placement (tests, benchmarks)
 * every log is addressed by name alone.
 */
export interface AuditPlacement {
  vars: PlacementVars;
  jurisdictionOf(tenant: string): Promise<string | null>;
}

export function createAuditSink(namespace: DurableObjectNamespace<AuditLog>, placement?: AuditPlacement): AuditSink {
  if (typeof namespace?.idFromName !== "function") {
    throw new TypeError("createAuditSink: a Durable Object namespace bound to AuditLog is required");
  }
  return {
    commit: async function commitAuditRecord(record: AuditRecord): Promise<AppendReceipt> {
      const tenant: unknown = record?.tenant;
      if (typeof tenant !== "string" || tenant === "") {
        throw new AuditError("invalid_record", "record.tenant must name the tenant whose log receives it");
      }
      const log = placedStub(namespace, tenant, placement ? await placement.jurisdictionOf(tenant) : null, placement?.vars ?? {});
      const [receipt] = await log.append([record]);
      if (receipt === undefined) throw new AuditError("corrupt", "the audit log returned no receipt");
      return receipt;
    },
  };
}
