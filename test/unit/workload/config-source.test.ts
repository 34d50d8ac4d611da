import { describe, expect, it } from "vitest";
import { buildSeedEntries } from "../../../dev/seed-entries.ts";
import { GatewayError } from "../../../worker/errors.ts";
import { CONFIG_KEYS, createConfigSource } from "../../../worker/workload/index.ts";
import { seedFiles } from "../../support/seed.ts";

/** A KV stand-in that holds text values and can be told to fail. */
class MemoryKv {
  values = new Map<string, string>();
  failing = false;
  async get(key: string): Promise<string | null> {
    if (this.failing) throw new Error("KV is down");
    return this.values.get(key) ?? null;
  }
  publish(mutate?: (files: ReturnType<typeof seedFiles>) => void) {
    const files = seedFiles();
    mutate?.(files);
    for (const { key, value } of buildSeedEntries(files)) this.values.set(key, value);
  }
}

function asKv(kv: MemoryKv): KVNamespace {
  return kv as unknown as KVNamespace;
}

async function refusalOf(promise: Promise<unknown>): Promise<GatewayError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(GatewayError);
  return error as GatewayError;
}

describe("configuration source", () => {
  it("refuses everything while nothing is published", async () => {
    const kv = new MemoryKv();
    const error = await refusalOf(createConfigSource().current(asKv(kv), 0));
    expect(error.code).toBe("config_unavailable");
  });

  it("refuses everything when the first publish is invalid", async () => {
    const kv = new MemoryKv();
    kv.publish((f) => ((f.backends as any[])[0].tier = "premium"));
    const error = await refusalOf(createConfigSource().current(asKv(kv), 0));
    expect(error.code).toBe("config_unavailable");
  });

  it("keeps the last good configuration when a bad one is published, and swaps to a good new one", async () => {
    const kv = new MemoryKv();
    kv.publish();
    const source = createConfigSource();
    const first = await source.current(asKv(kv), 0);
    expect(first.registry.backends).toHaveLength(3);

    kv.values.set(CONFIG_KEYS.policy, JSON.stringify({ schema: "entity", policies: "permit(" }));
    expect(await source.current(asKv(kv), 0)).toBe(first);

    kv.failing = true;
    expect(await source.current(asKv(kv), 0)).toBe(first);
    kv.failing = false;

    kv.publish((f) => (f.backends as any[]).pop());
    const next = await source.current(asKv(kv), 0);
    expect(next).not.toBe(first);
    expect(next.version).not.toBe(first.version);
    expect(next.registry.backends).toHaveLength(2);
  });

  it("rereads KV only after the refresh interval", async () => {
    let clock = 0;
    const kv = new MemoryKv();
    kv.publish();
    const source = createConfigSource({ now: () => clock });
    const first = await source.current(asKv(kv), 1000);
    kv.publish((f) => (f.backends as any[]).pop());
    clock = 999;
    expect(await source.current(asKv(kv), 1000)).toBe(first);
    clock = 1000;
    expect((await source.current(asKv(kv), 1000)).registry.backends).toHaveLength(2);
  });
});
