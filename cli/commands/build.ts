/** `verity build`: bundles the Worker as it would be deployed, and writes its SLSA provenance. */
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import type { Command } from "../lib/command.ts";
import { runWrangler } from "../lib/bundle-files.ts";
import { REPO_ROOT } from "../lib/paths.ts";
import { BUILD_TYPE, BUILDER_ID, PROVENANCE_FILE, type ProvenanceStatement, SLSA_PROVENANCE_V1, sha256File, subjectsOf, WORKER_DIR } from "../lib/provenance.ts";

const usage = `usage: verity build [--out-dir <dir>]

Bundles the Worker exactly as \`wrangler deploy\` would (wrangler deploy --dry-run) into
<dir>/${WORKER_DIR}/ (emptied first), then writes <dir>/${PROVENANCE_FILE}: an in-toto Statement v1
with a SLSA Provenance v1 predicate whose subjects are every file of the bundle (SHA-256), naming the
source commit (and whether the work tree was dirty), the package-lock.json and wrangler.toml digests,
and the Node and wrangler versions. \`verity build verify\` checks a build against it.

  --out-dir <dir>   default: dist/

Refuses (exit 1) a wrangler.toml that sets VERITY_LOCAL_DEV: that setting lets the registry name
loopback destinations and belongs to the local stack only.

Needs git (the source commit). Exit 0 after writing both; 1 if the build fails.`;

function git(args: string[]): string {
  return execFileSync("git", args, { cwd: REPO_ROOT, encoding: "utf8" }).trim();
}

export const buildWorker: Command = {
  name: "build",
  summary: "bundles the Worker (wrangler deploy --dry-run) and writes its SLSA provenance",
  usage,
  async run(argv) {
    const { values } = parseArgs({ args: argv, options: { "out-dir": { type: "string" } } });
    const outDir = resolve(values["out-dir"] ?? join(REPO_ROOT, "dist"));
    const workerDir = join(outDir, WORKER_DIR);
    const startedOn = new Date().toISOString();
    try {
      // The local-development switch (loopback destinations, worker/network/addresses.ts) must never ship.
      if (/VERITY_LOCAL_DEV/.test(readFileSync(join(REPO_ROOT, "wrangler.toml"), "utf8"))) {
        throw new Error("wrangler.toml sets VERITY_LOCAL_DEV, which only the local stack may carry; remove it before building for deployment");
      }
      const commit = git(["rev-parse", "HEAD"]);
      const dirty = git(["status", "--porcelain"]) !== "";
      rmSync(workerDir, { recursive: true, force: true });
      mkdirSync(outDir, { recursive: true });
      const command = `wrangler deploy --dry-run --outdir ${WORKER_DIR}`;
      await runWrangler(["deploy", "--dry-run", "--outdir", workerDir]);
      const wranglerVersion = (JSON.parse(readFileSync(join(REPO_ROOT, "node_modules", "wrangler", "package.json"), "utf8")) as { version: string }).version;
      const statement: ProvenanceStatement = {
        _type: "https://in-toto.io/Statement/v1",
        subject: subjectsOf(workerDir),
        predicateType: SLSA_PROVENANCE_V1,
        predicate: {
          buildDefinition: {
            buildType: BUILD_TYPE,
            externalParameters: { command, config: "wrangler.toml", source: { commit, dirty } },
            internalParameters: { node: process.version, wrangler: wranglerVersion },
            resolvedDependencies: [
              { name: "source", uri: "git+file:.", digest: { gitCommit: commit } },
              { name: "package-lock.json", digest: { sha256: sha256File(join(REPO_ROOT, "package-lock.json")) } },
              { name: "wrangler.toml", digest: { sha256: sha256File(join(REPO_ROOT, "wrangler.toml")) } },
            ],
          },
          runDetails: {
            builder: { id: BUILDER_ID },
            metadata: { invocationId: crypto.randomUUID(), startedOn, finishedOn: new Date().toISOString() },
          },
        },
      };
      writeFileSync(join(outDir, PROVENANCE_FILE), `${JSON.stringify(statement, null, 2)}\n`);
      process.stdout.write(
        `built ${statement.subject.length} files into ${workerDir}; provenance ${join(outDir, PROVENANCE_FILE)} (commit ${commit.slice(0, 12)}${dirty ? ", dirty work tree" : ""})\n`,
      );
      return 0;
    } catch (error) {
      process.stderr.write(`verity build: ${error instanceof Error ? error.message : String(error)}\n`);
      return 1;
    }
  },
};
