/**
 * The vault core (worker/data/vault): envelope encryption per data subject under the tenant's KEK,
 * context bound as AAD, crypto-shredding erasure, retention, KEK rotation. Frozen time, memory store.
 */
import { describe, expect, it } from "vitest";
import { base64, sha256Hex, utf8 } from "../../../worker/lib/encoding.ts";
import { importKeks, kekSecretName, VaultCore, VaultError, type KekSet, type StoreRequest, type VaultErrorCode } from "../../../worker/data/vault/index.ts";
import { MemoryVaultStore } from "./vault-memory-store.ts";

const DAY = 86_400_000;
const T0 = Date.parse("2026-11-26T12:00:00Z");

function kekText(): string {
  return base64(crypto.getRandomValues(new Uint8Array(32)));
}

async function vault(options: { secret?: string; store?: MemoryVaultStore; tenant?: string } = {}) {
  const clock = { now: T0 };
  const store = options.store ?? new MemoryVaultStore();
  const tenant = options.tenant ?? "acme";
  const secret = options.secret ?? kekText();
  const core = new VaultCore(store, { tenant, keks: () => importKeks(secret, tenant), now: () => clock.now });
  return { core, store, clock, secret };
}

function request(overrides: Partial<StoreRequest> = {}): StoreRequest {
  return { tenant: "acme", subject: "alice", kind: "prompt", plaintext: utf8("my secret prompt"), createdAt: T0, retainDays: 30, ...overrides };
}

async function failsWith(promise: Promise<unknown> | (() => unknown), code: VaultErrorCode): Promise<void> {
  try {
    await (typeof promise === "function" ? promise() : promise);
  } catch (error) {
    expect(error).toBeInstanceOf(VaultError);
    expect((error as VaultError).code).toBe(code);
    return;
  }
  throw new Error(`expected ${code}, nothing was thrown`);
}

describe("KEKs from the Worker secret", () => {
  it("names the secret after the tenant", () => {
    expect(kekSecretName("acme")).toBe("KEK_ACME");
    expect(kekSecretName("big-co")).toBe("KEK_BIG_CO");
  });

  it("refuses a missing, non-base64, wrong-length or repeated key", async () => {
    await failsWith(importKeks(undefined, "acme"), "kek_missing");
    await failsWith(importKeks("", "acme"), "kek_missing");
    await failsWith(importKeks("not base64!", "acme"), "kek_invalid");
    await failsWith(importKeks(base64(new Uint8Array(16)), "acme"), "kek_invalid");
    const key = kekText();
    await failsWith(importKeks(`${key},${key}`, "acme"), "kek_invalid");
  });

  it("gives each key a stable id that does not reveal it; the first of several is primary", async () => {
    const [a, b] = [kekText(), kekText()];
    const one: KekSet = await importKeks(`${a},${b}`, "acme");
    const again = await importKeks(a, "acme");
    expect(one.primary.id).toMatch(/^kek-[0-9a-f]{16}$/);
    expect(one.primary.id).toBe(again.primary.id);
    expect(one.byId.size).toBe(2);
    expect(one.primary.id).not.toContain(a);
  });
});

describe("store and read", () => {
  it("round-trips a payload and records key ids and the ciphertext digest, never the plaintext", async () => {
    const { core, store } = await vault();
    const stored = await core.store(request());
    expect(stored).toMatchObject({ tenant: "acme", subject: "alice", kind: "prompt", bytes: 16, createdAt: T0, expiresAt: T0 + 30 * DAY });
    expect(stored.kekId).toMatch(/^kek-[0-9a-f]{16}$/);
    expect(stored.dekId).toMatch(/^dek-/);
    const row = store.payloads.get(stored.payloadId)!;
    expect(stored.ciphertextDigest).toBe(await sha256Hex(row.sealed));
    expect(new TextDecoder().decode(row.sealed)).not.toContain("my secret prompt");
    // The data key is stored wrapped: 32 key bytes + IV + tag.
    expect(store.keys.get(stored.dekId)!.wrapped.length).toBe(32 + 28);

    const opened = await core.read(stored.payloadId);
    expect(new TextDecoder().decode(opened.plaintext)).toBe("my secret prompt");
    expect(opened).toMatchObject({ payloadId: stored.payloadId, kekId: stored.kekId, dekId: stored.dekId, ciphertextDigest: stored.ciphertextDigest });
  });

  it("uses one data key per subject, another for another subject", async () => {
    const { core } = await vault();
    const a1 = await core.store(request());
    const a2 = await core.store(request({ kind: "output" }));
    const b = await core.store(request({ subject: "bob" }));
    expect(a1.dekId).toBe(a2.dekId);
    expect(b.dekId).not.toBe(a1.dekId);
    expect(a1.kekId).toBe(b.kekId);
  });

  it("a concurrent first store for one subject ends with a single data key", async () => {
    const { core, store } = await vault();
    const results = await Promise.all([core.store(request()), core.store(request()), core.store(request())]);
    expect(new Set(results.map((r) => r.dekId)).size).toBe(1);
    expect(store.keys.size).toBe(1);
    for (const r of results) expect((await core.read(r.payloadId)).bytes).toBe(16);
  });

  it("refuses bad input: another tenant, bad subject, kind, size or retention", async () => {
    const { core } = await vault();
    await failsWith(core.store(request({ tenant: "globex" })), "invalid_argument");
    await failsWith(core.store(request({ subject: "" })), "invalid_argument");
    await failsWith(core.store(request({ subject: "a\nb" })), "invalid_argument");
    await failsWith(core.store(request({ kind: "tool" as "prompt" })), "invalid_argument");
    await failsWith(core.store(request({ retainDays: 0 })), "invalid_argument");
    await failsWith(core.store(request({ retainDays: 3651 })), "invalid_argument");
    await failsWith(core.store(request({ plaintext: new Uint8Array(1024 * 1024 + 1) })), "payload_too_large");
    await failsWith(core.read("nope"), "payload_not_found");
  });

  it("a vault bound to one tenant refuses to serve another", async () => {
    const { core, store } = await vault();
    await core.store(request());
    expect(() => new VaultCore(store, { tenant: "globex", keks: () => importKeks(kekText(), "globex") })).toThrow(VaultError);
  });
});

describe("wrong keys and tampering are detected, not decrypted", () => {
  it("a vault opened with another KEK cannot unwrap the data key", async () => {
    const { core, store } = await vault();
    const stored = await core.store(request());
    const other = await vault({ store, secret: kekText() });
    // Another KEK has another id: the data key names a KEK this secret does not hold.
    await failsWith(other.core.read(stored.payloadId), "kek_missing");
  });

  it("a KEK swapped under the same id (a forged row) fails integrity", async () => {
    const { core, store } = await vault();
    const stored = await core.store(request());
    const forger = await vault({ store, secret: kekText() });
    const forgedId = (await importKeks(forger.secret, "acme")).primary.id;
    const key = store.keys.get(stored.dekId)!;
    store.keys.set(stored.dekId, { ...key, kekId: forgedId });
    await failsWith(forger.core.read(stored.payloadId), "integrity");
  });

  it("a flipped ciphertext bit fails integrity", async () => {
    const { core, store } = await vault();
    const stored = await core.store(request());
    const row = store.payloads.get(stored.payloadId)!;
    const sealed = row.sealed.slice();
    sealed[20]! ^= 0x01;
    store.payloads.set(stored.payloadId, { ...row, sealed });
    await failsWith(core.read(stored.payloadId), "integrity");
  });

  it("a ciphertext moved to another payload id, subject or kind fails (AAD binds them)", async () => {
    const { core, store } = await vault();
    const alice = await core.store(request());
    const bob = await core.store(request({ subject: "bob" }));
    const other = await core.store(request({ plaintext: utf8("another") }));
    const row = store.payloads.get(alice.payloadId)!;
    // Same key, other payload id.
    store.payloads.set(other.payloadId, { ...row, id: other.payloadId });
    await failsWith(core.read(other.payloadId), "integrity");
    // Relabelled as another kind.
    store.payloads.set(alice.payloadId, { ...row, kind: "output" });
    await failsWith(core.read(alice.payloadId), "integrity");
    // Moved under bob (his key, his name).
    store.payloads.set(alice.payloadId, { ...row, subject: "bob", dekId: bob.dekId });
    await failsWith(core.read(alice.payloadId), "integrity");
  });

  it("a wrapped data key moved to another subject fails to unwrap (AAD binds tenant, subject, key ids)", async () => {
    const { core, store, secret } = await vault();
    const alice = await core.store(request());
    const bob = await core.store(request({ subject: "bob" }));
    const aliceKey = store.keys.get(alice.dekId)!;
    store.keys.set(bob.dekId, { ...store.keys.get(bob.dekId)!, wrapped: aliceKey.wrapped });
    // A fresh object (nothing unwrapped in memory yet), as after an eviction.
    const cold = await vault({ store, secret });
    await failsWith(cold.core.read(bob.payloadId), "integrity");
  });

  it("a payload copied into another tenant's vault with the same KEK does not open (tenant in the AAD)", async () => {
    const secret = kekText();
    const acme = await vault({ secret });
    const stored = await acme.core.store(request());
    const globexStore = new MemoryVaultStore();
    const globex = await vault({ secret, tenant: "globex", store: globexStore });
    globexStore.keys.set(stored.dekId, { ...acme.store.keys.get(stored.dekId)! });
    globexStore.payloads.set(stored.payloadId, { ...acme.store.payloads.get(stored.payloadId)! });
    await failsWith(globex.core.read(stored.payloadId), "integrity");
  });
});

describe("erasure (crypto-shredding)", () => {
  it("destroys the subject's data key: its payloads answer payload_erased, others' still open", async () => {
    const { core, store, clock } = await vault();
    const a1 = await core.store(request());
    const a2 = await core.store(request({ kind: "output" }));
    const b = await core.store(request({ subject: "bob" }));
    clock.now += 1000;
    const result = core.erase("alice");
    expect(result).toEqual({ dataKeys: [a1.dekId], payloads: 2, erasedAt: T0 + 1000 });
    expect(store.keys.has(a1.dekId)).toBe(false);
    // The ciphertext is still there (until its retention ends) but nothing can open it.
    expect(store.payloads.has(a1.payloadId)).toBe(true);
    await failsWith(core.read(a1.payloadId), "payload_erased");
    await failsWith(core.read(a2.payloadId), "payload_erased");
    expect(new TextDecoder().decode((await core.read(b.payloadId)).plaintext)).toBe("my secret prompt");
  });

  it("a payload of a request received before the erasure is refused; a later one gets a fresh key", async () => {
    const { core, clock } = await vault();
    const before = await core.store(request());
    clock.now += 5000;
    core.erase("alice");
    await failsWith(core.store(request({ createdAt: T0 + 1000 })), "payload_erased");
    const after = await core.store(request({ createdAt: T0 + 6000 }));
    expect(after.dekId).not.toBe(before.dekId);
    expect((await core.read(after.payloadId)).bytes).toBe(16);
  });

  it("an erasure during a store's encryption leaves no readable payload", async () => {
    const { core, store } = await vault();
    await core.store(request());
    const pending = core.store(request({ createdAt: T0 - 1 }));
    core.erase("alice");
    await failsWith(pending, "payload_erased");
    expect([...store.payloads.values()].filter((p) => store.keys.has(p.dekId))).toHaveLength(0);
  });

  it("erasing an unknown subject destroys nothing and still records the erasure", async () => {
    const { core, store } = await vault();
    expect(core.erase("nobody")).toMatchObject({ dataKeys: [], payloads: 0 });
    expect(store.erasures.get("nobody")).toBe(T0);
  });
});

describe("retention", () => {
  it("a payload past its retention is unreadable at once and deleted by the sweep, the next end reported", async () => {
    const { core, store, clock } = await vault();
    const short = await core.store(request({ retainDays: 1 }));
    const long = await core.store(request({ retainDays: 30 }));
    expect(core.nextExpiry()).toBe(T0 + DAY);
    clock.now = T0 + DAY;
    await failsWith(core.read(short.payloadId), "payload_not_found");
    expect(core.expire()).toEqual({ deleted: 1, next: T0 + 30 * DAY });
    expect(store.payloads.has(short.payloadId)).toBe(false);
    expect((await core.read(long.payloadId)).bytes).toBe(16);
    clock.now = T0 + 30 * DAY;
    expect(core.expire()).toEqual({ deleted: 1, next: undefined });
  });
});

describe("KEK rotation", () => {
  it("re-wraps every data key under the new primary, after which the old KEK can go", async () => {
    const old = kekText();
    const fresh = kekText();
    const { core, store } = await vault({ secret: old });
    const stored = await core.store(request());
    const rotating = await vault({ store, secret: `${fresh},${old}` });
    // Still readable during the rotation (the old key unwraps), new subjects get the new KEK.
    expect((await rotating.core.read(stored.payloadId)).bytes).toBe(16);
    const bob = await rotating.core.store(request({ subject: "bob" }));
    const freshId = (await importKeks(fresh, "acme")).primary.id;
    expect(bob.kekId).toBe(freshId);
    expect(await rotating.core.rewrap()).toEqual({ rewrapped: 1, kekId: freshId });
    const after = await vault({ store, secret: fresh });
    const opened = await after.core.read(stored.payloadId);
    expect(opened.kekId).toBe(freshId);
    expect(new TextDecoder().decode(opened.plaintext)).toBe("my secret prompt");
  });
});
