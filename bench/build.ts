/**
 * Builds a Worker the way it would be deployed (`wrangler deploy --dry-run --outdir`) into a fresh
 * temporary directory, and measures the output: raw and gzip bytes of every module wrangler wrote.
 * Nothing is read from or left in .wrangler/ state that a fresh clone would not have.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

export const ROOT = join(import.meta.dirname, "..");
const WRANGLER = join(ROOT, "node_modules", "wrangler", "bin", "wrangler.js");

export interface BundleFile {
  name: string;
  rawBytes: number;
  gzipBytes: number;
}

export interface Build {
  outDir: string;
  /** The modules wrangler wrote, entry first (`index.js` or named after `main`, then `.wasm`). */
  modules: Array<{ type: "ESModule" | "CompiledWasm"; path: string }>;
  files: BundleFile[];
  rawBytes: number;
  gzipBytes: number;
  buildMs: number;
}

/** Offline and quiet: no metrics, no update check against the npm registry, no banner. */
const WRANGLER_ENV = { WRANGLER_SEND_METRICS: "false", WRANGLER_HIDE_BANNER: "true", CI: "true", NO_COLOR: "1" };

function runWrangler(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WRANGLER, ...args], { cwd: ROOT, env: { ...process.env, ...WRANGLER_ENV }, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr.on("data", (d: Buffer) => (output += d.toString()));
    child.once("error", reject);
    child.once("exit", (code) => (code === 0 ? resolve() : reject(new Error(`wrangler ${args.join(" ")} failed (${code}):\n${output}`))));
  });
}

/** `configPath`: a wrangler config, relative to the repository root (undefined: ./wrangler.toml). */
export async function buildWorker(label: string, configPath?: string): Promise<Build> {
  const outDir = mkdtempSync(join(tmpdir(), `verity-bench-${label}-`));
  const started = performance.now();
  await runWrangler(["deploy", "--dry-run", "--outdir", outDir, ...(configPath ? ["--config", configPath] : [])]);
  const buildMs = performance.now() - started;
  // Modules only: source maps and wrangler's README are not uploaded as code.
  const names = readdirSync(outDir).filter((n) => /\.(m?js|wasm)$/.test(n) && statSync(join(outDir, n)).isFile());
  const files = names.map((name) => {
    const bytes = readFileSync(join(outDir, name));
    return { name, rawBytes: bytes.length, gzipBytes: gzipSync(bytes, { level: 9 }).length };
  });
  const entry = names.find((n) => /\.m?js$/.test(n));
  if (!entry) throw new Error(`wrangler wrote no JavaScript module to ${outDir}`);
  if (names.filter((n) => /\.m?js$/.test(n)).length > 1) throw new Error(`wrangler wrote several JavaScript modules to ${outDir}; expected one bundle`);
  return {
    outDir,
    modules: [
      { type: "ESModule" as const, path: join(outDir, entry) },
      ...names.filter((n) => n.endsWith(".wasm")).map((n) => ({ type: "CompiledWasm" as const, path: join(outDir, n) })),
    ],
    files,
    rawBytes: files.reduce((s, f) => s + f.rawBytes, 0),
    gzipBytes: files.reduce((s, f) => s + f.gzipBytes, 0),
    buildMs,
  };
}

export function removeBuild(build: Build | undefined): void {
  if (build) rmSync(build.outDir, { recursive: true, force: true });
}

export interface WranglerSettings {
  compatibilityDate: string;
  compatibilityFlags: string[];
  vars: Record<string, string>;
}

/**
 * The few top-level settings of wrangler.toml the bench needs (compatibility date and flags, string
 * [vars]). A deliberately small reader: it refuses what it does not understand rather than guessing.
 */
export function readWranglerToml(path = join(ROOT, "wrangler.toml")): WranglerSettings {
  const text = readFileSync(path, "utf8");
  let section = "";
  let compatibilityDate: string | undefined;
  let compatibilityFlags: string[] = [];
  const vars: Record<string, string> = {};
  for (const rawLine of text.split("\n")) {
    const line = rawLine.replace(/\s+#.*$/, "").trim();
    if (line === "" || line.startsWith("#")) continue;
    const header = /^\[\[?([^\]]+)\]\]?$/.exec(line);
    if (header) {
      section = header[1]!.trim();
      continue;
    }
    const kv = /^([A-Za-z0-9_]+)\s*=\s*(.+)$/.exec(line);
    if (!kv) continue;
    const [, key, value] = kv as unknown as [string, string, string];
    if (section === "" && key === "compatibility_date") compatibilityDate = JSON.parse(value) as string;
    if (section === "" && key === "compatibility_flags") compatibilityFlags = JSON.parse(value) as string[];
    if (section === "vars") {
      const parsed: unknown = JSON.parse(value);
      if (typeof parsed !== "string") throw new Error(`wrangler.toml [vars] ${key}: only string values are supported by the bench`);
      vars[key] = parsed;
    }
  }
  if (!compatibilityDate) throw new Error(`${path} has no compatibility_date`);
  return { compatibilityDate, compatibilityFlags, vars };
}
