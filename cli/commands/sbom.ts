/**
 * `verity sbom` (`npm run sbom`): a CycloneDX SBOM of the Worker's dependencies, from the lockfile.
 * npm writes the SBOM (`npm sbom --sbom-format cyclonedx`); its own `--omit dev` filter is not used,
 * because it also drops production packages that a dev dependency shares (npm/cli#7909: here hono,
 * jose and others, which dev tools also depend on). Instead the components are limited to what the
 * root package's `dependencies` reach through package-lock.json, resolved the way Node resolves them.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import type { Command } from "../lib/command.ts";
import { REPO_ROOT } from "../lib/paths.ts";

const usage = `usage: verity sbom [--out <file>]

Writes a CycloneDX (JSON) SBOM of the Worker's runtime dependencies: the packages the root
package.json "dependencies" reach in package-lock.json (dev tooling and the CLI workspace excluded).

  --out <file>   default: dist/sbom.cdx.json`;

interface LockPackage {
  version?: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
}

/** `name@version` of every package the root's runtime dependencies reach, by Node's lookup. */
export function runtimeClosure(lock: { packages: Record<string, LockPackage> }): Set<string> {
  const packages = lock.packages;
  const found = new Set<string>();
  const seen = new Set<string>();
  const locate = (name: string, from: string): string | undefined => {
    // Node looks in <from>/node_modules, then each ancestor's node_modules, up to the root.
    for (let at = from; ; at = at.includes("/node_modules/") ? at.slice(0, at.lastIndexOf("/node_modules/")) : "") {
      const path = at === "" ? `node_modules/${name}` : `${at}/node_modules/${name}`;
      if (packages[path]) return path;
      if (at === "") return undefined;
    }
  };
  const visit = (path: string) => {
    if (seen.has(path)) return;
    seen.add(path);
    const entry = packages[path]!;
    if (path !== "") found.add(`${path.slice(path.lastIndexOf("node_modules/") + "node_modules/".length)}@${entry.version}`);
    const peers = Object.keys(entry.peerDependencies ?? {}).filter((n) => !entry.peerDependenciesMeta?.[n]?.optional);
    for (const name of [...Object.keys(entry.dependencies ?? {}), ...Object.keys(entry.optionalDependencies ?? {}), ...peers]) {
      const target = locate(name, path);
      if (target !== undefined) visit(target);
    }
  };
  visit("");
  return found;
}

interface CycloneDx {
  components?: Array<{ "bom-ref"?: string; name: string; version?: string }>;
  dependencies?: Array<{ ref: string; dependsOn?: string[] }>;
  metadata?: { component?: { "bom-ref"?: string } };
}

export const sbom: Command = {
  name: "sbom",
  summary: "writes a CycloneDX SBOM of the Worker's runtime dependencies (dist/sbom.cdx.json)",
  usage,
  async run(argv) {
    const { values } = parseArgs({ args: argv, options: { out: { type: "string" } } });
    const out = resolve(values.out ?? join(REPO_ROOT, "dist", "sbom.cdx.json"));
    const lock = JSON.parse(readFileSync(join(REPO_ROOT, "package-lock.json"), "utf8")) as { packages: Record<string, LockPackage> };
    const keep = runtimeClosure(lock);
    const text = execFileSync("npm", ["sbom", "--sbom-format", "cyclonedx", "--package-lock-only", "--workspaces=false"], {
      cwd: REPO_ROOT,
      encoding: "utf8",
      maxBuffer: 64 * 1024 * 1024,
    });
    const bom = JSON.parse(text) as CycloneDx;
    const root = bom.metadata?.component?.["bom-ref"];
    const kept = (ref: string) => ref === root || keep.has(ref);
    bom.components = (bom.components ?? []).filter((c) => keep.has(`${c.name}@${c.version}`));
    bom.dependencies = (bom.dependencies ?? []).filter((d) => kept(d.ref)).map((d) => ({ ...d, dependsOn: (d.dependsOn ?? []).filter(kept) }));
    const missing = [...keep].filter((ref) => !bom.components!.some((c) => `${c.name}@${c.version}` === ref));
    if (missing.length > 0) {
      process.stderr.write(`verity sbom: npm's SBOM lacks runtime packages: ${missing.join(", ")}\n`);
      return 1;
    }
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, `${JSON.stringify(bom, null, 2)}\n`);
    process.stdout.write(`wrote ${out}: CycloneDX, ${bom.components.length} runtime components\n`);
    return 0;
  },
};
