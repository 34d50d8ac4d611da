/**
 * The bare commit probe (issue 8): what a durable write costs in workerd before any of the audit
 * log's code runs. A SQLite-backed Durable Object with no logic of ours (bench/audit-probe-worker.ts)
 * is called one call after another, kind by kind, with its storage on the disk Miniflare uses
 * (os.tmpdir(), ext4 here) and, interleaved in the same sitting, on tmpfs (/dev/shm: fsync costs
 * nothing there, so it is NOT durable across a machine crash and only shows what the flush costs).
 * Per call: wall ms (batch minus empty batch, p50 over batches) and workerd CPU ms (/proc, p50).
 *
 *   tsx bench/audit-probe.ts                   # prints the table (bench/audit.ts puts it in AUDIT.md)
 *   tsx bench/audit-probe.ts --perf insert,audit-append 4000   # profiles 4000 calls of each kind in
 *                                 # workerd (Linux `perf`, user space) and splits its CPU per call by part
 *   PROBE_KINDS=audit-append,audit-sink tsx bench/audit-probe.ts --against /tmp/base   # A/B, see `against`
 *
 * CPU is summed from /proc/<pid>/task/<tid>/schedstat (nanoseconds; /proc/<pid>/stat counts 10 ms ticks).
 */
import { execFileSync, spawn } from "node:child_process";
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { quantile, timedPost } from "./batches.ts";
import { buildWorker, readWranglerToml, removeBuild } from "./build.ts";
import { type RunningWorker, startWorker } from "./workers.ts";

/** The kinds the probe Worker runs, in table order, and what each shows. */
export const PROBE_KINDS: ReadonlyArray<{ kind: string; what: string }> = [
  { kind: "ping", what: "RPC, no argument, no storage" },
  { kind: "select", what: "RPC + one SELECT (read-only, like `treeHead`)" },
  { kind: "clone-string", what: "RPC + the record as a 1.5 KB string, nothing stored" },
  { kind: "clone-object", what: "RPC + the record as an object (structured clone), nothing stored" },
  { kind: "insert", what: "one INSERT, durable through the output gate" },
  { kind: "insert-sync", what: "one INSERT + `await storage.sync()`" },
  { kind: "insert-object", what: "record as an object, `JSON.stringify`, one INSERT" },
  { kind: "put", what: "one `storage.put` (KV API on SQLite)" },
  { kind: "insert-alarm", what: "one INSERT + `getAlarm()`" },
  { kind: "insert-4", what: "SELECT + 3 INSERT + UPDATE in one `transactionSync`" },
  { kind: "insert-16", what: "16 INSERTs in one call (per record)" },
  { kind: "audit-append", what: "the gateway's `AuditLog.append([record])`" },
  { kind: "audit-sink", what: "the pipeline's path: a new sink's `commit(record)`" },
];

const CALLS = 200;
const BATCHES = 12;
const WARMUP = 2;

export interface ProbeRow {
  kind: string;
  what: string;
  disk: { wallMs: number; cpuMs: number };
  tmpfs: { wallMs: number; cpuMs: number };
}

export interface ProbeResult {
  loadAverage: number[];
  rows: ProbeRow[];
}

interface Probe {
  worker: RunningWorker;
  walls: Map<string, number[]>;
  cpus: Map<string, number[]>;
}

/** Starts the probe Worker with Miniflare's storage under `tmp` (it keeps Durable Objects in os.tmpdir()). */
async function startProbe(modules: Awaited<ReturnType<typeof buildWorker>>["modules"], tmp: string | undefined): Promise<RunningWorker> {
  const wrangler = readWranglerToml(join(import.meta.dirname, "audit-probe.wrangler.toml"));
  const saved = process.env.TMPDIR;
  if (tmp !== undefined) process.env.TMPDIR = tmp;
  try {
    return await startWorker({
      label: "audit-probe",
      modules,
      compatibilityDate: wrangler.compatibilityDate,
      compatibilityFlags: wrangler.compatibilityFlags,
      bindings: {},
      durableObjects: {
        PROBE: { className: "Probe", useSQLite: true },
        AUDIT_LOG: { className: "AuditLog", useSQLite: true },
        KEY_RING: { className: "KeyRing", useSQLite: true },
      },
    });
  } finally {
    if (saved === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = saved;
  }
}

/** CPU seconds of every thread of `pid` so far, to the nanosecond. */
export function threadCpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return 0;
  let ns = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]);
    } catch {
      // the thread ended meanwhile
    }
  }
  return ns / 1e9;
}

/** One batch of `kind` against `probe`: wall and workerd CPU per call, net of an empty batch. */
async function batch(probe: Probe, kind: string, keep: boolean): Promise<void> {
  const { worker } = probe;
  const route = (n: number) => `${worker.url}/run?kind=${kind}&n=${n}&tenant=${kind}`;
  const c0 = threadCpuSeconds(worker.workerdPid);
  const empty = await timedPost(route(0));
  const c1 = threadCpuSeconds(worker.workerdPid);
  const full = await timedPost(route(CALLS));
  const c2 = threadCpuSeconds(worker.workerdPid);
  if (!keep) return;
  const push = (map: Map<string, number[]>, value: number) => map.set(kind, [...(map.get(kind) ?? []), value]);
  push(probe.walls, Math.max(0, full - empty) / CALLS);
  push(probe.cpus, (Math.max(0, c2 - c1 - (c1 - c0)) * 1000) / CALLS);
}

const p50 = (values: number[] | undefined) => quantile([...(values ?? [0])].sort((a, b) => a - b), 0.5);

/** The kinds PROBE_KINDS=a,b names (quick A/B runs while changing the log's code), or all of them. */
function selectedKinds() {
  const only = process.env.PROBE_KINDS?.split(",");
  return PROBE_KINDS.filter(({ kind }) => only === undefined || only.includes(kind));
}

/** Every kind on both probes, interleaved round by round, so load drifts hit all rows alike; p50 per kind. */
async function interleave(pair: [Probe, Probe], kinds: ReadonlyArray<{ kind: string; what: string }>): Promise<ProbeRow[]> {
  for (let round = 0; round < WARMUP + BATCHES; round++) {
    for (const { kind } of kinds) {
      for (const probe of pair) await batch(probe, kind, round >= WARMUP);
    }
  }
  const [disk, tmpfs] = pair;
  return kinds.map(({ kind, what }) => ({
    kind,
    what,
    disk: { wallMs: p50(disk.walls.get(kind)), cpuMs: p50(disk.cpus.get(kind)) },
    tmpfs: { wallMs: p50(tmpfs.walls.get(kind)), cpuMs: p50(tmpfs.cpus.get(kind)) },
  }));
}

const probeOf = (worker: RunningWorker): Probe => ({ worker, walls: new Map(), cpus: new Map() });

export async function probeCommits(log: (line: string) => void = console.log): Promise<ProbeResult> {
  const build = await buildWorker("audit-probe", "bench/audit-probe.wrangler.toml");
  const probes: Probe[] = [];
  try {
    for (const tmp of [undefined, "/dev/shm"]) probes.push(probeOf(await startProbe(build.modules, tmp)));
    const loadAverage = loadavg();
    const rows = await interleave(probes as [Probe, Probe], selectedKinds());
    for (const row of rows) {
      log(
        `probe ${row.kind.padEnd(14)} disk ${row.disk.wallMs.toFixed(3)} ms (CPU ${row.disk.cpuMs.toFixed(3)})  tmpfs ${row.tmpfs.wallMs.toFixed(3)} ms (CPU ${row.tmpfs.cpuMs.toFixed(3)})`,
      );
    }
    return { loadAverage, rows };
  } finally {
    for (const probe of probes) await probe.worker.dispose();
    removeBuild(build);
  }
}

/**
 * `--against DIR`: this checkout's probe Worker against the one in DIR (another checkout of the
 * repository, e.g. `git archive HEAD | tar -x -C DIR` with node_modules linked), both on disk,
 * interleaved in one sitting: an A/B of the audit log's code under the same load.
 */
async function against(baseDir: string): Promise<void> {
  const builds = [
    await buildWorker("audit-probe", "bench/audit-probe.wrangler.toml"),
    await buildWorker("audit-probe-base", join(baseDir, "bench/audit-probe.wrangler.toml")),
  ];
  const probes: Probe[] = [];
  try {
    for (const build of builds) probes.push(probeOf(await startProbe(build.modules, undefined)));
    const load = loadavg().map((l) => l.toFixed(2)).join(", ");
    const rows = await interleave(probes as [Probe, Probe], selectedKinds());
    console.log(`this checkout against ${baseDir}, both on disk, load ${load} → ${loadavg().map((l) => l.toFixed(2)).join(", ")}`);
    for (const row of rows) {
      console.log(`${row.kind.padEnd(14)} this ${row.disk.wallMs.toFixed(3)} ms (CPU ${row.disk.cpuMs.toFixed(3)})  base ${row.tmpfs.wallMs.toFixed(3)} ms (CPU ${row.tmpfs.cpuMs.toFixed(3)})`);
    }
  } finally {
    for (const probe of probes) await probe.worker.dispose();
    for (const build of builds) removeBuild(build);
  }
}

/** The probe's Markdown table. */
export function probeTable(result: ProbeResult): string[] {
  const f = (n: number) => n.toFixed(3);
  return [
    "| call (one RPC each, sequential) | disk: wall ms | disk: workerd CPU ms | tmpfs*: wall ms | tmpfs*: workerd CPU ms |",
    "|---|---|---|---|---|",
    ...result.rows.map((r) => `| \`${r.kind}\`: ${r.what} | ${f(r.disk.wallMs)} | ${f(r.disk.cpuMs)} | ${f(r.tmpfs.wallMs)} | ${f(r.tmpfs.cpuMs)} |`),
  ];
}

/**
 * Where workerd's user-space CPU goes, by the innermost frame of each sample that names a part
 * (checked in this order per frame, leaf first); kernel time (the syscalls: fsync, pwrite, sockets)
 * is not sampled at perf_event_paranoid 2 and is reported from /proc's system time instead.
 */
const PARTS: ReadonlyArray<{ part: string; frame: RegExp }> = [
  { part: "SQLite engine (statement, B-tree, pager, WAL, commit)", frame: /^(sqlite3|pager|wal[A-Z]|unix[A-Z]|vdbe|btree|balance|insertCell|fillInCell|moveTo|getAndInit|accessPayload|pcache|syncJournal)/ },
  { part: "workerd storage layer (SqliteDatabase, ActorSqlite, output gate)", frame: /SqliteDatabase|ActorSqlite|SqliteKv|ActorCache|OutputGate|SqlStorage|DurableObjectStorage|SqliteMetadata/ },
  { part: "RPC argument/result (de)serialization", frame: /serializeJsValue|deserializeJsValue|ValueSerializer|ValueDeserializer|jsg::Serializer|jsg::Deserializer/ },
  { part: "JSON.stringify / JSON.parse", frame: /JsonStringif|JsonParse/ },
  { part: "WebCrypto SHA-256", frame: /SHA256|sha256_block|SubtleCrypto|DigestContext|EVP_Digest/ },
  { part: "V8 garbage collection", frame: /v8::internal::Heap::|Scavenge|MarkCompact|cppgc::|MinorGC|ConcurrentMarking|GCTracer/ },
  { part: "HTTP (the bench's request into the Worker)", frame: /kj::(\(anonymous namespace\)::)?Http|HttpServer|HttpService|HttpClient/ },
  { part: "workerd RPC/request plumbing (stubs, IoContext, capnp, promises)", frame: /JsRpc|callImpl|IoContext|Fetcher|ActorCall|OutgoingFactory|capnp::/ },
  { part: "JavaScript (our code, builtins, interpreter)", frame: /^Builtins_|^v8::internal::Runtime_|Interpreter/ },
];

interface ProcTimes {
  userS: number;
  systemS: number;
}

function procTimes(pid: number): ProcTimes {
  const text = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  const tick = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  // proc(5): utime and stime are fields 14 and 15, 11 and 12 after the state.
  return { userS: Number(fields[11]) / tick, systemS: Number(fields[12]) / tick };
}

export interface ProfiledKind {
  kind: string;
  /** workerd CPU per call: all threads (schedstat), and user / system from /proc's ticks. */
  cpuMs: number;
  userMs: number;
  systemMs: number;
  /** User-space CPU per call by part (perf samples). */
  parts: Record<string, number>;
}

/** Whether Linux `perf` can be run here. */
export function perfAvailable(): boolean {
  try {
    execFileSync("perf", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** Splits perf's samples (`perf script -F period,ip,sym`) into PARTS by each sample's innermost named frame. */
function samplesByPart(script: string): Map<string, number> {
  const byPart = new Map<string, number>();
  for (const sample of script.split(/\n\s*\n/)) {
    const lines = sample.trim().split("\n");
    const period = Number(lines[0]?.trim());
    if (!Number.isFinite(period) || period <= 0) continue;
    const frames = lines.slice(1).map((l) => l.trim().replace(/^[0-9a-f]+\s+/, ""));
    const part = frames.map((frame) => PARTS.find((candidate) => candidate.frame.test(frame))).find((found) => found !== undefined)?.part ?? OTHER;
    byPart.set(part, (byPart.get(part) ?? 0) + period);
  }
  return byPart;
}

const OTHER = "other (kj event loop, jsg glue, allocator)";

/** Runs `calls` calls of each kind under `perf record` (one Worker, one kind after another) and splits workerd's CPU per call. */
export async function profileKinds(kinds: readonly string[], calls: number): Promise<ProfiledKind[]> {
  const build = await buildWorker("audit-probe", "bench/audit-probe.wrangler.toml");
  const worker = await startProbe(build.modules, process.env.PROBE_TMPDIR);
  const data = join(tmpdir(), `verity-probe-${process.pid}.perf`);
  const results: ProfiledKind[] = [];
  try {
    const pid = worker.workerdPid;
    if (pid === undefined) throw new Error("workerd's pid is unknown");
    for (const kind of kinds) {
      const run = () => timedPost(`${worker.url}/run?kind=${kind}&n=${CALLS}&tenant=perf-${kind}`);
      for (let i = 0; i < 5; i++) await run();
      const perf = spawn("perf", ["record", "-q", "-e", "cpu-clock:u", "-g", "-p", String(pid), "-o", data], { stdio: "ignore" });
      await new Promise((r) => setTimeout(r, 1000));
      const before = procTimes(pid);
      const cpu0 = threadCpuSeconds(pid);
      for (let done = 0; done < calls; done += CALLS) await run();
      const cpu = threadCpuSeconds(pid) - cpu0;
      const after = procTimes(pid);
      const exited = new Promise((r) => perf.once("exit", r));
      perf.kill("SIGINT");
      await exited;
      const script = execFileSync("perf", ["script", "-i", data, "-F", "period,ip,sym"], { encoding: "utf8", maxBuffer: 1 << 30 });
      const perCall = (s: number) => (s * 1000) / calls;
      const parts: Record<string, number> = {};
      for (const [part, ns] of samplesByPart(script)) parts[part] = perCall(ns / 1e9);
      results.push({ kind, cpuMs: perCall(cpu), userMs: perCall(after.userS - before.userS), systemMs: perCall(after.systemS - before.systemS), parts });
    }
    return results;
  } finally {
    // PROBE_KEEP=1 keeps the last recording for `perf report -i`.
    if (process.env.PROBE_KEEP) console.log(`perf data: ${data}`);
    else rmSync(data, { force: true });
    await worker.dispose();
    removeBuild(build);
  }
}

/** The profile's Markdown table: one column per kind, parts in PARTS order. */
export function profileTable(results: readonly ProfiledKind[]): string[] {
  const f = (n: number | undefined) => (n ?? 0).toFixed(3);
  const names = [...PARTS.map((p) => p.part), OTHER];
  return [
    `| workerd CPU ms per call | ${results.map((r) => `\`${r.kind}\``).join(" | ")} |`,
    `|---|${results.map(() => "---").join("|")}|`,
    `| **total (all threads)** | ${results.map((r) => `**${f(r.cpuMs)}**`).join(" | ")} |`,
    `| system time (syscalls: pwrite, fsync, sockets; /proc ticks) | ${results.map((r) => f(r.systemMs)).join(" | ")} |`,
    `| user time (/proc ticks), split below by perf samples | ${results.map((r) => f(r.userMs)).join(" | ")} |`,
    ...names.map((name) => `| — ${name} | ${results.map((r) => f(r.parts[name])).join(" | ")} |`),
  ];
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const at = process.argv.indexOf("--perf");
  const base = process.argv.indexOf("--against");
  if (base > 0) await against(process.argv[base + 1] ?? "");
  else if (at > 0) console.log(profileTable(await profileKinds((process.argv[at + 1] ?? "insert").split(","), Number(process.argv[at + 2] ?? "4000"))).join("\n"));
  else console.log(probeTable(await probeCommits()).join("\n"));
}
