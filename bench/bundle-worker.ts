/**
 * The bundle benchmark's Worker (bench/bundle.ts): runs the gateway's own configuration source
 * (`createConfigSource`, what every request asks first) and bundle verifier in workerd, `n` times per
 * HTTP request, so the Node side can time batches from outside.
 *
 *   POST /setup                  body: the signed seed bundle (KV value); pins the dev key
 *   POST /run?kind=<kind>&n=N    N operations, answers 204
 *   GET  /healthz
 *
 * KV is an in-memory stand-in, so the figures are the gateway's own work without KV's latency.
 */
import { BUNDLE_KEY } from "../worker/workload/bundle-format.ts";
import { verifyBundle } from "../worker/workload/bundle-verify.ts";
import { type ConfigBindings, type ConfigSource, createConfigSource } from "../worker/workload/index.ts";
import { importTrustedKeys, type TrustedKeys } from "../worker/workload/trusted-keys.ts";
import { DEV_SIGNING_JWK, publicJwk } from "../dev/signing/sign-bundle.ts";

interface World {
  bytes: Uint8Array;
  keys: TrustedKeys;
  cached: { source: ConfigSource; env: ConfigBindings };
  reread: { source: ConfigSource; env: ConfigBindings };
  env: (refreshMs: number) => ConfigBindings;
}

let world: World | undefined;

async function setup(bundle: Uint8Array): Promise<World> {
  const pinned = JSON.stringify({ keys: [publicJwk(DEV_SIGNING_JWK)] });
  const kv = { get: async (key: string) => (key === BUNDLE_KEY ? bundle.slice().buffer : null) } as unknown as KVNamespace;
  const env = (refreshMs: number): ConfigBindings => ({ CONFIG: kv, CONFIG_REFRESH_MS: String(refreshMs), BUNDLE_TRUSTED_KEYS: pinned, BUNDLE_MIN_VERSION: "1" });
  const cached = { source: createConfigSource(), env: env(3_600_000) };
  const reread = { source: createConfigSource(), env: env(0) };
  await cached.source.current(cached.env);
  await reread.source.current(reread.env);
  return { bytes: bundle, keys: await importTrustedKeys(pinned), cached, reread, env };
}

const KINDS: Record<string, (w: World) => Promise<unknown>> = {
  /** Per request: the configuration in force, inside the refresh window (the gateway's steady state). */
  "config-cached": (w) => w.cached.source.current(w.cached.env),
  /** Per refresh (every CONFIG_REFRESH_MS per isolate): KV read and SHA-256 of unchanged bytes, no verification. */
  "config-reread": (w) => w.reread.source.current(w.reread.env),
  /** The counterfactual: verifying the bundle (signature, statement, digests) on every request. */
  "verify-per-request": (w) => verifyBundle(w.bytes, w.keys, { minVersion: 1 }),
  /** Once per bundle version per isolate: verify, validate the registry, compile the Cedar policies. */
  "load-new-version": (w) => createConfigSource().current(w.env(0)),
};

export default {
  async fetch(req: Request): Promise<Response> {
    const url = new URL(req.url);
    if (url.pathname === "/healthz") return new Response("ok");
    if (url.pathname === "/setup" && req.method === "POST") {
      world = await setup(new Uint8Array(await req.arrayBuffer()));
      return new Response(null, { status: 204 });
    }
    if (url.pathname === "/run" && req.method === "POST" && world) {
      const run = KINDS[url.searchParams.get("kind") ?? ""];
      const n = Number(url.searchParams.get("n") ?? "0");
      if (!run || !Number.isSafeInteger(n) || n < 0) return new Response("bad run", { status: 400 });
      for (let i = 0; i < n; i++) await run(world);
      return new Response(null, { status: 204 });
    }
    return new Response("not found", { status: 404 });
  },
};
