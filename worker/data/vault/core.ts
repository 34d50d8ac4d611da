/**
 * The vault's rules, over a `VaultStore` and the tenant's KEKs: store a payload under its data
 * subject's data key, read it back, erase a subject (crypto-shredding: its data keys are destroyed,
 * so every payload sealed under them stays unreadable), delete what outlived its retention, re-wrap
 * data keys after a KEK rotation.
 *
 * Invariant: a payload row is only ever written while its data key exists (`insertPayload` checks in
 * the same synchronous step), so an erasure racing a store cannot leave a readable payload behind;
 * and a store for a request older than the subject's last erasure is refused, so data from before
 * an erasure cannot come back under a fresh key.
 */
import { sha256Hex } from "../../lib/encoding.ts";
import { generateDataKey, importDataKey, openPayload, sealPayload, unwrapDataKey, wrapDataKey, type DataKeyContext } from "./envelope.ts";
import { VaultError } from "./errors.ts";
import type { KekSet } from "./keys.ts";
import type { DataKeyRow, ErasureResult, VaultStore } from "./store.ts";

export const PAYLOAD_KINDS = ["prompt", "output"] as const;
export type PayloadKind = (typeof PAYLOAD_KINDS)[number];

/**
 * Largest plaintext kept: the gateway's default request body limit (MAX_BODY_BYTES, 1 MiB). Its seal
 * (+28 bytes) stays under a Durable Object SQLite row's 2 MB limit, and one read under Workers RPC's
 * 32 MiB. A longer output is kept up to this size and marked truncated by the caller.
 */
export const MAX_PAYLOAD_BYTES = 1024 * 1024;
/** Ten years: far past any retention a policy should ask for, short of "forever". */
export const MAX_RETENTION_DAYS = 3650;
const DAY_MS = 86_400_000;
const MAX_SUBJECT_CHARS = 256;
const SUBJECT = /^[\x21-\x7e][\x20-\x7e]*$/;

export interface StoreRequest {
  tenant: string;
  /** The data subject whose key seals the payload (the principal's id, or a subject id). */
  subject: string;
  kind: PayloadKind;
  plaintext: Uint8Array;
  /** When the request that produced the payload was received (epoch ms). */
  createdAt: number;
  retainDays: number;
}

/** What the audit record carries about a stored payload: references and digests, never plaintext. */
export interface StoredPayload {
  payloadId: string;
  tenant: string;
  subject: string;
  kind: string;
  kekId: string;
  dekId: string;
  /** SHA-256 hex of the stored seal (IV ‖ ciphertext ‖ tag). */
  ciphertextDigest: string;
  bytes: number;
  createdAt: number;
  expiresAt: number;
}

export interface OpenedPayload extends StoredPayload {
  plaintext: Uint8Array;
}

export interface VaultCoreOptions {
  tenant: string;
  /** The tenant's KEKs, imported on first use (and again if that failed). */
  keks: () => Promise<KekSet>;
  now?: () => number;
}

export function checkSubject(subject: unknown): string {
  if (typeof subject !== "string" || subject.length === 0 || subject.length > MAX_SUBJECT_CHARS || !SUBJECT.test(subject)) {
    throw new VaultError("invalid_argument", `a data subject is 1 to ${MAX_SUBJECT_CHARS} printable ASCII characters`);
  }
  return subject;
}

export class VaultCore {
  readonly #store: VaultStore;
  readonly #tenant: string;
  readonly #keks: () => Promise<KekSet>;
  readonly #now: () => number;
  /** Unwrapped data keys by id; an erasure drops the subject's. */
  readonly #dataKeys = new Map<string, { subject: string; key: Promise<CryptoKey> }>();

  constructor(store: VaultStore, options: VaultCoreOptions) {
    const bound = store.tenant();
    if (bound !== undefined && bound !== options.tenant) throw new VaultError("invalid_argument", `this vault belongs to tenant ${bound}`);
    this.#store = store;
    this.#tenant = options.tenant;
    this.#keks = options.keks;
    this.#now = options.now ?? Date.now;
  }

  get tenant(): string {
    return this.#tenant;
  }

  async store(request: StoreRequest): Promise<StoredPayload> {
    if (request.tenant !== this.#tenant) throw new VaultError("invalid_argument", `this vault belongs to tenant ${this.#tenant}, not ${request.tenant}`);
    const subject = checkSubject(request.subject);
    if (!PAYLOAD_KINDS.includes(request.kind)) throw new VaultError("invalid_argument", `a payload is one of ${PAYLOAD_KINDS.join(", ")}`);
    if (!(request.plaintext instanceof Uint8Array)) throw new VaultError("invalid_argument", "the payload must be bytes");
    if (request.plaintext.length > MAX_PAYLOAD_BYTES) throw new VaultError("payload_too_large", `a payload holds at most ${MAX_PAYLOAD_BYTES} bytes`);
    if (!Number.isSafeInteger(request.retainDays) || request.retainDays < 1 || request.retainDays > MAX_RETENTION_DAYS) {
      throw new VaultError("invalid_argument", `retention is 1 to ${MAX_RETENTION_DAYS} days`);
    }
    if (!Number.isSafeInteger(request.createdAt) || request.createdAt < 0) throw new VaultError("invalid_argument", "createdAt must be epoch milliseconds");
    const erased = this.#store.erasedAt(subject);
    if (erased !== undefined && request.createdAt <= erased) {
      throw new VaultError("payload_erased", "the data subject was erased after this request was received; nothing is kept");
    }

    const row = await this.#dataKeyFor(subject);
    const key = await this.#unwrap(row);
    const payloadId = crypto.randomUUID();
    const context = { tenant: this.#tenant, subject, payloadId, kind: request.kind, dekId: row.dekId };
    const sealed = await sealPayload(key, request.plaintext, context);
    const stored: StoredPayload = {
      payloadId,
      tenant: this.#tenant,
      subject,
      kind: request.kind,
      kekId: row.kekId,
      dekId: row.dekId,
      ciphertextDigest: await sha256Hex(sealed),
      bytes: request.plaintext.length,
      createdAt: request.createdAt,
      expiresAt: request.createdAt + request.retainDays * DAY_MS,
    };
    const written = this.#store.insertPayload({
      id: payloadId,
      subject,
      kind: request.kind,
      dekId: row.dekId,
      sealed,
      digest: stored.ciphertextDigest,
      bytes: stored.bytes,
      createdAt: stored.createdAt,
      expiresAt: stored.expiresAt,
    });
    if (!written) throw new VaultError("payload_erased", "the data subject was erased while the payload was being stored; nothing is kept");
    return stored;
  }

  async read(payloadId: string): Promise<OpenedPayload> {
    if (typeof payloadId !== "string" || payloadId.length === 0 || payloadId.length > 64) throw new VaultError("invalid_argument", "a payload id is 1 to 64 characters");
    const row = this.#store.payload(payloadId);
    if (row === undefined || row.expiresAt <= this.#now()) throw new VaultError("payload_not_found", "no such payload (or its retention has ended)");
    const dataKey = this.#store.dataKeyById(row.dekId);
    if (dataKey === undefined) throw new VaultError("payload_erased", "the payload's data subject was erased; its key is destroyed and it cannot be read");
    const key = await this.#unwrap(dataKey);
    const context = { tenant: this.#tenant, subject: row.subject, payloadId: row.id, kind: row.kind, dekId: row.dekId };
    const plaintext = await openPayload(key, row.sealed, context);
    return {
      payloadId: row.id,
      tenant: this.#tenant,
      subject: row.subject,
      kind: row.kind,
      kekId: dataKey.kekId,
      dekId: row.dekId,
      ciphertextDigest: row.digest,
      bytes: row.bytes,
      createdAt: row.createdAt,
      expiresAt: row.expiresAt,
      plaintext,
    };
  }

  /** Crypto-shredding: destroys the subject's data keys (no `await` before the write, so it is one atomic step). */
  erase(subject: string): ErasureResult & { erasedAt: number } {
    checkSubject(subject);
    const erasedAt = this.#now();
    const result = this.#store.erase(subject, erasedAt);
    for (const [dekId, cached] of this.#dataKeys) if (cached.subject === subject) this.#dataKeys.delete(dekId);
    return { ...result, erasedAt };
  }

  /** Deletes payloads past their retention; returns how many, and when the next one ends. */
  expire(): { deleted: number; next: number | undefined } {
    const deleted = this.#store.deleteExpired(this.#now());
    return { deleted, next: this.#store.nextExpiry() };
  }

  nextExpiry(): number | undefined {
    return this.#store.nextExpiry();
  }

  /** After a KEK rotation: wraps every data key under the new primary KEK, so the old one can be dropped. */
  async rewrap(): Promise<{ rewrapped: number; kekId: string }> {
    const keks = await this.#keks();
    let rewrapped = 0;
    for (const row of this.#store.dataKeysNotWrappedBy(keks.primary.id)) {
      const raw = await this.#unwrapRaw(row, keks);
      const wrapped = await wrapDataKey(keks.primary, raw, this.#keyContext(row.subject, row.dekId, keks.primary.id));
      // Only if the key still exists unchanged (an erasure may have run during the awaits).
      if (this.#store.dataKeyById(row.dekId)?.kekId === row.kekId) {
        this.#store.rewrapDataKey(row.dekId, keks.primary.id, wrapped);
        rewrapped++;
      }
    }
    return { rewrapped, kekId: keks.primary.id };
  }

  #keyContext(subject: string, dekId: string, kekId: string): DataKeyContext {
    return { tenant: this.#tenant, subject, dekId, kekId };
  }

  /** The subject's data key, created (random, wrapped by the primary KEK) on its first payload. */
  async #dataKeyFor(subject: string): Promise<DataKeyRow> {
    const existing = this.#store.dataKey(subject);
    if (existing) return existing;
    const keks = await this.#keks();
    const dekId = `dek-${crypto.randomUUID()}`;
    const raw = generateDataKey();
    const wrapped = await wrapDataKey(keks.primary, raw, this.#keyContext(subject, dekId, keks.primary.id));
    this.#store.bindTenant(this.#tenant);
    // Another store for the same subject may have won the race during the await: use the one in force.
    return this.#store.insertDataKey({ subject, dekId, kekId: keks.primary.id, wrapped, createdAt: this.#now() });
  }

  async #unwrapRaw(row: DataKeyRow, keks: KekSet): Promise<Uint8Array> {
    const kek = keks.byId.get(row.kekId);
    if (kek === undefined) throw new VaultError("kek_missing", `data key ${row.dekId} is wrapped by ${row.kekId}, which the tenant's secret no longer holds`);
    return unwrapDataKey(kek, row.wrapped, this.#keyContext(row.subject, row.dekId, row.kekId));
  }

  #unwrap(row: DataKeyRow): Promise<CryptoKey> {
    const cached = this.#dataKeys.get(row.dekId);
    if (cached) return cached.key;
    const key = this.#keks().then((keks) => this.#unwrapRaw(row, keks)).then(importDataKey);
    this.#dataKeys.set(row.dekId, { subject: row.subject, key });
    key.catch(() => this.#dataKeys.delete(row.dekId));
    return key;
  }
}
