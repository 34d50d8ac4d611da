/**
 * Benchmark settings, read once from the environment. Every load loop is bounded by these numbers.
 *
 *   BENCH_QUICK=1            smoke run: 3 s per measurement, 1 s warm-up, 5 TTFB samples
 *   BENCH_DURATION_S         seconds per measured load run (default 10)
 *   BENCH_WARMUP_S           seconds of discarded load before each target's measurements (default 3)
 *   BENCH_CONNECTIONS        concurrent connections (default 50)
 *   BENCH_TTFB_SAMPLES       sequential streamed requests for time to first byte (default 15)
 *   BENCH_PROMPT_BYTES       size of the user message (default 2048)
 *   BENCH_CLIENT_THREAD=0    run autocannon on the main thread instead of its own worker thread
 *   BENCH_TARGETS            comma list, a subset of direct,bare,verity,portkey (default all)
 */
export type TargetName = "direct" | "bare" | "verity" | "portkey";
export const ALL_TARGETS: readonly TargetName[] = ["direct", "bare", "verity", "portkey"];

export interface Settings {
  quick: boolean;
  durationS: number;
  warmupS: number;
  connections: number;
  ttfbSamples: number;
  promptBytes: number;
  clientThread: boolean;
  targets: TargetName[];
}

function intFromEnv(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new TypeError(`${name} must be an integer in ${min}..${max}, got "${raw}"`);
  }
  return value;
}

function targetsFromEnv(): TargetName[] {
  const raw = process.env.BENCH_TARGETS;
  if (!raw) return [...ALL_TARGETS];
  const names = raw.split(",").map((s) => s.trim()).filter(Boolean);
  for (const name of names) {
    if (!ALL_TARGETS.includes(name as TargetName)) throw new TypeError(`BENCH_TARGETS: unknown target "${name}"; known: ${ALL_TARGETS.join(", ")}`);
  }
  return ALL_TARGETS.filter((t) => names.includes(t));
}

export function readSettings(): Settings {
  const quick = process.env.BENCH_QUICK === "1";
  return {
    quick,
    // Upper bounds keep a typo from turning into an hour-long loop.
    durationS: intFromEnv("BENCH_DURATION_S", quick ? 3 : 10, 1, 300),
    warmupS: intFromEnv("BENCH_WARMUP_S", quick ? 1 : 3, 0, 60),
    connections: intFromEnv("BENCH_CONNECTIONS", 50, 1, 1000),
    ttfbSamples: intFromEnv("BENCH_TTFB_SAMPLES", quick ? 5 : 15, 1, 200),
    promptBytes: intFromEnv("BENCH_PROMPT_BYTES", 2048, 16, 512 * 1024),
    clientThread: process.env.BENCH_CLIENT_THREAD !== "0",
    targets: targetsFromEnv(),
  };
}
