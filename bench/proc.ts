/** Host-side CPU accounting from /proc (Linux): utime + stime of a process, in seconds. */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

let ticksPerSecond: number | undefined;

function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

interface ProcStat {
  pid: number;
  comm: string;
  ppid: number;
  /** utime + stime, seconds. */
  cpuS: number;
}

function readStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  // comm may contain spaces and parentheses: it runs from the first "(" to the last ")".
  const open = text.indexOf("(");
  const close = text.lastIndexOf(")");
  const rest = text.slice(close + 2).split(" ");
  // Fields after comm, 0-based: 0 state, 1 ppid, …, 11 utime, 12 stime (proc(5) fields 3, 4, 14, 15).
  return {
    pid,
    comm: text.slice(open + 1, close),
    ppid: Number(rest[1]),
    cpuS: (Number(rest[11]) + Number(rest[12])) / clockTicks(),
  };
}

export function cpuSeconds(pid: number): number | undefined {
  return readStat(pid)?.cpuS;
}

/** Direct children of `parent` whose command name starts with `comm`. */
export function childrenNamed(parent: number, comm: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(Number(entry));
    if (stat && stat.ppid === parent && stat.comm.startsWith(comm)) found.push(stat.pid);
  }
  return found;
}

export function procAvailable(): boolean {
  return readStat(process.pid) !== undefined;
}
