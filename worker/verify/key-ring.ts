/**
 * `KeyRing`: the Durable Object that holds the gateway's signing keys (one instance, addressed as
 * `idFromName(KEY_RING_NAME)`). Private keys are generated inside it, stored in its SQLite storage
 * and never returned: callers get signatures and public keys over RPC. Why here rather than a
 * Worker secret: rotation on a schedule needs a writer that can create, retire and erase keys by
 * itself, and one object serialises that; a secret can only be rotated by an operator's redeploy.
 * The alarm runs maintenance when it is next due (rotation, erasure, retention).
 */
import { DurableObject } from "cloudflare:workers";
import { auditOrigin, keyRingPolicy, type VerifyVars } from "./config.ts";
import { KeyRingCore, type PublishedKey } from "./key-ring-core.ts";
import { SqlKeyRingStore } from "./key-ring-store.ts";
import { formatNote } from "./note.ts";

/** The one key ring of a gateway deployment. */
export const KEY_RING_NAME = "gateway";

export class KeyRing extends DurableObject<VerifyVars> {
  readonly #core: KeyRingCore;

  constructor(ctx: DurableObjectState, env: VerifyVars) {
    super(ctx, env);
    this.#core = new KeyRingCore(new SqlKeyRingStore(ctx.storage), { keyName: auditOrigin(env), ...keyRingPolicy(env) });
  }

  /** The note `text` signed by every key that may sign now (the full signed note). */
  async signNote(text: string): Promise<string> {
    const lines = await this.#core.signatureLines(text);
    await this.#arm();
    return formatNote(text, lines);
  }

  /** A compact EdDSA JWS over `payload` with the newest signing key (delegated tokens, gateway assertions). */
  async signJws(payload: Record<string, unknown>, typ: string): Promise<string> {
    const jws = await this.#core.signJws(payload, typ);
    await this.#arm();
    return jws;
  }

  async publicKeys(): Promise<PublishedKey[]> {
    const keys = await this.#core.published();
    await this.#arm();
    return keys;
  }

  override async alarm(): Promise<void> {
    await this.ctx.storage.setAlarm(await this.#core.maintain());
  }

  async #arm(): Promise<void> {
    if ((await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(await this.#core.maintain());
  }
}
