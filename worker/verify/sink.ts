/**
 * The pipeline's handle on the audit log: `commit` routes a record to its tenant's `AuditLog` and
 * resolves with the receipt once the record is durable. The pipeline awaits it before any upstream
 * call; a rejection (of any kind) means the record is not in the log and the request is denied.
 *
 * Coalescing: a call into the object costs more than the record it carries (see bench/AUDIT.md),
 * so a sink keeps one lane per log. While no call to that log is in flight, a commit leaves after
 * one microtask (so commits made in the same turn travel together); while one is, commits queue
 * and the next call carries all of them (up to MAX_APPEND_BATCH). Alone, a commit waits for
 * nothing; concurrent ones share one RPC. Each caller gets its own receipt or its own refusal
 * (`appendEach`); a failed call rejects every caller it carried.
 *
 * A sink serves one request: workerd runs a promise's continuations in the context of whoever
 * settles it, so a call made by one request must not settle another request's commits ("Cannot
 * perform I/O on behalf of a different request"). Across requests, concurrency is merged inside
 * the object instead (its group commit shares one transaction and one flush).
 */
import { tenantId, type TenantPlacement } from "../lib/tenant-placement.ts";
import type { AuditLog } from "./audit-log.ts";
import { type AppendReceipt, MAX_APPEND_BATCH } from "./core.ts";
import { AuditError } from "./errors.ts";
import type { AuditRecord } from "./record.ts";

export interface AuditSink {
  commit(record: AuditRecord): Promise<AppendReceipt>;
}

/**
 * Where each tenant's log lives: the one placement rule of tenant objects (worker/lib/tenant-placement.ts).
 * `jurisdictionOf` answers from the configuration in force (null for the gateway's own logs,
 * `_config` and `_unauthenticated`); a tenant it cannot place is refused, so the record is not
 * committed and the request is denied. Without placement (tests, benchmarks) every log is addressed
 * by name alone.
 */
export type AuditPlacement = TenantPlacement;

/** One commit waiting in a lane. */
interface Waiter {
  record: AuditRecord;
  resolve(receipt: AppendReceipt): void;
  reject(error: unknown): void;
}

/** The commits of this sink for one log: those waiting, and whether a call is on its way. */
interface Lane {
  id: DurableObjectId;
  waiting: Waiter[];
  flying: boolean;
}

export function createAuditSink(namespace: DurableObjectNamespace<AuditLog>, placement?: AuditPlacement): AuditSink {
  if (typeof namespace?.idFromName !== "function") {
    throw new TypeError("createAuditSink: a Durable Object namespace bound to AuditLog is required");
  }
  const lanes = new Map<string, Lane>();

  /** Calls until the lane is empty, each carrying everything that queued during the previous one. */
  async function fly(key: string, lane: Lane): Promise<void> {
    while (lane.waiting.length > 0) {
      const carried = lane.waiting.splice(0, MAX_APPEND_BATCH);
      try {
        const outcomes = await namespace.get(lane.id).appendEach(carried.map((w) => w.record));
        if (outcomes.length !== carried.length) throw new AuditError("corrupt", "the audit log answered for another number of records");
        carried.forEach((waiter, i) => {
          const outcome = outcomes[i];
          if (outcome !== undefined && "receipt" in outcome) waiter.resolve(outcome.receipt);
          else waiter.reject(new AuditError(outcome?.refused.code ?? "corrupt", outcome?.refused.message ?? "no outcome"));
        });
      } catch (error) {
        for (const waiter of carried) waiter.reject(error);
      }
    }
    lane.flying = false;
    lanes.delete(key);
  }

  return {
    commit: async function commitAuditRecord(record: AuditRecord): Promise<AppendReceipt> {
      const tenant: unknown = record?.tenant;
      if (typeof tenant !== "string" || tenant === "") {
        throw new AuditError("invalid_record", "record.tenant must name the tenant whose log receives it");
      }
      const id = await tenantId(namespace, tenant, tenant, placement);
      const key = id.toString();
      let lane = lanes.get(key);
      if (lane === undefined) {
        lane = { id, waiting: [], flying: false };
        lanes.set(key, lane);
      }
      const joined = lane;
      return new Promise<AppendReceipt>((resolve, reject) => {
        joined.waiting.push({ record, resolve, reject });
        if (!joined.flying) {
          joined.flying = true;
          queueMicrotask(() => void fly(key, joined));
        }
      });
    },
  };
}
