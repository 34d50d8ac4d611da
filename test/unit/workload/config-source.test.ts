/**
 * The configuration source: a signed bundle is verified once per content version; a refused update
 * (any reason) is audited once and the last good bundle stays in force; with none in force, every
 * request is refused. Runs in workerd with an in-memory KV that can be told to fail.
 */
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { GatewayError } from "../../../worker/errors.ts";
import { BUNDLE_KEY, MAX_BUNDLE_BYTES } from "../../../worker/workload/bundle-format.ts";
import { type ConfigBindings, type ConfigEvent, createConfigSource } from "../../../worker/workload/index.ts";
import { type TestKey, devKey, documents, edit, newKey, pinnedText, signed } from "./bundle-kit.ts";

/** A KV stand-in that holds bundle texts and can be told to fail. */
class MemoryKv {
  value: string | null = null;
  failing = false;
  reads = 0;
  async get(key: string, type: string): Promise<ArrayBuffer | null> {
    this.reads++;
    if (this.failing) throw new Error("KV is down");
    expect([key, type]).toEqual([BUNDLE_KEY, "arrayBuffer"]);
    return this.value === null ? null : new TextEncoder().encode(this.value).buffer as ArrayBuffer;
  }
}

let dev: TestKey;
let stranger: TestKey;

beforeAll(async () => {
  dev = await devKey();
  stranger = await newKey("stranger");
});

afterEach(() => vi.restoreAllMocks());

function world(options: { refreshMs?: number; floor?: number; keys?: string } = {}) {
  const kv = new MemoryKv();
  const events: ConfigEvent[] = [];
  const env: ConfigBindings = {
    CONFIG: kv as unknown as KVNamespace,
    CONFIG_REFRESH_MS: String(options.refreshMs ?? 0),
    BUNDLE_TRUSTED_KEYS: options.keys ?? pinnedText(dev),
    BUNDLE_MIN_VERSION: String(options.floor ?? 1),
    // The seeded registry names the local stack's loopback services.
    VERITY_LOCAL_DEV: "loopback",
  };
  const audit = async (event: ConfigEvent) => {
    events.push(event);
  };
  return { kv, env, events, audit };
}

async function refusalOf(promise: Promise<unknown>): Promise<GatewayError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(GatewayError);
  return error as GatewayError;
}

const twoBackends = () => documents((f) => (f.backends as unknown[]).pop());

describe("configuration source", () => {
  it("refuses everything while nothing is published, and audits why", async () => {
    const { env, events, audit } = world();
    const error = await refusalOf(createConfigSource().current(env, audit));
    expect(error.code).toBe("config_unavailable");
    expect(events).toEqual([expect.objectContaining({ type: "config_refused", code: "bundle_missing", kept: null })]);
  });

  it("refuses everything when the first bundle is refused (a cold isolate has nothing to keep)", async () => {
    const { kv, env, events, audit } = world();
    kv.value = await signed(5, [stranger.signer]);
    expect((await refusalOf(createConfigSource().current(env, audit))).code).toBe("config_unavailable");
    expect(events).toEqual([expect.objectContaining({ type: "config_refused", code: "bundle_unknown_key" })]);
  });

  it("refuses a signed bundle whose configuration does not validate", async () => {
    const { kv, env, events, audit } = world();
    kv.value = await signed(5, [dev.signer], documents((f) => ((f.backends as Array<{ tier: string }>)[0]!.tier = "premium")));
    expect((await refusalOf(createConfigSource().current(env, audit))).code).toBe("config_unavailable");
    expect(events).toEqual([expect.objectContaining({ type: "config_refused", code: "config_invalid" })]);
  });

  it("puts a verified bundle in force and audits which version and key", async () => {
    const { kv, env, events, audit } = world();
    kv.value = await signed(5, [dev.signer]);
    const config = await createConfigSource().current(env, audit);
    expect(config).toMatchObject({ bundleVersion: 5, signedBy: "verity-dev-bundle-1" });
    expect(config.registry.backends).toHaveLength(3);
    expect(events).toEqual([{ type: "config_loaded", bundleDigest: config.version, bundleVersion: 5, signedBy: "verity-dev-bundle-1", replaced: null }]);
  });

  it("keeps the last good bundle after every kind of refused update, auditing each once, then moves forward", async () => {
    const { kv, env, events, audit } = world();
    const source = createConfigSource();
    kv.value = await signed(10, [dev.signer]);
    const good = await source.current(env, audit);

    const good10 = kv.value;
    const attacks: Array<[string, string]> = [
      ["bundle_unsigned", edit(good10, (b) => (b.envelope.signatures = []))],
      ["bundle_digest_mismatch", edit(await signed(11, [dev.signer]), (b) => ((b.documents.registry as { backends: unknown[] }).backends.pop()))],
      ["bundle_signature_invalid", await signed(11, [{ ...stranger.signer, keyid: "verity-dev-bundle-1" }], twoBackends())],
      ["bundle_unknown_key", await signed(11, [stranger.signer], twoBackends())],
      ["bundle_duplicate_key", `{"documents":${JSON.stringify(twoBackends())},${(await signed(11, [dev.signer])).slice(1)}`],
      ["bundle_malformed", good10.slice(0, good10.length - 7)],
      ["bundle_too_large", " ".repeat(MAX_BUNDLE_BYTES + 1)],
      ["bundle_rollback", await signed(9, [dev.signer], twoBackends())],
      ["bundle_version_reused", await signed(10, [dev.signer], twoBackends())],
      ["config_invalid", await signed(11, [dev.signer], documents((f) => ((f.backends as Array<{ tier: string }>)[0]!.tier = "premium")))],
      ["bundle_missing", null as unknown as string],
    ];
    for (const [code, text] of attacks) {
      kv.value = text;
      expect(await source.current(env, audit), code).toBe(good);
      expect(await source.current(env, audit), `${code}, asked again`).toBe(good);
      expect(events.at(-1), code).toMatchObject({ type: "config_refused", code, kept: good.version, keptBundleVersion: 10 });
    }
    // Each refused bundle was audited exactly once, however often it was reread.
    expect(events.map((e) => e.type)).toEqual(["config_loaded", ...attacks.map(() => "config_refused")]);

    kv.failing = true;
    expect(await source.current(env, audit)).toBe(good);
    kv.failing = false;

    kv.value = await signed(11, [dev.signer], twoBackends());
    const next = await source.current(env, audit);
    expect(next).not.toBe(good);
    expect(next).toMatchObject({ bundleVersion: 11 });
    expect(next.registry.backends).toHaveLength(2);
    expect(events.at(-1)).toMatchObject({ type: "config_loaded", bundleVersion: 11, replaced: good.version });

    // Once 11 is in force, the old 10 (validly signed) is a rollback.
    kv.value = good10;
    expect(await source.current(env, audit)).toBe(next);
    expect(events.at(-1)).toMatchObject({ type: "config_refused", code: "bundle_rollback" });
  });

  it("verifies a bundle once per version, not per request", async () => {
    const { kv, env, audit } = world();
    kv.value = await signed(5, [dev.signer]);
    const source = createConfigSource();
    const verify = vi.spyOn(crypto.subtle, "verify");
    const first = await source.current(env, audit);
    const verifications = verify.mock.calls.length;
    expect(verifications).toBeGreaterThan(0);
    for (let i = 0; i < 200; i++) expect(await source.current(env, audit)).toBe(first);
    // Every call reread KV (CONFIG_REFRESH_MS is 0 here) and hashed the bytes, nothing more.
    expect(kv.reads).toBe(201);
    expect(verify.mock.calls.length).toBe(verifications);
  });

  it("refuses, on a cold isolate, a bundle below the pinned floor BUNDLE_MIN_VERSION", async () => {
    const { kv, env, events, audit } = world({ floor: 1000 });
    kv.value = await signed(999, [dev.signer]);
    expect((await refusalOf(createConfigSource().current(env, audit))).code).toBe("config_unavailable");
    expect(events).toEqual([expect.objectContaining({ code: "bundle_rollback" })]);
    kv.value = await signed(1000, [dev.signer]);
    expect((await createConfigSource().current(env, audit)).bundleVersion).toBe(1000);
  });

  it("refuses every bundle when the pinned keys cannot be used (a deployment error)", async () => {
    const { kv, env, events, audit } = world({ keys: '{"keys":[{"kty":"OKP","crv":"Ed25519","x":"short","kid":"k"}]}' });
    kv.value = await signed(5, [dev.signer]);
    expect((await refusalOf(createConfigSource().current(env, audit))).code).toBe("config_unavailable");
    expect(events).toEqual([expect.objectContaining({ code: "trust_config_invalid" })]);
  });

  it("keeps the decision when the audit log cannot record it", async () => {
    const { kv, env } = world();
    kv.value = await signed(5, [dev.signer]);
    const failingAudit = async () => {
      throw new Error("audit down");
    };
    const source = createConfigSource();
    const good = await source.current(env, failingAudit);
    kv.value = await signed(6, [stranger.signer]);
    expect(await source.current(env, failingAudit)).toBe(good);
  });

  it("rereads KV only after the refresh interval", async () => {
    let clock = 0;
    const { kv, env, audit } = world({ refreshMs: 1000 });
    kv.value = await signed(5, [dev.signer]);
    const source = createConfigSource({ now: () => clock });
    const first = await source.current(env, audit);
    kv.value = await signed(6, [dev.signer], twoBackends());
    clock = 999;
    expect(await source.current(env, audit)).toBe(first);
    clock = 1000;
    expect((await source.current(env, audit)).registry.backends).toHaveLength(2);
  });
});
