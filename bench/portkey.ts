/**
 * The open-source Portkey gateway (@portkey-ai/gateway, its Node build) in a child process group,
 * forced onto 127.0.0.1 by a preload (its server otherwise listens on every interface), headless,
 * with the fetch shim of portkey-fetch-shim.mjs (without it every streamed request fails).
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "./build.ts";
import { cpuSeconds } from "./proc.ts";
import { freePort } from "./ports.ts";
import { stopGroup } from "../dev/lib/process-group.ts";

export const PORTKEY_ENTRY = join(ROOT, "node_modules", "@portkey-ai", "gateway", "build", "start-server.js");
const LOOPBACK_PRELOAD = join(import.meta.dirname, "loopback-only.mjs");
const FETCH_SHIM_PRELOAD = join(import.meta.dirname, "portkey-fetch-shim.mjs");

export interface RunningPortkey {
  url: string;
  pid: number;
  startupMs: number;
  cpuSeconds(): number | undefined;
  stop(): Promise<void>;
}

export async function startPortkey(): Promise<RunningPortkey> {
  if (!existsSync(PORTKEY_ENTRY)) throw new Error(`${PORTKEY_ENTRY} is missing: is @portkey-ai/gateway installed (npm ci)?`);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const started = performance.now();
  const child = spawn(process.execPath, ["--import", LOOPBACK_PRELOAD, "--import", FETCH_SHIM_PRELOAD, PORTKEY_ENTRY, `--port=${port}`, "--headless"], {
    cwd: ROOT,
    env: { ...process.env, NODE_ENV: "production" },
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let log = "";
  const keep = (d: Buffer) => (log = (log + d.toString()).slice(-10_000));
  child.stdout!.on("data", keep);
  child.stderr!.on("data", keep);
  const stop = () => stopGroup(child);
  const deadline = performance.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`Portkey exited early (code ${child.exitCode}):\n${log}`);
    try {
      // Portkey answers GET / with a plain-text banner.
      const response = await fetch(`${url}/`, { signal: AbortSignal.timeout(1000) });
      await response.arrayBuffer();
      if (response.status < 500) break;
    } catch {
      // not up yet
    }
    if (performance.now() > deadline) {
      await stop();
      throw new Error(`Portkey did not answer at ${url} within 30 s:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  const startupMs = performance.now() - started;
  child.stdout!.off("data", keep);
  child.stderr!.off("data", keep);
  child.stdout!.resume();
  child.stderr!.resume();
  return { url, pid: child.pid!, startupMs, cpuSeconds: () => cpuSeconds(child.pid!), stop };
}
