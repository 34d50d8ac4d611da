/**
 * Runs a built Worker under Miniflare's API (workerd, no `wrangler dev` proxy in front), on
 * 127.0.0.1, in memory (no persistence), and times its start-up: from `new Miniflare` to the first
 * successful `GET /healthz`.
 */
import { dirname } from "node:path";
import { convertV4MiniflareOptions, Miniflare } from "miniflare";
import { childrenNamed, cpuSeconds } from "./proc.ts";
import { freePort } from "./ports.ts";

export interface WorkerSpec {
  label: string;
  /** The entry module first; `.wasm` imports as CompiledWasm. */
  modules: Array<{ type: "ESModule" | "CompiledWasm"; path: string }>;
  compatibilityDate: string;
  compatibilityFlags: string[];
  bindings: Record<string, string>;
  kvNamespaces?: string[];
  durableObjects?: Record<string, { className: string; useSQLite: boolean }>;
  /** Opens workerd's V8 inspector on this 127.0.0.1 port (bench/profile.ts). */
  inspectorPort?: number;
}

export interface RunningWorker {
  url: string;
  mf: Miniflare;
  /** The workerd process Miniflare spawned for this instance, when it could be identified. */
  workerdPid: number | undefined;
  /** `new Miniflare` → first 200 from /healthz. */
  startupMs: number;
  cpuSeconds(): number | undefined;
  dispose(): Promise<void>;
}

const HEALTH_TIMEOUT_MS = 60_000;

export async function startWorker(spec: WorkerSpec): Promise<RunningWorker> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const before = new Set(childrenNamed(process.pid, "workerd"));
  const started = performance.now();
  const mf = new Miniflare(
    convertV4MiniflareOptions({
      host: "127.0.0.1",
      port,
      // No request.cf fetch from workers.cloudflare.com: the bench talks to 127.0.0.1 only.
      cf: false,
      telemetry: { enabled: false },
      logRequests: false,
      ...(spec.inspectorPort ? { inspectorPort: spec.inspectorPort, inspectorHost: "127.0.0.1" } : {}),
      workers: [
        {
          name: spec.label,
          // Every module wrangler wrote, named relative to the build directory (workerd refuses "..").
          modules: spec.modules,
          modulesRoot: dirname(spec.modules[0]!.path),
          compatibilityDate: spec.compatibilityDate,
          compatibilityFlags: spec.compatibilityFlags,
          bindings: spec.bindings,
          ...(spec.kvNamespaces ? { kvNamespaces: spec.kvNamespaces } : {}),
          ...(spec.durableObjects ? { durableObjects: spec.durableObjects } : {}),
        },
      ],
    } as Parameters<typeof convertV4MiniflareOptions>[0]),
  );
  const dispose = async () => {
    await mf.dispose().catch(() => undefined);
  };
  try {
    await waitForHealth(`${url}/healthz`);
  } catch (error) {
    await dispose();
    throw error;
  }
  const startupMs = performance.now() - started;
  const spawned = childrenNamed(process.pid, "workerd").filter((pid) => !before.has(pid));
  const workerdPid = spawned.length === 1 ? spawned[0] : undefined;
  return {
    url,
    mf,
    workerdPid,
    startupMs,
    cpuSeconds: () => (workerdPid === undefined ? undefined : cpuSeconds(workerdPid)),
    dispose,
  };
}

async function waitForHealth(url: string): Promise<void> {
  const deadline = performance.now() + HEALTH_TIMEOUT_MS;
  while (performance.now() < deadline) {
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await response.arrayBuffer();
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`${url} did not answer 200 within ${HEALTH_TIMEOUT_MS} ms`);
}
