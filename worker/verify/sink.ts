/**
 * The pipeline's handle on the audit log: `commit` routes a record to its tenant's `AuditLog` and
 * resolves with the receipt once the record is durable. The pipeline awaits it before any upstream
 * call; a rejection (of any kind) means the record is not in the log and the request is denied.
 *
 * Coalescing: a call into the object costs more than the records it carries (see bench/AUDIT.md),
 * so the sink keeps one lane per log in this isolate. While no call to the log is in flight, a
 * commit leaves at once (after one microtask, so commits made in the same turn travel together);
 * while one is, commits queue, and the next call carries all of them (up to MAX_APPEND_BATCH). At
 * low load that adds no wait; under load, every record still waits for its own transaction, but
 * many requests share one RPC and one flush. Each caller gets its own receipt or its own refusal
 * (`appendEach`); a failed call rejects every caller it carried.
 *
 * A call is made by one of the requests whose records it carries, in that request's own context
 * (stubs and in-flight I/O belong to the request that made them), and each request waits for its
 * answer with its own timer: if the carrying request is cancelled and its call never answers, the
 * others are refused after FLIGHT_TIMEOUT_MS and the lane starts over.
 */
import { placedId, type PlacementVars } from "../lib/tenant-placement.ts";
import type { AuditLog } from "./audit-log.ts";
import { type AppendReceipt, MAX_APPEND_BATCH } from "./core.ts";
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

/** How long a commit waits for the call carrying it before the request is refused. */
export const FLIGHT_TIMEOUT_MS = 10_000;

/** One commit waiting in a lane: its record, and how to hand it the lead or its result. */
interface Waiter {
  record: AuditRecord;
  id: DurableObjectId;
  /** The lane's generation when the waiter joined; unchanged at its time-out means the lane is stuck. */
  generation: number;
  lead(): void;
  resolve(receipt: AppendReceipt): void;
  reject(error: unknown): void;
}

/** The commits for one log in this isolate: those waiting, and whether a call is on its way. */
interface Lane {
  waiting: Waiter[];
  /** A waiter has been handed the lead and its call has not answered yet. */
  busy: boolean;
  /** Bumped whenever a call answers or the lane is reset. */
  generation: number;
}

/** Per namespace (the binding is one object per isolate), per log id. */
const lanesByNamespace = new WeakMap<object, Map<string, Lane>>();

export function createAuditSink(namespace: DurableObjectNamespace<AuditLog>, placement?: AuditPlacement): AuditSink {
  if (typeof namespace?.idFromName !== "function") {
    throw new TypeError("createAuditSink: a Durable Object namespace bound to AuditLog is required");
  }
  let lanes = lanesByNamespace.get(namespace);
  if (lanes === undefined) {
    lanes = new Map();
    lanesByNamespace.set(namespace, lanes);
  }
  const logLanes = lanes;

  /** Hands the lead to the oldest waiter, or retires the idle lane. */
  function promote(key: string, lane: Lane): void {
    const next = lane.waiting[0];
    if (next === undefined) {
      lane.busy = false;
      if (logLanes.get(key) === lane) logLanes.delete(key);
      return;
    }
    lane.busy = true;
    next.lead();
  }

  /** One call carrying the oldest waiters; runs in the context of the waiter that leads it. */
  async function fly(key: string, lane: Lane, leader: Waiter): Promise<void> {
    const generation = lane.generation;
    const carried = lane.waiting.splice(0, MAX_APPEND_BATCH);
    if (carried.length > 0) {
      try {
        const outcomes = await namespace.get(leader.id).appendEach(carried.map((w) => w.record));
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
    // A reset while this call hung has already handed the lane on.
    if (lane.generation !== generation) return;
    lane.generation++;
    promote(key, lane);
  }

  return {
    commit: async function commitAuditRecord(record: AuditRecord): Promise<AppendReceipt> {
      const tenant: unknown = record?.tenant;
      if (typeof tenant !== "string" || tenant === "") {
        throw new AuditError("invalid_record", "record.tenant must name the tenant whose log receives it");
      }
      const id = placedId(namespace, tenant, placement ? await placement.jurisdictionOf(tenant) : null, placement?.vars ?? {});
      const key = id.toString();
      let lane = logLanes.get(key);
      if (lane === undefined) {
        lane = { waiting: [], busy: false, generation: 0 };
        logLanes.set(key, lane);
      }
      const joined = lane;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const receipt = new Promise<AppendReceipt>((resolve, reject) => {
        let leads: () => void = () => undefined;
        const led = new Promise<void>((r) => (leads = r));
        const waiter: Waiter = { record, id, generation: joined.generation, lead: leads, resolve, reject };
        // Created in this request's context, so the call it leads is made from here.
        void led.then(() => fly(key, joined, waiter));
        timer = setTimeout(() => {
          const at = joined.waiting.indexOf(waiter);
          if (at >= 0) joined.waiting.splice(at, 1);
          reject(new Error(`the audit log did not answer within ${FLIGHT_TIMEOUT_MS} ms`));
          if (joined.generation === waiter.generation && joined.busy) {
            joined.generation++;
            promote(key, joined);
          }
        }, FLIGHT_TIMEOUT_MS);
        joined.waiting.push(waiter);
        if (!joined.busy) promote(key, joined);
      });
      try {
        return await receipt;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
