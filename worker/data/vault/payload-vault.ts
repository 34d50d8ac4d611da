/**
 * `PayloadVault`: one Durable Object per tenant (in the tenant's jurisdiction, see
 * worker/lib/tenant-placement.ts) holding the payloads policy says to keep, envelope-encrypted. A
 * thin shell over `VaultCore`: SQLite storage, the tenant's KEK secret, and an alarm at the earliest
 * retention end that deletes what expired and re-arms for the next.
 *
 * Replies are results, not throws: a custom error does not survive Workers RPC, and the edge needs
 * the code (`payload_erased`, …) to answer precisely.
 */
import { DurableObject } from "cloudflare:workers";
import { VaultCore, type OpenedPayload, type StoreRequest, type StoredPayload } from "./core.ts";
import { VaultError, type VaultErrorCode } from "./errors.ts";
import { importKeks, kekSecretName, type KekSet } from "./keys.ts";
import { SqlVaultStore } from "./sql-store.ts";
import type { ErasureResult } from "./store.ts";

export interface PayloadVaultEnv {
  /** Key-encryption keys, one Worker secret per tenant (keys.ts). */
  [secret: `KEK_${string}`]: string | undefined;
}

export type VaultReply<T> = { ok: true; value: T } | { ok: false; code: VaultErrorCode; message: string };

export interface Erasure extends ErasureResult {
  subject: string;
  erasedAt: number;
}

export class PayloadVault extends DurableObject<PayloadVaultEnv> {
  readonly #store: SqlVaultStore;
  #core: VaultCore | undefined;
  /** When the pending alarm fires (known in memory after the first store). */
  #alarmAt: number | null | undefined;

  constructor(ctx: DurableObjectState, env: PayloadVaultEnv) {
    super(ctx, env);
    this.#store = new SqlVaultStore(ctx.storage);
  }

  async store(request: StoreRequest): Promise<VaultReply<StoredPayload>> {
    return this.#reply(async () => {
      const stored = await this.#coreFor(request?.tenant).store(request);
      await this.#armFor(stored.expiresAt);
      return stored;
    });
  }

  async read(tenant: string, payloadId: string): Promise<VaultReply<OpenedPayload>> {
    return this.#reply(() => this.#coreFor(tenant).read(payloadId));
  }

  async erase(tenant: string, subject: string): Promise<VaultReply<Erasure>> {
    return this.#reply(async () => ({ subject, ...this.#coreFor(tenant).erase(subject) }));
  }

  async rewrap(tenant: string): Promise<VaultReply<{ rewrapped: number; kekId: string }>> {
    return this.#reply(() => this.#coreFor(tenant).rewrap());
  }

  override async alarm(): Promise<void> {
    this.#alarmAt = null;
    const tenant = this.#store.tenant();
    if (tenant === undefined) return;
    const { next } = this.#coreFor(tenant).expire();
    if (next !== undefined) await this.#armFor(next);
  }

  #coreFor(tenant: unknown): VaultCore {
    if (typeof tenant !== "string" || tenant === "") throw new VaultError("invalid_argument", "the tenant is required");
    if (this.#core !== undefined && this.#core.tenant !== tenant) throw new VaultError("invalid_argument", `this vault belongs to tenant ${this.#core.tenant}`);
    if (this.#core === undefined) {
      let keks: Promise<KekSet> | undefined;
      const env = this.env;
      this.#core = new VaultCore(this.#store, {
        tenant,
        keks: () => {
          keks ??= importKeks(env[kekSecretName(tenant) as `KEK_${string}`], tenant).catch((error: unknown) => {
            keks = undefined;
            throw error;
          });
          return keks;
        },
      });
    }
    return this.#core;
  }

  async #armFor(expiresAt: number): Promise<void> {
    this.#alarmAt ??= await this.ctx.storage.getAlarm();
    if (this.#alarmAt === null || expiresAt < this.#alarmAt) {
      await this.ctx.storage.setAlarm(expiresAt);
      this.#alarmAt = expiresAt;
    }
  }

  async #reply<T>(work: () => Promise<T>): Promise<VaultReply<T>> {
    try {
      return { ok: true, value: await work() };
    } catch (error) {
      if (error instanceof VaultError) return { ok: false, code: error.code, message: error.message };
      throw error;
    }
  }
}
