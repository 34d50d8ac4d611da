/**
 * Stopping a child spawned `detached: true` (its own process group) and everything it started:
 * wrangler spawns workerd, and a stray workerd once kept port 8787 after its parent had exited.
 */
import type { ChildProcess } from "node:child_process";

/** Sends `signal` to the child's whole process group. */
export function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

/** SIGTERM, SIGKILL after 3 s if it has not exited, then SIGKILL to whatever of the group is left. */
export async function stopGroup(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) {
    killGroup(child, "SIGKILL");
    return;
  }
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  killGroup(child, "SIGTERM");
  const timer = setTimeout(() => killGroup(child, "SIGKILL"), 3000);
  await exited;
  clearTimeout(timer);
  killGroup(child, "SIGKILL");
}
