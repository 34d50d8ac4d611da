/**
 * `AuditLog`: the Durable Object holding one tenant's audit log (callers address it with
 * `idFromName(tenant)`). A shell: it wires SQLite storage to `AuditLogCore` and exposes the core
 * over Workers RPC. All rules live in the core.
 */
import { DurableObject } from "cloudflare:workers";
import {
  type AppendReceipt,
  type AuditEntry,
  AuditLogCore,
  type ConsistencyProof,
  type InclusionProof,
  type TreeHead,
} from "./core.ts";
import type { AuditRecord } from "./record.ts";
import { SqlAuditStore } from "./sql-store.ts";

export class AuditLog extends DurableObject<unknown> {
  readonly #core: AuditLogCore;

  constructor(ctx: DurableObjectState, env: unknown) {
    super(ctx, env);
    // Synchronous SQLite work only, so nothing else can run in the object before the schema exists.
    this.#core = new AuditLogCore(new SqlAuditStore(ctx.storage), { tenant: ctx.id.name });
  }

  /**
   * Write-ahead commit: resolves only after the records are committed, and the reply is held by
   * the output gate until the commit is durable. A rejection means nothing was written.
   */
  append(records: AuditRecord[]): Promise<AppendReceipt[]> {
    return this.#core.append(records);
  }

  treeHead(): TreeHead {
    return this.#core.treeHead();
  }

  entries(start: number, end: number): AuditEntry[] {
    return this.#core.entries(start, end);
  }

  inclusionProof(index: number, treeSize: number): Promise<InclusionProof> {
    return this.#core.inclusionProof(index, treeSize);
  }

  consistencyProof(from: number, to: number): Promise<ConsistencyProof> {
    return this.#core.consistencyProof(from, to);
  }
}
