/**
 * The audit log's throughput and the audit step's cost per request (issue 8), with the gateway's own
 * sink and `AuditLog` Durable Object in workerd (bench/audit-worker.ts, built as deployed, run under
 * Miniflare's API; SQLite storage on local disk, group commit, coalescing sink).
 *
 *   appends/s   batches of N commits to one tenant log with C in flight (many requests at once),
 *               N / (batch time − empty batch time); also workerd's CPU time per record (/proc)
 *   audit step  batches of sequential commits (one request's write-ahead commit awaited before the
 *               next), (batch time − empty batch time) / N; p50/p90 over the batches
 *   where the time goes   a read-only RPC, a one-record commit, and the disk's fdatasync latency
 *
 *   tsx bench/audit.ts      # writes bench/AUDIT.md and bench/audit.json; part of `npm run bench`
 */
import { closeSync, fdatasyncSync, openSync, rmSync, writeSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { quantile, timedPost, writeBenchReport } from "./batches.ts";
import { buildWorker, readWranglerToml, removeBuild } from "./build.ts";
import { startWorker } from "./workers.ts";

const THROUGHPUT_BATCHES = 10;
const THROUGHPUT_RECORDS = 2000;
/**
 * `requests`: every commit through its own sink, as concurrent requests commit (the pipeline's path);
 * `sink`: one sink's concurrent commits, coalesced; `rpc`: the object's `append`, `batch` records a call.
 */
const MODES: ReadonlyArray<{ via: "requests" | "sink" | "rpc"; inflight: number; batch: number }> = [
  { via: "requests", inflight: 1, batch: 1 },
  { via: "requests", inflight: 16, batch: 1 },
  { via: "requests", inflight: 64, batch: 1 },
  { via: "requests", inflight: 256, batch: 1 },
  { via: "sink", inflight: 256, batch: 1 },
  { via: "rpc", inflight: 1, batch: 256 },
];
const STEP_BATCHES = 60;
const STEP_RECORDS = 100;
const PARTS_BATCHES = 10;
const PARTS_CALLS = 200;
const WARMUP = 3;

interface AuditBench {
  loadAverage: number[];
  throughput: Array<{ via: string; inflight: number; batch: number; recordsPerSecondP50: number; recordsPerSecondMin: number; cpuMsPerRecord: number }>;
  step: { p50Ms: number; p90Ms: number; meanMs: number; cpuMs: number };
  parts: { readRpcMs: number; readRpcCpuMs: number; commitMs: number; commitCpuMs: number; fdatasyncP50Ms: number; fdatasyncP10Ms: number };
  checkpoint: { p50Ms: number };
}

/** p50 wall ms and p50 workerd CPU ms per call of `path` (with n=N), batches minus empty batches. */
async function perCall(url: string, cpu: () => number | undefined, path: (n: number) => string, n: number, batches: number) {
  const walls: number[] = [];
  const cpus: number[] = [];
  for (let batch = 0; batch < WARMUP + batches; batch++) {
    const c0 = cpu() ?? 0;
    const empty = await timedPost(url + path(0));
    const c1 = cpu() ?? 0;
    const full = await timedPost(url + path(n));
    const c2 = cpu() ?? 0;
    if (batch < WARMUP) continue;
    walls.push(Math.max(0, full - empty) / n);
    cpus.push((Math.max(0, c2 - c1 - (c1 - c0)) * 1000) / n);
  }
  walls.sort((a, b) => a - b);
  cpus.sort((a, b) => a - b);
  return { walls, cpuMs: quantile(cpus, 0.5) };
}

/** The latency of one small durable write on the disk Miniflare keeps Durable Object storage on. */
function fdatasyncLatency(): { p50Ms: number; p10Ms: number } {
  const path = join(tmpdir(), `verity-bench-fsync-${process.pid}`);
  const fd = openSync(path, "w");
  const page = Buffer.alloc(4096, 1);
  const times: number[] = [];
  try {
    for (let i = 0; i < 200; i++) {
      writeSync(fd, page, 0, page.length, (i % 64) * page.length);
      const started = performance.now();
      fdatasyncSync(fd);
      times.push(performance.now() - started);
    }
  } finally {
    closeSync(fd);
    rmSync(path, { force: true });
  }
  times.sort((a, b) => a - b);
  return { p50Ms: quantile(times, 0.5), p10Ms: quantile(times, 0.1) };
}

export async function benchAudit(log: (line: string) => void = console.log): Promise<AuditBench> {
  const wrangler = readWranglerToml(join(import.meta.dirname, "audit.wrangler.toml"));
  const build = await buildWorker("audit", "bench/audit.wrangler.toml");
  try {
    const worker = await startWorker({
      label: "audit",
      modules: build.modules,
      compatibilityDate: wrangler.compatibilityDate,
      compatibilityFlags: wrangler.compatibilityFlags,
      bindings: {},
      durableObjects: { AUDIT_LOG: { className: "AuditLog", useSQLite: true }, KEY_RING: { className: "KeyRing", useSQLite: true } },
    });
    try {
      return await measure(worker.url, () => worker.cpuSeconds(), log);
    } finally {
      await worker.dispose();
    }
  } finally {
    removeBuild(build);
  }
}

async function measure(url: string, cpu: () => number | undefined, log: (line: string) => void): Promise<AuditBench> {
  const loadAverage = loadavg();
  const throughput: AuditBench["throughput"] = [];
  for (const { via, inflight, batch } of MODES) {
    const tenant = `bench-${via}-${inflight}-${batch}`;
    const { walls, cpuMs } = await perCall(url, cpu, (n) => `/append?n=${n}&via=${via}&inflight=${inflight}&batch=${batch}&tenant=${tenant}`, THROUGHPUT_RECORDS, THROUGHPUT_BATCHES);
    const rates = walls.map((ms) => 1000 / Math.max(0.0005, ms)).sort((a, b) => a - b);
    const result = { via, inflight, batch, recordsPerSecondP50: quantile(rates, 0.5), recordsPerSecondMin: rates[0]!, cpuMsPerRecord: cpuMs };
    log(`audit appends via ${via}, ${String(inflight).padStart(3)} in flight, ${batch} a call: ${result.recordsPerSecondP50.toFixed(0)} records/s p50 (min ${result.recordsPerSecondMin.toFixed(0)}), workerd CPU ${cpuMs.toFixed(3)} ms/record`);
    throughput.push(result);
  }
  const stepRun = await perCall(url, cpu, (n) => `/append?n=${n}&inflight=1&tenant=step`, STEP_RECORDS, STEP_BATCHES);
  const means = stepRun.walls;
  const step = { p50Ms: quantile(means, 0.5), p90Ms: quantile(means, 0.9), meanMs: means.reduce((a, b) => a + b, 0) / means.length, cpuMs: stepRun.cpuMs };
  log(`audit step (one write-ahead commit): p50 ${step.p50Ms.toFixed(3)} ms  p90 ${step.p90Ms.toFixed(3)} ms  workerd CPU ${step.cpuMs.toFixed(3)} ms`);
  const read = await perCall(url, cpu, (n) => `/rpc?n=${n}&tenant=step`, PARTS_CALLS, PARTS_BATCHES);
  const write = await perCall(url, cpu, (n) => `/append?n=${n}&via=rpc&inflight=1&batch=1&tenant=parts`, PARTS_CALLS, PARTS_BATCHES);
  const disk = fdatasyncLatency();
  const parts = {
    readRpcMs: quantile(read.walls, 0.5),
    readRpcCpuMs: read.cpuMs,
    commitMs: quantile(write.walls, 0.5),
    commitCpuMs: write.cpuMs,
    fdatasyncP50Ms: disk.p50Ms,
    fdatasyncP10Ms: disk.p10Ms,
  };
  log(`read-only RPC ${parts.readRpcMs.toFixed(3)} ms (CPU ${parts.readRpcCpuMs.toFixed(3)}), one-record append RPC ${parts.commitMs.toFixed(3)} ms (CPU ${parts.commitCpuMs.toFixed(3)}), fdatasync p50 ${disk.p50Ms.toFixed(3)} ms (p10 ${disk.p10Ms.toFixed(3)})`);
  const signing: number[] = [];
  for (let i = 0; i < 20; i++) {
    await timedPost(`${url}/append?n=1&tenant=step`);
    signing.push(await timedPost(`${url}/checkpoint?tenant=step`));
  }
  signing.sort((a, b) => a - b);
  const checkpoint = { p50Ms: quantile(signing, 0.5) };
  log(`checkpoint on demand (KeyRing signature round trip, HTTP included): p50 ${checkpoint.p50Ms.toFixed(2)} ms`);
  return { loadAverage, throughput, step, parts, checkpoint };
}

const PATHS: Record<string, string> = { requests: "requests, a sink each (pipeline)", sink: "one sink (one request)", rpc: "append RPC" };

function markdown(result: AuditBench): string {
  const load = result.loadAverage.map((l) => l.toFixed(2)).join(", ");
  const f = (n: number) => n.toFixed(3);
  return [
    "# Audit log: appends per second and the audit step's cost",
    "",
    `Generated by \`tsx bench/audit.ts\` (part of \`npm run bench\`) on ${new Date().toISOString().slice(0, 10)}, load average ${load} at the start.`,
    "The gateway's own `createAuditSink` and `AuditLog` Durable Object (SQLite storage on local disk, group commit,",
    "RFC 6962 tree kept incrementally) in workerd under Miniflare's API, one tenant log per row, decision records",
    "of the pipeline's shape (≈ 1.5 KB canonical JSON with the entity slice). workerd's clock does not advance",
    "while code runs, so every figure is a batch timed from outside minus an empty batch; CPU is workerd's",
    "(/proc), which is less sensitive than wall time to other load on the machine.",
    "Targets (issue 8): ≥ 2,000 records/s per tenant log; the audit step ≤ 0.5 ms p50.",
    "",
    `## Appends to one tenant log (${THROUGHPUT_RECORDS} records a batch, ${THROUGHPUT_BATCHES} batches)`,
    "",
    "| path | commits in flight | records per call | records/s p50 | records/s min | workerd CPU ms/record |",
    "|---|---|---|---|---|---|",
    ...result.throughput.map(
      (t) =>
        `| ${PATHS[t.via] ?? t.via} | ${t.inflight} | ${t.via === "sink" ? "coalesced" : t.batch} | ${t.recordsPerSecondP50.toFixed(0)} | ${t.recordsPerSecondMin.toFixed(0)} | ${f(t.cpuMsPerRecord)} |`,
    ),
    "",
    "Reading: every call that writes ends in one SQLite commit, and a commit is only done when the disk has",
    "flushed it (one fdatasync of the WAL, see below); that flush and workerd's per-commit work, not the RPC",
    "or the hashing, is what one record per call used to pay, and why concurrency did not help: the object's",
    "group commit only merged calls that arrived while a group was being hashed, which (WebCrypto resolving",
    "within the same turn) never happened, so each call was its own transaction and flush. Now the object",
    "waits for each commit's flush (`storage.sync()`) before it takes the next group: calls arriving",
    "meanwhile, from any number of requests, share one transaction and one flush, and each caller's promise",
    "settles only after that flush. Concurrent requests are then bounded by workerd's CPU per call (the",
    "RPC itself, structured clone, canonical JSON, SHA-256 leaf, tree update, SQLite insert). Within one",
    "request the sink also coalesces concurrent commits into one `appendEach` call (each record validated,",
    "refused and receipted on its own), which saves the RPC too (the `one sink` row); it cannot do that",
    "across requests, because workerd runs a promise's continuations in the context of whoever settles it,",
    "and one request may not settle another's I/O.",
    "",
    "The flush barrier alone, A/B in one sitting (load average ≈ 7, same build otherwise, 64 requests in",
    "flight, one record each): 1.64 ms workerd CPU and 5.3 ms wall per record without it, 0.60 ms and 1.4 ms",
    "with it; a sequential commit is unchanged (1.80 vs 1.83 ms CPU).",
    "",
    `## The audit step per request (${STEP_RECORDS} sequential write-ahead commits a batch, ${STEP_BATCHES} batches)`,
    "",
    "| p50 ms | p90 ms | mean ms | workerd CPU ms |",
    "|---|---|---|---|",
    `| ${f(result.step.p50Ms)} | ${f(result.step.p90Ms)} | ${f(result.step.meanMs)} | ${f(result.step.cpuMs)} |`,
    "",
    "## Where one commit's time goes (sequential calls, p50)",
    "",
    "| part | wall ms | workerd CPU ms |",
    "|---|---|---|",
    `| read-only RPC into the object (\`treeHead\`) | ${f(result.parts.readRpcMs)} | ${f(result.parts.readRpcCpuMs)} |`,
    `| one-record \`append\` RPC (commit + flush) | ${f(result.parts.commitMs)} | ${f(result.parts.commitCpuMs)} |`,
    `| fdatasync of a 4 KiB page on the storage disk (Node, p50 / p10) | ${f(result.parts.fdatasyncP50Ms)} / ${f(result.parts.fdatasyncP10Ms)} | — |`,
    "",
    "A one-record commit is a read-only round trip, workerd's own work to commit a write (a bare SQLite-backed",
    "object doing one INSERT per call pays ≈ 0.5–0.6 ms more CPU per call than a read, mostly user time, plus",
    "4 pwrite64, 6 fcntl and 1 fsync per commit under strace), and the wait for that fsync. The object's own",
    "work for one record is small beside them: canonical JSON ≈ 4 µs, WebCrypto SHA-256 of 1.5 KB ≈ 4 µs",
    "(the synchronous worker/lib/sha256-sync.ts takes ≈ 18 µs, so the leaf stays on WebCrypto; its await",
    "resolves in the same turn), a few tree hashes, three inserts. So the sequential audit step is bounded",
    "locally by one RPC plus one commit and its flush, which no change in this code can remove without",
    "giving up the write-ahead guarantee (the receipt means the record survives a crash); concurrency only",
    "shares them. Deployed, the flush is the Durable Object's replicated commit instead, and the step adds",
    "the network hop to the object's location.",
    "",
    `A signed checkpoint on demand (AuditLog → KeyRing RPC, Ed25519, HTTP round trip included): ${result.checkpoint.p50Ms.toFixed(2)} ms p50.`,
    "",
  ].join("\n");
}

if (import.meta.url === `file://${process.argv[1]}`) {
  writeBenchReport("audit", await benchAudit(), markdown);
}
