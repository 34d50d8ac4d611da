/**
 * The gateway's own Ed25519 signing keys, rotated on a schedule with overlap. The `KeyRing` Durable
 * Object is a thin shell around this class; tests drive it with an in-memory store and frozen time.
 *
 * Life of a key (all times from `now()`):
 *
 *   created ──(rotateMs)──► successor created ──(overlapMs)──► stops signing ──(retainMs)──► forgotten
 *   │◄──────────── signs (alone, then beside its successor) ────────────►│◄─ public key published ─►│
 *
 * During the overlap every note is signed by both keys, so a verifier that knows either key accepts
 * it, and anything issued before the successor existed is reissued with both (the audit log re-signs
 * a checkpoint that lacks a current key, see `audit-log.ts`). The private key is erased the moment
 * the key stops signing; its public key stays published for `retainMs`, the longest time something
 * it alone signed may still be live (a served checkpoint, a delegated token), then it is deleted.
 */
import { base64url, sha256, utf8 } from "../lib/encoding.ts";
import { AuditError } from "./errors.ts";
import { ed25519KeyId, signatureLine, verifierKeyString } from "./note.ts";

export interface RingKey {
  /** RFC 7638 JWK thumbprint (SHA-256, base64url): the JWKS `kid`. */
  kid: string;
  /** 32-byte Ed25519 public key. */
  publicKey: Uint8Array;
  /** PKCS#8; null once the key has stopped signing (erased). */
  privateKey: Uint8Array | null;
  createdAt: number;
  /** Set when a successor is created: successor.createdAt + overlapMs. */
  signsUntil: number | null;
}

/** Where keys live. `save` replaces the whole ring atomically (a ring holds two or three keys). */
export interface KeyRingStore {
  keys(): RingKey[];
  save(keys: readonly RingKey[]): void;
}

export interface KeyRingPolicy {
  rotateMs: number;
  overlapMs: number;
  retainMs: number;
}

export interface KeyRingCoreOptions extends KeyRingPolicy {
  /** The signed-note key name, e.g. `verity.local/audit`. */
  keyName: string;
  now?: () => number;
}

/** A public key as `/.well-known/jwks.json` serves it: a JWK (RFC 8037 OKP) plus its note vkey. */
export interface PublishedKey {
  kty: "OKP";
  crv: "Ed25519";
  x: string;
  kid: string;
  alg: "EdDSA";
  use: "sig";
  /** The same key as a signed-note verifier key (`<name>+<id>+<key>`), for checkpoint verifiers. */
  vkey: string;
  /** Epoch seconds; present once a successor exists: after this the key signs nothing new. */
  signs_until?: number;
}

function requirePositive(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value <= 0) throw new TypeError(`KeyRingCore: ${name} must be a positive number of milliseconds`);
}

async function thumbprint(publicKey: Uint8Array): Promise<string> {
  // RFC 7638 §3.2: the required members in lexicographic order, no whitespace.
  return base64url(await sha256(`{"crv":"Ed25519","kty":"OKP","x":"${base64url(publicKey)}"}`));
}

export class KeyRingCore {
  readonly #store: KeyRingStore;
  readonly #policy: KeyRingPolicy;
  readonly #keyName: string;
  readonly #now: () => number;
  /** Imported signing keys by kid; the ring is small and keys are immutable, so this never goes stale. */
  readonly #signers = new Map<string, CryptoKey>();
  /** Maintenance and signing run one at a time, so two callers never both create a successor. */
  #queue: Promise<unknown> = Promise.resolve();

  constructor(store: KeyRingStore, options: KeyRingCoreOptions) {
    requirePositive("rotateMs", options.rotateMs);
    requirePositive("overlapMs", options.overlapMs);
    requirePositive("retainMs", options.retainMs);
    if (options.overlapMs >= options.rotateMs) throw new TypeError("KeyRingCore: the overlap must be shorter than the rotation period");
    this.#store = store;
    this.#policy = { rotateMs: options.rotateMs, overlapMs: options.overlapMs, retainMs: options.retainMs };
    this.#keyName = options.keyName;
    this.#now = options.now ?? Date.now;
  }

  #serial<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(work, work);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /**
   * Brings the ring up to date: creates a successor when the newest key is `rotateMs` old (or the
   * ring is empty), erases private keys past their signing time, deletes public keys past
   * retention. Resolves with the time maintenance is next due (for the object's alarm).
   */
  maintain(): Promise<number> {
    return this.#serial(() => this.#maintain());
  }

  async #maintain(): Promise<number> {
    const now = this.#now();
    const { rotateMs, overlapMs, retainMs } = this.#policy;
    let keys = this.#store.keys().sort((a, b) => a.createdAt - b.createdAt);
    const newest = keys.at(-1);
    let changed = false;
    if (newest === undefined || now - newest.createdAt >= rotateMs || newest.privateKey === null) {
      keys = keys.map((k) => (k.signsUntil === null ? { ...k, signsUntil: now + overlapMs } : k));
      keys.push(await this.#generate(now));
      changed = true;
    }
    const kept: RingKey[] = [];
    for (const key of keys) {
      if (key.signsUntil !== null && key.signsUntil + retainMs <= now) {
        changed = true;
        this.#signers.delete(key.kid);
        continue;
      }
      if (key.privateKey !== null && key.signsUntil !== null && key.signsUntil <= now) {
        changed = true;
        this.#signers.delete(key.kid);
        kept.push({ ...key, privateKey: null });
        continue;
      }
      kept.push(key);
    }
    if (changed) this.#store.save(kept);
    const due = kept.flatMap((k) => (k.signsUntil === null ? [k.createdAt + rotateMs] : [k.signsUntil, k.signsUntil + retainMs])).filter((t) => t > now);
    return Math.min(...due);
  }

  async #generate(now: number): Promise<RingKey> {
    const pair = (await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"])) as CryptoKeyPair;
    const publicKey = new Uint8Array((await crypto.subtle.exportKey("raw", pair.publicKey)) as ArrayBuffer);
    const privateKey = new Uint8Array((await crypto.subtle.exportKey("pkcs8", pair.privateKey)) as ArrayBuffer);
    return { kid: await thumbprint(publicKey), publicKey, privateKey, createdAt: now, signsUntil: null };
  }

  /**
   * The signature lines of every key that may sign now, oldest first. Maintains the ring first, so
   * a late alarm never lets an expired key sign. `signing_unavailable` if no key may sign.
   */
  signatureLines(text: string): Promise<string[]> {
    return this.#serial(async () => {
      await this.#maintain();
      const now = this.#now();
      const signing = this.#store.keys().filter((k) => k.privateKey !== null && (k.signsUntil === null || k.signsUntil > now));
      if (signing.length === 0) throw new AuditError("signing_unavailable", "the key ring has no key that may sign");
      const message = utf8(text) as Uint8Array<ArrayBuffer>;
      const lines: string[] = [];
      for (const key of signing.sort((a, b) => a.createdAt - b.createdAt)) {
        const signature = new Uint8Array(await crypto.subtle.sign({ name: "Ed25519" }, await this.#signer(key), message));
        lines.push(signatureLine(this.#keyName, await ed25519KeyId(this.#keyName, key.publicKey), signature));
      }
      return lines;
    });
  }

  /**
   * A compact JWS (RFC 7515, `alg: EdDSA`, RFC 8037) over `payload`, signed by the newest key that may
   * sign and naming it in `kid`, so a verifier finds it in `/.well-known/jwks.json`. During an overlap
   * the newest key signs: both are published, and the older one stays published for `retainMs`,
   * longer than any token the ring signs may live.
   */
  signJws(payload: Record<string, unknown>, typ: string): Promise<string> {
    return this.#serial(async () => {
      await this.#maintain();
      const now = this.#now();
      const newest = this.#store
        .keys()
        .filter((k) => k.privateKey !== null && (k.signsUntil === null || k.signsUntil > now))
        .sort((a, b) => b.createdAt - a.createdAt)[0];
      if (newest === undefined) throw new AuditError("signing_unavailable", "the key ring has no key that may sign");
      const header = base64url(utf8(JSON.stringify({ alg: "EdDSA", typ, kid: newest.kid })));
      const signingInput = `${header}.${base64url(utf8(JSON.stringify(payload)))}`;
      const signature = await crypto.subtle.sign({ name: "Ed25519" }, await this.#signer(newest), utf8(signingInput) as Uint8Array<ArrayBuffer>);
      return `${signingInput}.${base64url(signature)}`;
    });
  }

  async #signer(key: RingKey): Promise<CryptoKey> {
    let signer = this.#signers.get(key.kid);
    if (signer === undefined) {
      if (key.privateKey === null) throw new AuditError("signing_unavailable", `key ${key.kid} no longer signs`);
      signer = await crypto.subtle.importKey("pkcs8", key.privateKey as Uint8Array<ArrayBuffer>, { name: "Ed25519" }, false, ["sign"]);
      this.#signers.set(key.kid, signer);
    }
    return signer;
  }

  /** Every public key still published (signing or retained), oldest first. */
  published(): Promise<PublishedKey[]> {
    return this.#serial(async () => {
      await this.#maintain();
      const keys = this.#store.keys().sort((a, b) => a.createdAt - b.createdAt);
      return Promise.all(
        keys.map(async (k): Promise<PublishedKey> => ({
          kty: "OKP",
          crv: "Ed25519",
          x: base64url(k.publicKey),
          kid: k.kid,
          alg: "EdDSA",
          use: "sig",
          vkey: await verifierKeyString(this.#keyName, k.publicKey),
          ...(k.signsUntil === null ? {} : { signs_until: Math.floor(k.signsUntil / 1000) }),
        })),
      );
    });
  }
}
