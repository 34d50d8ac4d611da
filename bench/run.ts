/**
 * `npm run bench`: direct vs. bare Worker vs. Verity vs. Portkey, non-streaming and streaming, with
 * autocannon over 127.0.0.1. Writes bench/REPORT.md and bench/results.json and prints a summary.
 *
 * Order: dev IdP and mock backends start in this process (on the ports the seeded registry names,
 * so `npm start` must not be running); then each target in turn (2 cores: never two at once):
 * start → cold first request → warm-up → TTFB samples → measured non-streaming and streaming runs
 * with the gateway process's CPU time sampled around each → stop. Everything started is stopped on
 * the way out, on error and on Ctrl-C too.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { IDP_ORIGIN, MOCK_BACKENDS } from "../dev/config.ts";
import { startIdp } from "../dev/idp.ts";
import { startMockBackend } from "../dev/mock-backend.ts";
import { tokenFor } from "../test/support/tokens.ts";
import { buildWorker, readWranglerToml, removeBuild, ROOT, type Build } from "./build.ts";
import { measureTtfb, runLoad, timedRequest, type LoadResult, type Target } from "./load.ts";
import { assertPortFree } from "./ports.ts";
import { startPortkey } from "./portkey.ts";
import { procAvailable } from "./proc.ts";
import { chatBody } from "./prompt.ts";
import { markdown, printSummary } from "./report.ts";
import type { BenchResults, Delta, Mode, StartupResult, TargetResult } from "./results.ts";
import { readSettings, type Settings, type TargetName } from "./settings.ts";
import { benchSeedEntries, veritySpec } from "./verity-worker.ts";
import { startWorker } from "./workers.ts";

const BENCH_DIR = import.meta.dirname;
const MODES: readonly Mode[] = ["nonStream", "stream"];

type Closer = () => Promise<void> | void;
const closers: Closer[] = [];

async function cleanUp(): Promise<void> {
  while (closers.length > 0) {
    const close = closers.pop()!;
    try {
      await close();
    } catch (error) {
      console.error("bench: clean-up step failed:", error);
    }
  }
}

function log(line: string): void {
  console.log(`bench: ${line}`);
}

function packageVersion(path: string): string {
  try {
    return (JSON.parse(readFileSync(join(ROOT, "node_modules", path, "package.json"), "utf8")) as { version: string }).version;
  } catch {
    return "unknown";
  }
}

function machine(): BenchResults["machine"] {
  let nproc = os.availableParallelism();
  try {
    nproc = Number(execFileSync("nproc", { encoding: "utf8" }).trim()) || nproc;
  } catch {
    // keep Node's count
  }
  const workerd = packageVersion("miniflare/node_modules/workerd") !== "unknown" ? packageVersion("miniflare/node_modules/workerd") : packageVersion("workerd");
  return {
    nproc,
    cpuModel: os.cpus()[0]?.model ?? "unknown",
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    date: new Date().toISOString(),
    miniflare: `miniflare ${packageVersion("miniflare")}, workerd ${workerd}`,
    autocannon: packageVersion("autocannon"),
    portkey: `@portkey-ai/gateway ${packageVersion("@portkey-ai/gateway")}`,
  };
}

interface Bodies {
  nonStream: string;
  stream: string;
}

/** One request of each mode must succeed with a well-formed reply before any load is sent. */
async function preflight(target: Target, bodies: Bodies): Promise<void> {
  const whole = await timedRequest(target.url, target.headers, bodies.nonStream);
  if (whole.status !== 200 || !whole.body.includes('"chat.completion"')) {
    throw new Error(`${target.name}: non-streamed request answered ${whole.status}: ${whole.body.slice(0, 400)}`);
  }
  const streamed = await timedRequest(target.url, target.headers, bodies.stream);
  if (streamed.status !== 200 || !streamed.body.includes("data:") || !streamed.body.includes("[DONE]")) {
    throw new Error(`${target.name}: streamed request answered ${streamed.status}: ${streamed.body.slice(0, 400)}`);
  }
}

async function measureTarget(target: Target, bodies: Bodies, settings: Settings, cpuSeconds?: () => number | undefined): Promise<TargetResult> {
  await preflight(target, bodies);
  const loadOptions = { connections: settings.connections, clientThread: settings.clientThread };
  if (settings.warmupS > 0) {
    log(`${target.name}: warm-up ${settings.warmupS} s per mode`);
    for (const mode of MODES) await runLoad(target, bodies[mode], { ...loadOptions, durationS: settings.warmupS });
  }
  const ttfb = await measureTtfb(target, bodies.stream, settings.ttfbSamples);
  const load = {} as Record<Mode, LoadResult>;
  for (const mode of MODES) {
    log(`${target.name}: ${mode === "stream" ? "streaming" : "non-streaming"}, ${settings.connections} connections, ${settings.durationS} s`);
    const cpuBefore = cpuSeconds?.();
    const ownBefore = process.cpuUsage();
    const wallBefore = performance.now();
    const result = await runLoad(target, bodies[mode], { ...loadOptions, durationS: settings.durationS });
    const cpuAfter = cpuSeconds?.();
    const own = process.cpuUsage(ownBefore);
    result.benchProcessCpuUtilisation = (own.user + own.system) / 1000 / (performance.now() - wallBefore);
    if (cpuBefore !== undefined && cpuAfter !== undefined && result.requests > 0) {
      result.gatewayCpuMsPerRequest = ((cpuAfter - cpuBefore) * 1000) / result.requests;
      result.gatewayCpuUtilisation = (cpuAfter - cpuBefore) / ((performance.now() - wallBefore) / 1000);
    }
    if (result.non2xx > 0 || result.errors > 0) {
      log(`${target.name}: WARNING ${result.non2xx} non-2xx answers and ${result.errors} errors during the ${mode} run`);
    }
    load[mode] = result;
  }
  return { load, ttfb };
}

async function coldRequest(target: Target, bodies: Bodies): Promise<number> {
  const timing = await timedRequest(target.url, target.headers, bodies.nonStream);
  if (timing.status !== 200) throw new Error(`${target.name}: first request answered ${timing.status}: ${timing.body.slice(0, 400)}`);
  return timing.totalMs;
}

function bundleOf(build: Build) {
  return { files: build.files, rawBytes: build.rawBytes, gzipBytes: build.gzipBytes, buildMs: build.buildMs };
}

async function main(): Promise<void> {
  const settings = readSettings();
  if (!procAvailable()) throw new Error("/proc is not readable: the bench measures process CPU time from /proc/<pid>/stat (Linux only)");
  const results: BenchResults = {
    machine: machine(),
    settings,
    bodyBytes: { nonStream: 0, stream: 0 },
    targets: {},
    startup: {},
    bundle: {},
    deltas: [],
    cpu: { note: "" },
    notes: [],
  };
  const bodies: Bodies = { nonStream: chatBody(settings.promptBytes, false), stream: chatBody(settings.promptBytes, true) };
  results.bodyBytes = { nonStream: Buffer.byteLength(bodies.nonStream), stream: Buffer.byteLength(bodies.stream) };
  log(`${settings.quick ? "QUICK " : ""}run: targets ${settings.targets.join(", ")}; ${settings.connections} connections, ${settings.durationS} s per run`);

  const idpPort = Number(new URL(IDP_ORIGIN).port);
  await assertPortFree(idpPort, "dev identity provider");
  for (const backend of MOCK_BACKENDS) await assertPortFree(backend.port, `mock backend ${backend.id}`);
  const benchWranglerExisted = existsSync(join(BENCH_DIR, ".wrangler"));
  closers.push(() => {
    // wrangler leaves a .wrangler/tmp beside the passthrough config; keep the tree as it was.
    if (!benchWranglerExisted) rmSync(join(BENCH_DIR, ".wrangler"), { recursive: true, force: true });
  });

  const idp = await startIdp({ port: idpPort });
  closers.push(idp.close);
  for (const spec of MOCK_BACKENDS) closers.push((await startMockBackend(spec)).close);
  const eu = MOCK_BACKENDS.find((b) => b.id === "eu-public");
  if (!eu) throw new Error("dev/config.ts has no eu-public mock backend");
  const mockOrigin = `http://127.0.0.1:${eu.port}`;
  const wrangler = readWranglerToml();

  const run = async (name: TargetName, body: () => Promise<TargetResult>) => {
    if (!settings.targets.includes(name)) return;
    try {
      results.targets[name] = await body();
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      log(`${name}: FAILED: ${message}`);
      results.targets[name] = { error: message };
      results.notes.push(`**${name} failed**: ${message.split("\n")[0]}`);
    }
  };

  await run("direct", () =>
    measureTarget({ name: "direct", url: `${mockOrigin}/v1/chat/completions`, headers: { authorization: `Bearer ${eu.apiKey}` } }, bodies, settings),
  );

  await run("bare", async () => {
    const build = await buildWorker("bare", "bench/passthrough.wrangler.toml");
    closers.push(() => removeBuild(build));
    results.bundle.bare = bundleOf(build);
    const worker = await startWorker({
      label: "bare",
      modules: build.modules,
      compatibilityDate: wrangler.compatibilityDate,
      compatibilityFlags: wrangler.compatibilityFlags,
      bindings: { UPSTREAM_ORIGIN: mockOrigin, UPSTREAM_KEY: eu.apiKey },
    });
    closers.push(worker.dispose);
    const target: Target = { name: "bare", url: `${worker.url}/v1/chat/completions`, headers: {} };
    const startup: StartupResult = { startupMs: worker.startupMs, firstRequestMs: await coldRequest(target, bodies), firstRequestNote: "first fetch handler call, upstream connection" };
    results.startup.bare = startup;
    const result = await measureTarget(target, bodies, settings, worker.cpuSeconds);
    await worker.dispose();
    return result;
  });

  await run("verity", async () => {
    const build = await buildWorker("verity");
    closers.push(() => removeBuild(build));
    results.bundle.verity = bundleOf(build);
    const worker = await startWorker(veritySpec("verity", build.modules, wrangler));
    closers.push(worker.dispose);
    const kv = await worker.mf.getKVNamespace("CONFIG");
    for (const entry of benchSeedEntries()) await kv.put(entry.key, entry.value);
    // Tokens live 10 minutes; this phase takes well under one, so one token fetched now serves it.
    const token = await tokenFor("alice", idp.issuer);
    const target: Target = { name: "verity", url: `${worker.url}/v1/chat/completions`, headers: { authorization: `Bearer ${token}` } };
    results.startup.verity = {
      startupMs: worker.startupMs,
      firstRequestMs: await coldRequest(target, bodies),
      firstRequestNote: "KV config load + Cedar compile, JWKS fetch from the IdP, audit Durable Object start (SQLite schema), upstream connection",
    };
    const result = await measureTarget(target, bodies, settings, worker.cpuSeconds);
    await worker.dispose();
    return result;
  });

  await run("portkey", async () => {
    const portkey = await startPortkey();
    closers.push(portkey.stop);
    const target: Target = {
      name: "portkey",
      url: `${portkey.url}/v1/chat/completions`,
      headers: { authorization: `Bearer ${eu.apiKey}`, "x-portkey-provider": "openai", "x-portkey-custom-host": `${mockOrigin}/v1` },
    };
    results.startup.portkey = { startupMs: portkey.startupMs, firstRequestMs: await coldRequest(target, bodies), firstRequestNote: "first request through Node, upstream connection" };
    const result = await measureTarget(target, bodies, settings, portkey.cpuSeconds);
    await portkey.stop();
    return result;
  });

  results.deltas = deltas(results);
  const bare = results.targets.bare?.load;
  const verity = results.targets.verity?.load;
  const cpuKnown = (l?: Record<Mode, LoadResult>) => l !== undefined && MODES.every((m) => l[m].gatewayCpuMsPerRequest !== undefined);
  if (cpuKnown(bare) && cpuKnown(verity)) {
    results.cpu.verityMinusBareMsPerRequest = {
      nonStream: verity!.nonStream.gatewayCpuMsPerRequest! - bare!.nonStream.gatewayCpuMsPerRequest!,
      stream: verity!.stream.gatewayCpuMsPerRequest! - bare!.stream.gatewayCpuMsPerRequest!,
    };
  }
  results.cpu.note = CPU_NOTE;
  results.notes.push(...STANDING_NOTES);

  writeFileSync(join(BENCH_DIR, "results.json"), `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(join(BENCH_DIR, "REPORT.md"), markdown(results));
  printSummary(results);
  log("wrote bench/REPORT.md and bench/results.json");
  const failed = Object.entries(results.targets).filter(([, t]) => t?.error);
  if (failed.length > 0) process.exitCode = 1;
}

function deltas(results: BenchResults): Delta[] {
  const pairs: Array<[TargetName, TargetName]> = [
    ["verity", "direct"],
    ["portkey", "direct"],
    ["bare", "direct"],
    ["verity", "bare"],
    ["verity", "portkey"],
  ];
  const out: Delta[] = [];
  for (const [a, b] of pairs) {
    const ta = results.targets[a];
    const tb = results.targets[b];
    if (!ta?.load || !tb?.load) continue;
    for (const mode of MODES) {
      const la = ta.load[mode];
      const lb = tb.load[mode];
      out.push({
        what: `${a} vs ${b}`,
        mode,
        p50Ms: la.latencyMs.p50 - lb.latencyMs.p50,
        p99Ms: la.latencyMs.p99 - lb.latencyMs.p99,
        throughputRatio: la.rps / lb.rps,
        ...(mode === "stream" && ta.ttfb && tb.ttfb ? { ttfbMs: ta.ttfb.firstByteMs - tb.ttfb.firstByteMs } : {}),
      });
    }
  }
  return out;
}

const CPU_NOTE = [
  "workerd does not expose CPU time locally: tail events delivered by Miniflare carry `cpuTime: 0` and `wallTime: 0` (checked with a tail consumer on this workerd), and the structured logs carry no timing.",
  "A `performance.now()` around the pipeline inside the Worker would not help either: in Workers the clock is frozen during synchronous execution and only advances on I/O, so it measures neither CPU nor honest wall time.",
  "So the table below is the host's view: utime + stime of the workerd process (from /proc/<pid>/stat, before and after each measured run) divided by the requests completed in that run.",
  "It includes workerd's own HTTP parsing, the subrequest to the mock and, for Verity, the audit Durable Object (same process); the bare Worker pays all of that except the Durable Object, so **verity − bare** is Verity's own CPU cost per request.",
  "Resolution is one clock tick (10 ms) over thousands of requests, i.e. well under 0.01 ms per request.",
].join(" ");

const STANDING_NOTES = [
  "Every process runs on the same 2 cores: autocannon (its own worker thread), the mock backend and dev IdP (the bench's main thread) and the gateway (workerd or Portkey's Node process). A gateway that uses a full core competes with the load generator and the mock; the numbers compare targets on equal terms, they are not production capacity.",
  "Verity commits a decision record to the tenant's audit Durable Object and awaits it before calling the model, then commits a completion record after the reply (waitUntil). All of alice's requests go to the one `acme` log, whose appends are serialised: that single object is on every request's critical path.",
  "The Portkey gateway's Node server is forced onto 127.0.0.1 by a preload (bench/loopback-only.mjs); it otherwise listens on every interface. It runs with NODE_ENV=production and --headless (no log UI).",
  "Portkey's streaming path fails on this Node/@hono/node-server combination: it builds `new Response(stream, upstreamResponse)` and appends headers, and @hono/node-server 1.19's Response reuses the upstream fetch() Headers, which are immutable, so every streamed request is a 500 (`TypeError: immutable`). The bench preloads bench/portkey-fetch-shim.mjs, which gives Portkey upstream replies with mutable headers (same body stream, no copy); it applies to both modes and costs Portkey a little.",
  "Portkey's SSE relay deliberately waits 25 ms before forwarding the first chunk of a stream (a `setTimeout(25)` in its stream reader), which is most of its TTFB.",
  "Miniflare runs with `cf: false` (no download of the request.cf object) and wrangler with WRANGLER_HIDE_BANNER/WRANGLER_SEND_METRICS off, so the whole bench stays on 127.0.0.1.",
];

let shuttingDown = false;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    if (shuttingDown) return;
    shuttingDown = true;
    log(`${signal}: stopping everything`);
    void cleanUp().finally(() => process.exit(130));
  });
}

try {
  await main();
} catch (error) {
  console.error("bench: failed:", error instanceof Error ? error.message : error);
  process.exitCode = 1;
} finally {
  await cleanUp();
}
