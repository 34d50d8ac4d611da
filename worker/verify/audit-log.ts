/**
 * `AuditLog`: the Durable Object holding one tenant's audit log (callers address it with
 * `idFromName(tenant)`). A shell: it wires SQLite storage to `AuditLogCore` and `CheckpointIssuer`
 * and exposes them over Workers RPC. All rules live in the cores.
 *
 * Checkpoints are signed by the `KeyRing` object (over RPC; the private keys never come here). The
 * alarm is armed by the first append after a checkpoint and fires one interval later, so a log
 * that is not written to costs no alarms.
 */
import { DurableObject } from "cloudflare:workers";
import { logOrigin } from "./checkpoint.ts";
import { CheckpointIssuer } from "./checkpoint-issuer.ts";
import { auditOrigin, checkpointIntervalMs, type VerifyVars } from "./config.ts";
import {
  type AppendOutcome,
  type AppendReceipt,
  type AuditEntry,
  AuditLogCore,
  type ConsistencyProof,
  type InclusionProof,
  type TreeHead,
} from "./core.ts";
import { AuditError } from "./errors.ts";
import { KEY_RING_NAME, type KeyRing } from "./key-ring.ts";
import type { AuditRecord } from "./record.ts";
import { SqlAuditStore } from "./sql-store.ts";

export interface AuditLogEnv extends VerifyVars {
  KEY_RING: DurableObjectNamespace<KeyRing>;
}

/** What a checkpoint read returns: the signed note and the size it covers. */
export interface SignedCheckpoint {
  size: number;
  note: string;
}

export class AuditLog extends DurableObject<AuditLogEnv> {
  readonly #core: AuditLogCore;
  readonly #checkpoints: CheckpointIssuer;
  readonly #intervalMs: number;
  /** An alarm is pending (known without a storage read after the first append). */
  #armed: boolean | undefined;

  constructor(ctx: DurableObjectState, env: AuditLogEnv) {
    super(ctx, env);
    // Synchronous SQLite work only, so nothing else can run in the object before the schema exists.
    const store = new SqlAuditStore(ctx.storage);
    const tenant = ctx.id.name;
    // storage.sync() resolves once the implicit transaction holding a commit is flushed.
    this.#core = new AuditLogCore(store, { tenant, durable: () => ctx.storage.sync() });
    this.#intervalMs = checkpointIntervalMs(env);
    this.#checkpoints = new CheckpointIssuer({
      origin: logOrigin(auditOrigin(env), tenant ?? store.tenant() ?? "_unnamed"),
      head: () => this.#core.treeHead(),
      store,
      sign: (text) => {
        const ring = env.KEY_RING.get(env.KEY_RING.idFromName(KEY_RING_NAME));
        return ring.signNote(text);
      },
      maxAgeMs: this.#intervalMs,
    });
  }

  /**
   * Write-ahead commit: resolves only after the records are committed, and the reply is held by
   * the output gate until the commit is durable. A rejection means nothing was written.
   */
  async append(records: AuditRecord[]): Promise<AppendReceipt[]> {
    const receipts = await this.#core.append(records);
    if (this.#armed !== true) await this.#armCheckpoint();
    return receipts;
  }

  /**
   * Write-ahead commit of records from many callers (the sink's coalesced RPC): each record is
   * validated and refused on its own (a storage failure refuses every record of its transaction),
   * they commit together, and every receipt is for a durable commit.
   */
  async appendEach(records: AuditRecord[]): Promise<AppendOutcome[]> {
    const outcomes = await this.#core.appendEach(records);
    // Known armed (every append after the first until the alarm fires): no storage call, no await.
    if (this.#armed !== true && outcomes.some((o) => "receipt" in o)) await this.#armCheckpoint();
    return outcomes;
  }

  /** After a commit, so a failing append arms nothing; a checkpoint failure never fails an append. */
  async #armCheckpoint(): Promise<void> {
    this.#armed = (await this.ctx.storage.getAlarm()) !== null;
    if (!this.#armed) {
      await this.ctx.storage.setAlarm(Date.now() + this.#intervalMs);
      this.#armed = true;
    }
  }

  treeHead(): TreeHead {
    return this.#core.treeHead();
  }

  entries(start: number, end: number): AuditEntry[] {
    return this.#core.entries(start, end);
  }

  /** A tlog-tiles hash tile or entry bundle (`path` after `tile/`), or undefined while the log is smaller. */
  tile(path: string): Uint8Array<ArrayBuffer> | undefined {
    return this.#core.tile(path);
  }

  inclusionProof(index: number, treeSize: number): Promise<InclusionProof> {
    return this.#core.inclusionProof(index, treeSize);
  }

  consistencyProof(from: number, to: number): Promise<ConsistencyProof> {
    return this.#core.consistencyProof(from, to);
  }

  /** The latest signed checkpoint, issued on demand when it is behind the log or older than the interval. */
  async checkpoint(): Promise<SignedCheckpoint> {
    const { size, note } = await this.#checkpoints.current();
    return { size, note };
  }

  /** A checkpoint this log signed at `size`, if it kept one. */
  checkpointAt(size: number): SignedCheckpoint | undefined {
    if (!Number.isSafeInteger(size) || size < 0) throw new AuditError("invalid_argument", "size must be a non-negative safe integer");
    const found = this.#checkpoints.at(size);
    return found === undefined ? undefined : { size: found.size, note: found.note };
  }

  override async alarm(): Promise<void> {
    this.#armed = false;
    // A throw makes the runtime retry the alarm (with backoff), which is what a signing outage needs.
    await this.#checkpoints.onInterval();
  }
}
