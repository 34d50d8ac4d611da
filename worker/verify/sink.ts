/**
 * The pipeline's handle on the audit log: `commit` routes a record to its tenant's `AuditLog` and
 * resolves with the receipt once the record is durable. The pipeline awaits it before any upstream
 * call; a rejection (of any kind) means the record is not in the log and the request is denied.
 */
import type { AuditLog } from "./audit-log.ts";
import type { AppendReceipt } from "./core.ts";
import { AuditError } from "./errors.ts";
import type { AuditRecord } from "./record.ts";

export interface AuditSink {
  commit(record: AuditRecord): Promise<AppendReceipt>;
}

export function createAuditSink(namespace: DurableObjectNamespace<AuditLog>): AuditSink {
  if (typeof namespace?.idFromName !== "function") {
    throw new TypeError("createAuditSink: a Durable Object namespace bound to AuditLog is required");
  }
  return {
    commit: async function commitAuditRecord(record: AuditRecord): Promise<AppendReceipt> {
      const tenant: unknown = record?.tenant;
      if (typeof tenant !== "string" || tenant === "") {
        throw new AuditError("invalid_record", "record.tenant must name the tenant whose log receives it");
      }
      const log = namespace.get(namespace.idFromName(tenant));
      const [receipt] = await log.append([record]);
      if (receipt === undefined) throw new AuditError("corrupt", "the audit log returned no receipt");
      return receipt;
    },
  };
}
