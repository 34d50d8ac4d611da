/** The key ring's schedule with frozen time, and the checkpoint issuer over it, with in-memory storage. */
import { createLocalJWKSet, jwtVerify } from "jose";
import { describe, expect, it } from "vitest";
import { CheckpointIssuer, type CheckpointStore, type StoredCheckpoint } from "../../../worker/verify/checkpoint-issuer.ts";
import { KeyRingCore, type KeyRingStore, type RingKey } from "../../../worker/verify/key-ring-core.ts";
import { verifiersFromJwks, verifyCheckpoint } from "../../../worker/verify/log-verifier.ts";
import { formatNote, verifyNote } from "../../../worker/verify/note.ts";

const HOUR = 3_600_000;
const POLICY = { rotateMs: 30 * 24 * HOUR, overlapMs: 48 * HOUR, retainMs: 24 * HOUR };

class MemoryKeys implements KeyRingStore {
  rows: RingKey[] = [];
  keys(): RingKey[] {
    return this.rows.map((k) => ({ ...k }));
  }
  save(keys: readonly RingKey[]): void {
    this.rows = keys.map((k) => ({ ...k }));
  }
}

function ring(clock: { now: number }, store = new MemoryKeys()) {
  return { store, core: new KeyRingCore(store, { keyName: "verity.local/audit", ...POLICY, now: () => clock.now }) };
}

async function signedBy(core: KeyRingCore, text: string): Promise<string> {
  return formatNote(text, await core.signatureLines(text));
}

describe("KeyRingCore", () => {
  it("signs a JWS with the newest key, verifiable from the published JWKS across a rotation", async () => {
    const clock = { now: Date.UTC(2026, 10, 1) };
    const { core } = ring(clock);
    const payload = { sub: "alice", aud: "urn:tool", exp: Math.floor((clock.now + POLICY.rotateMs) / 1000) + 60 };
    const first = await core.signJws(payload, "JWT");
    clock.now += POLICY.rotateMs; // a successor exists; it signs from now on
    const second = await core.signJws(payload, "JWT");
    const jwks = createLocalJWKSet({ keys: (await core.published()).map(({ vkey: _vkey, signs_until: _until, ...jwk }) => jwk) });
    const options = { algorithms: ["EdDSA"], audience: "urn:tool", currentDate: new Date(clock.now) };
    const a = await jwtVerify(first, jwks, options);
    const b = await jwtVerify(second, jwks, options);
    expect(a.protectedHeader.kid).not.toBe(b.protectedHeader.kid);
    expect(b.payload.sub).toBe("alice");
  });


  it("refuses an overlap as long as the rotation period", () => {
    expect(() => new KeyRingCore(new MemoryKeys(), { keyName: "k", rotateMs: 10, overlapMs: 10, retainMs: 1 })).toThrow(TypeError);
  });

  it("rotates with overlap: one signature, two during the overlap, then the new key alone; old public key retained, then dropped", async () => {
    const clock = { now: Date.UTC(2026, 10, 1) };
    const { store, core } = ring(clock);
    const text = "verity.local/audit/acme\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";

    const first = await signedBy(core, text);
    const oldKeys = await verifiersFromJwks({ keys: await core.published() });
    expect(oldKeys).toHaveLength(1);
    expect((await verifyNote(first, oldKeys)).verifiedBy).toHaveLength(1);

    clock.now += POLICY.rotateMs; // the successor is due
    const during = await signedBy(core, text);
    const published = await core.published();
    expect(published).toHaveLength(2);
    expect(published[0]).toMatchObject({ kty: "OKP", crv: "Ed25519", alg: "EdDSA", use: "sig", signs_until: Math.floor((clock.now + POLICY.overlapMs) / 1000) });
    expect(published[1]!.signs_until).toBeUndefined();
    const bothKeys = await verifiersFromJwks({ keys: published });
    const newKey = bothKeys.filter((v) => !oldKeys.some((o) => o.keyId === v.keyId));
    // Several signatures per note during the overlap: verifiers holding only the old or only the new key accept it.
    expect((await verifyNote(during, bothKeys)).verifiedBy).toHaveLength(2);
    expect((await verifyNote(during, oldKeys)).verifiedBy).toHaveLength(1);
    expect((await verifyNote(during, newKey)).verifiedBy).toHaveLength(1);

    clock.now += POLICY.overlapMs; // the old key stops signing: its private half is erased at once
    const after = await signedBy(core, text);
    await expect(verifyNote(after, oldKeys)).rejects.toMatchObject({ code: "unknown_signer" });
    expect((await verifyNote(after, newKey)).verifiedBy).toHaveLength(1);
    expect(store.rows.find((k) => k.kid === published[0]!.kid)).toMatchObject({ privateKey: null });
    expect(await core.published()).toHaveLength(2); // still published for retainMs

    clock.now += POLICY.retainMs;
    const finally_ = await core.published();
    expect(finally_.map((k) => k.kid)).toEqual([published[1]!.kid]);
    expect(store.rows).toHaveLength(1);
  });

  it("reports when maintenance is next due: the successor's creation, then the end of the overlap", async () => {
    const clock = { now: 1_000_000 };
    const { core } = ring(clock);
    expect(await core.maintain()).toBe(1_000_000 + POLICY.rotateMs);
    clock.now += POLICY.rotateMs;
    expect(await core.maintain()).toBe(clock.now + POLICY.overlapMs);
  });

  it("creates exactly one successor when many callers sign at once", async () => {
    const clock = { now: 0 };
    const { store, core } = ring(clock);
    await core.maintain();
    clock.now = POLICY.rotateMs;
    await Promise.all(Array.from({ length: 10 }, () => core.signatureLines("x\n")));
    expect(store.rows).toHaveLength(2);
  });
});

class MemoryCheckpoints implements CheckpointStore {
  rows = new Map<number, StoredCheckpoint>();
  latestCheckpoint() {
    return [...this.rows.values()].sort((a, b) => b.size - a.size)[0];
  }
  checkpointAt(size: number) {
    return this.rows.get(size);
  }
  saveCheckpoint(c: StoredCheckpoint) {
    this.rows.set(c.size, c);
  }
}

describe("CheckpointIssuer", () => {
  const root = "ab".repeat(32);

  it("issues on demand when behind or stale, on the interval only when the log grew, and signs the committed head", async () => {
    const clock = { now: 0 };
    const { core } = ring(clock);
    const head = { size: 3, rootHash: root };
    let signatures = 0;
    const issuer = new CheckpointIssuer({
      origin: "verity.local/audit/acme",
      head: () => head,
      store: new MemoryCheckpoints(),
      sign: async (text) => {
        signatures++;
        return signedBy(core, text);
      },
      maxAgeMs: 60_000,
      now: () => clock.now,
    });
    const first = await issuer.current();
    const keys = await verifiersFromJwks({ keys: await core.published() });
    expect(await verifyCheckpoint(first.note, keys, "verity.local/audit/acme")).toMatchObject({ size: 3, rootHash: root });
    await issuer.current();
    await issuer.onInterval();
    expect(signatures).toBe(1);
    head.size = 4;
    await issuer.onInterval();
    expect(signatures).toBe(2);
    clock.now += 60_000;
    expect((await issuer.current()).issuedAt).toBe(60_000);
    expect(signatures).toBe(3);
  });

  it("fails closed with signing_unavailable when the key ring cannot sign", async () => {
    const issuer = new CheckpointIssuer({
      origin: "o",
      head: () => ({ size: 0, rootHash: root }),
      store: new MemoryCheckpoints(),
      sign: async () => {
        throw new Error("key ring overloaded");
      },
      maxAgeMs: 1,
    });
    await expect(issuer.current()).rejects.toMatchObject({ code: "signing_unavailable" });
  });
});
