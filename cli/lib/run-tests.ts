/** Shared by `policy test` and `policy corpus`: collect files, sample, run, print, exit code. */
import { readdirSync, statSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { setFlagsFromString } from "node:v8";
import { CATEGORIES, PolicyTestRunner, type RunReport } from "./policy-runner.ts";
import { UsageError } from "./command.ts";

/** Test files under the given files and folders: `*.json`, except entity files. Sorted, so stable. */
export function collectTestFiles(paths: readonly string[]): string[] {
  const out: string[] = [];
  const walk = (path: string): void => {
    let stats;
    try {
      stats = statSync(path);
    } catch {
      throw new UsageError(`no such file or folder: ${path}`);
    }
    if (stats.isDirectory()) {
      for (const name of readdirSync(path).sort()) {
        const child = join(path, name);
        if (statSync(child).isDirectory() || (name.endsWith(".json") && !name.endsWith("entities.json"))) walk(child);
      }
    } else out.push(resolve(path));
  };
  for (const path of paths) walk(path);
  return [...new Set(out)].sort();
}

/** A non-negative integer option. */
export function count(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n)) throw new UsageError(`expected a non-negative integer, got ${JSON.stringify(value)}`);
  return n;
}

/** Every k-th file, k = ⌈files / n⌉, starting with the first: a fixed sample of at most n files. */
export function sample(files: readonly string[], n: number): string[] {
  if (!Number.isInteger(n) || n < 1) throw new UsageError("--sample must be a positive integer");
  if (n >= files.length) return [...files];
  const k = Math.ceil(files.length / n);
  return files.filter((_, i) => i % k === 0);
}

export interface RunResult {
  report: RunReport;
  seconds: number;
}

/**
 * Node 22.23's optimising compiler (TurboFan) crashes the process deterministically on this workload
 * ("Fatal error … unreachable code" in Deoptimizer::DoComputeBuiltinContinuation, after ~1,900 corpus
 * files), so the runner stops at V8's mid tier (Maglev), which is measured to be about as fast here.
 * Set before anything in the run gets hot; V8 reads the flag at each optimisation decision.
 */
function avoidTurbofanCrash(): void {
  setFlagsFromString("--max-opt=2");
}

export function runTests(files: readonly string[], root: string | undefined): RunResult {
  avoidTurbofanCrash();
  const started = performance.now();
  const runner = new PolicyTestRunner(root === undefined ? {} : { root });
  for (const file of files) runner.runFile(file);
  return { report: runner.report, seconds: (performance.now() - started) / 1000 };
}

export interface PrintOptions {
  json: boolean;
  /** Failures and listed exceptions are printed relative to this folder. */
  base: string;
  /** Print every listed exception (default: the first 20). */
  listAll: boolean;
  /** Print at most this many failures in detail (0: all). */
  maxFailures: number;
}

export function printResult({ report, seconds }: RunResult, { json, base, listAll, maxFailures }: PrintOptions): void {
  if (json) {
    process.stdout.write(`${JSON.stringify({ ...report, seconds: Math.round(seconds * 10) / 10 }, null, 2)}\n`);
    return;
  }
  const name = (file: string): string => relative(base, file) || file;
  const out: string[] = [];
  const detailed = maxFailures > 0 ? report.failures.slice(0, maxFailures) : report.failures;
  for (const f of detailed) {
    out.push(`FAIL ${name(f.file)} :: ${f.request} [${f.cause}]`, `  expected: ${f.expected}`, `  actual:   ${f.actual}`);
  }
  if (detailed.length < report.failures.length) {
    out.push(`… ${report.failures.length - detailed.length} more failures (--max-failures 0 or --json shows all)`);
  }
  const exceptions = CATEGORIES.filter((c) => report.exceptions[c] > 0).map((c) => `  ${c}: ${report.exceptions[c]}`);
  const listed = report.listed;
  const shown = listAll ? listed : listed.slice(0, 20);
  out.push(
    `${report.files} files, ${report.requests} requests: ${report.passed} passed, ${report.failed} failed (${seconds.toFixed(1)} s)`,
    exceptions.length > 0 ? "documented differences from Cedar (requests; see `verity policy test --help`):" : "no documented differences used",
    ...exceptions,
  );
  const causes = Object.entries(report.failuresByCause);
  if (causes.length > 0) out.push("failures by cause:", ...causes.map(([cause, n]) => `  ${cause}: ${n}`));
  if (listed.length > 0) {
    out.push("listed exceptions:");
    for (const e of shown) out.push(`  ${e.category} ${name(e.file)} :: ${e.request}${e.detail === undefined ? "" : ` (${e.detail})`}`);
    if (shown.length < listed.length) out.push(`  … ${listed.length - shown.length} more (--list-exceptions shows all)`);
  }
  process.stdout.write(`${out.join("\n")}\n`);
}
