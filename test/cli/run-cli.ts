/** Spawns the real CLI (`node_modules/.bin/verity`) the way an operator runs it. */
import { spawn } from "node:child_process";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { RunReport } from "../../cli/lib/policy-runner.ts";

/** What `verity policy test|corpus --json` prints. */
export type PolicyTestReport = RunReport & { seconds: number };

export const REPO = resolve(fileURLToPath(new URL("../..", import.meta.url)));
/** The public vectors live beside the repository, in CI as locally. */
export const CEDAR_VECTORS = resolve(REPO, "..", "shared", "vectors", "cedar");

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function verity(args: readonly string[], options: { input?: string; cwd?: string } = {}): Promise<CliResult> {
  return new Promise((done, fail) => {
    const child = spawn(resolve(REPO, "node_modules", ".bin", "verity"), args, {
      cwd: options.cwd ?? REPO,
      // node_modules/.bin first: it holds the Node 22 the toolchain needs.
      env: { ...process.env, PATH: `${resolve(REPO, "node_modules", ".bin")}:${process.env.PATH ?? ""}` },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    child.on("error", fail);
    child.on("close", (code) => done({ code, stdout, stderr }));
    child.stdin.end(options.input ?? "");
  });
}
