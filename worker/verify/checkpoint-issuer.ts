/**
 * Signed checkpoints of one tenant's log: issued by the object's alarm at a regular interval while
 * the log grows, and on demand when an auditor asks and the latest one is behind the log or older
 * than the interval. Because a served checkpoint is never older than the interval, it carries every
 * key that signs now, which is what lets the key ring retire a key soon after its overlap ends.
 *
 * Only committed heads are signed, and the log is append-only, so every checkpoint is consistent with
 * every earlier one (tlog-checkpoint §Signatures: a log MUST NOT sign inconsistent checkpoints).
 */
import { AuditError } from "./errors.ts";
import { checkpointText } from "./checkpoint.ts";
import type { TreeHead } from "./core.ts";

export interface StoredCheckpoint {
  size: number;
  /** Epoch milliseconds. */
  issuedAt: number;
  /** The signed note. */
  note: string;
}

export interface CheckpointStore {
  latestCheckpoint(): StoredCheckpoint | undefined;
  checkpointAt(size: number): StoredCheckpoint | undefined;
  /** Replaces an earlier checkpoint of the same size (a re-signed one). */
  saveCheckpoint(checkpoint: StoredCheckpoint): void;
}

/** Signs a note text; the `KeyRing` object over RPC in the Worker, a local key in tests. */
export type NoteSigner = (text: string) => Promise<string>;

export interface CheckpointIssuerOptions {
  origin: string;
  head: () => TreeHead;
  store: CheckpointStore;
  sign: NoteSigner;
  maxAgeMs: number;
  now?: () => number;
}

export class CheckpointIssuer {
  readonly #options: Required<CheckpointIssuerOptions>;
  #issuing: Promise<StoredCheckpoint> | undefined;

  constructor(options: CheckpointIssuerOptions) {
    if (!Number.isSafeInteger(options.maxAgeMs) || options.maxAgeMs <= 0) throw new TypeError("CheckpointIssuer: maxAgeMs must be positive");
    this.#options = { now: Date.now, ...options };
  }

  /** The latest checkpoint, issuing a fresh one first when it is behind the log or too old. */
  async current(): Promise<StoredCheckpoint> {
    const latest = this.#options.store.latestCheckpoint();
    const { size } = this.#options.head();
    if (latest !== undefined && latest.size === size && this.#options.now() - latest.issuedAt < this.#options.maxAgeMs) return latest;
    return this.issue();
  }

  /** The alarm's step: a new checkpoint only if the log grew since the last one. */
  async onInterval(): Promise<void> {
    const latest = this.#options.store.latestCheckpoint();
    if (latest === undefined || latest.size < this.#options.head().size) await this.issue();
  }

  /** Signs the committed head now. Concurrent callers share one signing round trip. */
  issue(): Promise<StoredCheckpoint> {
    this.#issuing ??= this.#issue().finally(() => {
      this.#issuing = undefined;
    });
    return this.#issuing;
  }

  async #issue(): Promise<StoredCheckpoint> {
    const head = this.#options.head();
    const text = checkpointText({ origin: this.#options.origin, size: head.size, rootHash: head.rootHash });
    let note: string;
    try {
      note = await this.#options.sign(text);
    } catch (cause) {
      throw new AuditError("signing_unavailable", "the checkpoint could not be signed", { cause });
    }
    if (!note.startsWith(`${text}\n`)) throw new AuditError("signing_unavailable", "the signer returned a note for another text");
    const checkpoint = { size: head.size, issuedAt: this.#options.now(), note };
    this.#options.store.saveCheckpoint(checkpoint);
    return checkpoint;
  }

  at(size: number): StoredCheckpoint | undefined {
    return this.#options.store.checkpointAt(size);
  }
}
