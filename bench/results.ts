/** The shape of bench/results.json. */
import type { Settings, TargetName } from "./settings.ts";
import type { BundleFile } from "./build.ts";
import type { LoadResult, TtfbResult } from "./load.ts";

export type Mode = "nonStream" | "stream";

export interface TargetResult {
  load?: Record<Mode, LoadResult>;
  ttfb?: TtfbResult;
  error?: string;
}

export interface StartupResult {
  startupMs: number;
  firstRequestMs: number;
  firstRequestNote?: string;
}

export interface Delta {
  what: string;
  mode: Mode;
  p50Ms: number;
  p99Ms: number;
  throughputRatio: number;
  ttfbMs?: number;
}

export interface BenchResults {
  machine: { nproc: number; cpuModel: string; os: string; node: string; date: string; miniflare: string; autocannon: string; portkey: string };
  settings: Settings;
  bodyBytes: Record<Mode, number>;
  targets: Partial<Record<TargetName, TargetResult>>;
  startup: Partial<Record<Exclude<TargetName, "direct">, StartupResult>>;
  bundle: Partial<Record<"verity" | "bare", { files: BundleFile[]; rawBytes: number; gzipBytes: number; buildMs: number }>>;
  deltas: Delta[];
  cpu: { note: string; verityMinusBareMsPerRequest?: Record<Mode, number> };
  notes: string[];
}
