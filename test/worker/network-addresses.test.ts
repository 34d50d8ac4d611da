/**
 * Egress address rules at bundle load: a signed bundle whose registry names a metadata or private
 * address is refused (audited) and the last good configuration stays in force; loopback destinations
 * load only under the local-development setting, which wrangler.toml never carries.
 */
import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { buildSignedSeedEntries } from "../../dev/seed-entries.ts";
import { DEV_SIGNING_JWK, importSigner } from "../../dev/signing/sign-bundle.ts";
import type { GatewayError } from "../../worker/errors.ts";
import { createConfigSource, type ConfigEvent } from "../../worker/workload/index.ts";
import { auditRecords, bearer, chatBody, gatewayFetch } from "../support/gateway.ts";
import { seedFiles, seedKv } from "../support/seed.ts";
import { tokenFor } from "../support/tokens.ts";

const wranglerToml = Object.values(import.meta.glob("../../wrangler.toml", { eager: true, query: "?raw", import: "default" }) as Record<string, string>)[0]!;

let alice: string;

beforeAll(async () => {
  await seedKv(env.CONFIG);
  alice = await tokenFor("alice");
});

async function served(): Promise<void> {
  const response = await gatewayFetch("/v1/chat/completions", { method: "POST", body: chatBody("hello"), headers: bearer(alice) });
  expect(response.status).toBe(200);
  await response.text();
}

describe("a bundle naming a special address", () => {
  it.each([
    ["a cloud-metadata backend", "https://169.254.169.254/latest"],
    ["a metadata name", "https://metadata.google.internal"],
    ["a private address in hex", "https://0x0a000001"],
    ["an IPv4-mapped private address", "https://[::ffff:192.168.1.10]"],
  ])("is refused at load (%s); the last good configuration keeps serving", async (_what, baseUrl) => {
    await served();
    await seedKv(env.CONFIG, (files) => {
      (files.backends as Array<{ id: string; baseUrl: string }>).find((b) => b.id === "eu-public")!.baseUrl = baseUrl;
    });
    await served();
    const refusal = (await auditRecords("_config")).filter((r) => r.type === "config_refused").at(-1);
    expect(refusal).toMatchObject({ code: "config_invalid" });
    expect(String(refusal!.reason)).toMatch(/backends\[eu-public\]\.baseUrl: .* is a (metadata|private) address/);
  });
});

describe("loopback destinations", () => {
  async function loadWith(vars: Record<string, string | undefined>): Promise<{ events: ConfigEvent[]; error?: GatewayError }> {
    const kv = new Map<string, ArrayBuffer>();
    for (const { key, value } of await buildSignedSeedEntries(seedFiles(), [await importSigner(DEV_SIGNING_JWK)])) {
      kv.set(key, new TextEncoder().encode(value).buffer as ArrayBuffer);
    }
    const events: ConfigEvent[] = [];
    const bindings = {
      CONFIG: { get: async (key: string) => kv.get(key) ?? null } as unknown as KVNamespace,
      CONFIG_REFRESH_MS: "0",
      BUNDLE_TRUSTED_KEYS: env.BUNDLE_TRUSTED_KEYS,
      BUNDLE_MIN_VERSION: "1",
      ...vars,
    };
    try {
      await createConfigSource().current(bindings, async (event) => void events.push(event));
      return { events };
    } catch (error) {
      return { events, error: error as GatewayError };
    }
  }

  it("load only under VERITY_LOCAL_DEV=loopback", async () => {
    expect((await loadWith({ VERITY_LOCAL_DEV: "loopback" })).events[0]).toMatchObject({ type: "config_loaded" });
    const deployed = await loadWith({});
    expect(deployed.error?.code).toBe("config_unavailable");
    expect(deployed.events[0]).toMatchObject({ type: "config_refused", code: "config_invalid" });
    expect((deployed.events[0] as { reason: string }).reason).toMatch(/loopback destinations \(http:\/\/127\.0\.0\.1:\d+/);
  });

  it("a setting other than `loopback` is a deployment error, not a yes", async () => {
    const typo = await loadWith({ VERITY_LOCAL_DEV: "true" });
    expect(typo.events[0]).toMatchObject({ type: "config_refused", code: "trust_config_invalid" });
  });

  it("wrangler.toml (what `wrangler deploy` reads) never sets VERITY_LOCAL_DEV", () => {
    expect(wranglerToml).toContain("[vars]");
    expect(wranglerToml).not.toMatch(/VERITY_LOCAL_DEV/);
  });
});
