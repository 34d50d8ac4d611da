/** An in-memory `VaultStore` for the vault core's unit tests; rows are plain objects tests may tamper with. */
import type { DataKeyRow, ErasureResult, PayloadRow, VaultStore } from "../../../worker/data/vault/index.ts";

export class MemoryVaultStore implements VaultStore {
  bound: string | undefined;
  readonly keys = new Map<string, DataKeyRow>();
  readonly erasures = new Map<string, number>();
  readonly payloads = new Map<string, PayloadRow>();

  tenant(): string | undefined {
    return this.bound;
  }
  bindTenant(tenant: string): void {
    this.bound ??= tenant;
  }
  dataKey(subject: string): DataKeyRow | undefined {
    return [...this.keys.values()].find((k) => k.subject === subject);
  }
  dataKeyById(dekId: string): DataKeyRow | undefined {
    return this.keys.get(dekId);
  }
  insertDataKey(row: DataKeyRow): DataKeyRow {
    const existing = this.dataKey(row.subject);
    if (existing) return existing;
    this.keys.set(row.dekId, { ...row });
    return row;
  }
  dataKeysNotWrappedBy(kekId: string): DataKeyRow[] {
    return [...this.keys.values()].filter((k) => k.kekId !== kekId);
  }
  rewrapDataKey(dekId: string, kekId: string, wrapped: Uint8Array): void {
    const row = this.keys.get(dekId);
    if (row) this.keys.set(dekId, { ...row, kekId, wrapped });
  }
  erasedAt(subject: string): number | undefined {
    return this.erasures.get(subject);
  }
  erase(subject: string, at: number): ErasureResult {
    const dataKeys = [...this.keys.values()].filter((k) => k.subject === subject).map((k) => k.dekId);
    for (const id of dataKeys) this.keys.delete(id);
    this.erasures.set(subject, Math.max(at, this.erasures.get(subject) ?? 0));
    return { dataKeys, payloads: [...this.payloads.values()].filter((p) => p.subject === subject).length };
  }
  insertPayload(row: PayloadRow): boolean {
    if (!this.keys.has(row.dekId)) return false;
    this.payloads.set(row.id, { ...row });
    return true;
  }
  payload(id: string): PayloadRow | undefined {
    return this.payloads.get(id);
  }
  deleteExpired(now: number): number {
    let n = 0;
    for (const [id, row] of this.payloads) if (row.expiresAt <= now && this.payloads.delete(id)) n++;
    return n;
  }
  nextExpiry(): number | undefined {
    const ends = [...this.payloads.values()].map((p) => p.expiresAt);
    return ends.length === 0 ? undefined : Math.min(...ends);
  }
}
