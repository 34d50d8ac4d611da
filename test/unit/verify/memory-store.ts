/**
 * An in-memory `AuditStore` for core tests. A commit stages its writes on a copy and swaps it in
 * at the end, like a transaction; `failAt` makes the n-th write of the next commit throw, so a test
 * can break an append at a chosen point (a leaf row, a node row, the head).
 */
import type { MerkleNode } from "../../../worker/verify/merkle/compact-range.ts";
import { EMPTY_TREE_ROOT, type Hash } from "../../../worker/verify/merkle/hash.ts";
import type { AppendBatch, AuditStore, StoredHead, StoredLeaf } from "../../../worker/verify/store.ts";
import { AuditError } from "../../../worker/verify/errors.ts";

export type WriteKind = "tenant" | "leaf" | "node" | "head";

interface State {
  head: StoredHead;
  tenant: string | undefined;
  leaves: StoredLeaf[];
  nodes: Map<string, Hash>;
}

export class MemoryAuditStore implements AuditStore {
  #state: State = { head: { size: 0, root: EMPTY_TREE_ROOT }, tenant: undefined, leaves: [], nodes: new Map() };
  /** Throw on the `nth` (0-based) write of `kind` during the next commit. */
  failAt: { kind: WriteKind; nth: number } | undefined;
  commits = 0;

  head(): StoredHead {
    return this.#state.head;
  }

  tenant(): string | undefined {
    return this.#state.tenant;
  }

  node(level: number, index: number): Hash | undefined {
    return level === 0 ? this.#state.leaves[index]?.leafHash : this.#state.nodes.get(`${level}:${index}`);
  }

  leaves(start: number, end: number): StoredLeaf[] {
    return this.#state.leaves.slice(start, end);
  }

  commit(batch: AppendBatch): void {
    const failAt = this.failAt;
    this.failAt = undefined;
    const counts = new Map<WriteKind, number>();
    const write = (kind: WriteKind): void => {
      const n = counts.get(kind) ?? 0;
      counts.set(kind, n + 1);
      if (failAt?.kind === kind && failAt.nth === n) throw new Error(`injected failure at ${kind} #${n}`);
    };
    if (batch.fromSize !== this.#state.head.size) throw new AuditError("conflict", "moved");
    const next: State = {
      head: this.#state.head,
      tenant: this.#state.tenant,
      leaves: [...this.#state.leaves],
      nodes: new Map(this.#state.nodes),
    };
    write("tenant");
    next.tenant ??= batch.tenant;
    for (const leaf of batch.leaves) {
      write("leaf");
      next.leaves[leaf.index] = leaf;
    }
    for (const node of batch.nodes as MerkleNode[]) {
      write("node");
      next.nodes.set(`${node.level}:${node.index}`, node.hash);
    }
    write("head");
    next.head = batch.head;
    this.#state = next;
    this.commits++;
  }
}
