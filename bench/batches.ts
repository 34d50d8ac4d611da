/**
 * What the per-plane benchmarks (identity, workload, bundle, audit) share: a bench Worker built as
 * deployed from `bench/<name>.wrangler.toml` and run under Miniflare's API, and the batch method —
 * workerd's clock stands still while code runs, so a batch of `n` calls is timed from outside, minus an
 * empty batch timed right before it, and divided by `n`.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { buildWorker, readWranglerToml, removeBuild } from "./build.ts";
import { startWorker, type WorkerSpec } from "./workers.ts";

const BENCH_DIR = import.meta.dirname;

export const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;

/** POSTs to a bench Worker route, which answers 204; the wall time in ms. */
export async function timedPost(url: string, body?: string): Promise<number> {
  const started = performance.now();
  const response = await fetch(url, { method: "POST", body });
  await response.arrayBuffer();
  if (response.status !== 204) throw new Error(`${url} answered ${response.status}`);
  return performance.now() - started;
}

export interface CallCost {
  p50Ms: number;
  p90Ms: number;
  meanMs: number;
}

/** The cost of one call of `kind` (`POST <url>/run?kind=&n=`), p50/p90/mean over batches of `perBatch`. */
export async function callCost(url: string, kind: string, perBatch: number, batches: number, warmupBatches: number): Promise<CallCost> {
  const means: number[] = [];
  for (let batch = 0; batch < warmupBatches + batches; batch++) {
    const empty = await timedPost(`${url}/run?kind=${kind}&n=0`);
    const full = await timedPost(`${url}/run?kind=${kind}&n=${perBatch}`);
    if (batch >= warmupBatches) means.push(Math.max(0, full - empty) / perBatch);
  }
  means.sort((a, b) => a - b);
  return { p50Ms: quantile(means, 0.5), p90Ms: quantile(means, 0.9), meanMs: means.reduce((a, b) => a + b, 0) / means.length };
}

/** A case a bench Worker runs (`/run?kind=`), what it measures, and its batch size when not the driver's. */
export interface BenchCase {
  kind: string;
  what: string;
  perBatch?: number;
}

export interface CaseCost extends CallCost {
  kind: string;
  what: string;
}

export interface Batching {
  perBatch: number;
  batches: number;
  warmupBatches: number;
  /** Decimals in the log line and the table. */
  digits: number;
}

/** Measures each case in turn (`callCost`), logging one line per case. */
export async function measureCases(label: string, url: string, cases: readonly BenchCase[], batching: Batching, log: (line: string) => void): Promise<CaseCost[]> {
  const results: CaseCost[] = [];
  for (const { kind, what, perBatch } of cases) {
    const result = { kind, what, ...(await callCost(url, kind, perBatch ?? batching.perBatch, batching.batches, batching.warmupBatches)) };
    log(`${label} ${kind.padEnd(16)} p50 ${result.p50Ms.toFixed(batching.digits)} ms  p90 ${result.p90Ms.toFixed(batching.digits)} ms`);
    results.push(result);
  }
  return results;
}

/** The Markdown table of measured cases; `what` names the second column. */
export function caseTable(results: readonly CaseCost[], what: string, digits: number): string[] {
  return [
    `| case | ${what} | p50 ms | p90 ms | mean ms |`,
    "|---|---|---|---|---|",
    ...results.map((r) => `| ${r.kind} | ${r.what} | ${r.p50Ms.toFixed(digits)} | ${r.p90Ms.toFixed(digits)} | ${r.meanMs.toFixed(digits)} |`),
  ];
}

/** Builds `bench/<name>.wrangler.toml`'s Worker, runs `measure` against it, and always tears it down. */
export async function withBenchWorker<T>(
  name: string,
  durableObjects: WorkerSpec["durableObjects"] | undefined,
  measure: (url: string) => Promise<T>,
): Promise<T> {
  const wrangler = readWranglerToml(join(BENCH_DIR, `${name}.wrangler.toml`));
  const build = await buildWorker(name, `bench/${name}.wrangler.toml`);
  try {
    const worker = await startWorker({
      label: name,
      modules: build.modules,
      compatibilityDate: wrangler.compatibilityDate,
      compatibilityFlags: wrangler.compatibilityFlags,
      bindings: {},
      ...(durableObjects ? { durableObjects } : {}),
    });
    try {
      return await measure(worker.url);
    } finally {
      await worker.dispose();
    }
  } finally {
    removeBuild(build);
  }
}

/** Writes `bench/<name>.json` and `bench/<NAME>.md`. */
export function writeBenchReport<T>(name: string, result: T, markdown: (result: T) => string): void {
  writeFileSync(join(BENCH_DIR, `${name}.json`), `${JSON.stringify(result, null, 2)}\n`);
  writeFileSync(join(BENCH_DIR, `${name.toUpperCase()}.md`), markdown(result));
  console.log(`wrote bench/${name.toUpperCase()}.md and bench/${name}.json`);
}
