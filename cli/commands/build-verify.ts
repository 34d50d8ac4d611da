/** `verity build verify`: checks a built Worker against its SLSA provenance. */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { DuplicateKeyError, parseStrictJson } from "../../worker/lib/strict-json.ts";
import { UsageError, type Command } from "../lib/command.ts";
import { REPO_ROOT } from "../lib/paths.ts";
import { BUILD_TYPE, PROVENANCE_FILE, type ProvenanceStatement, SLSA_PROVENANCE_V1, sha256File, subjectsOf, WORKER_DIR } from "../lib/provenance.ts";

const usage = `usage: verity build verify [--out-dir <dir>] [--lockfile <file>] [--commit <sha> | --no-commit-check] [--allow-dirty]

Checks a build (\`verity build\`, \`npm run build\`) against its provenance <dir>/${PROVENANCE_FILE}:
an in-toto Statement v1 with a SLSA Provenance v1 predicate of this build type; every file of
<dir>/${WORKER_DIR}/ is a subject with the same SHA-256 and every subject is there; the lockfile's
SHA-256 is the one the build resolved; the source commit is the expected one; the work tree was clean.

  --out-dir <dir>      default: dist/
  --lockfile <file>    default: package-lock.json of this repository
  --commit <sha>       the expected source commit (default: git rev-parse HEAD here)
  --no-commit-check    do not compare the source commit
  --allow-dirty        accept a build from a work tree with uncommitted changes

Exit 0 when everything matches; otherwise 1 naming the first problem with its code
(provenance_invalid, artifact_digest_mismatch, artifact_missing, artifact_unlisted,
lockfile_mismatch, source_mismatch, source_dirty).`;

class BuildCheckError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

function readProvenance(path: string): ProvenanceStatement {
  let statement: unknown;
  try {
    statement = parseStrictJson(readFileSync(path, "utf8"));
  } catch (error) {
    const why = error instanceof DuplicateKeyError ? error.message : "is not valid JSON";
    throw new BuildCheckError("provenance_invalid", `${path}: ${why}`);
  }
  const s = statement as Partial<ProvenanceStatement> | null;
  const definition = s?.predicate?.buildDefinition;
  if (s?._type !== "https://in-toto.io/Statement/v1" || s.predicateType !== SLSA_PROVENANCE_V1 || definition?.buildType !== BUILD_TYPE) {
    throw new BuildCheckError("provenance_invalid", `${path} is not an in-toto Statement v1 with SLSA Provenance v1 of build type ${BUILD_TYPE}`);
  }
  if (!Array.isArray(s.subject) || s.subject.length === 0 || !Array.isArray(definition.resolvedDependencies)) {
    throw new BuildCheckError("provenance_invalid", `${path} names no subjects or no resolved dependencies`);
  }
  return s as ProvenanceStatement;
}

export const buildVerify: Command = {
  name: "build verify",
  summary: "checks a built Worker (dist/) against its SLSA provenance: files, lockfile, commit",
  usage,
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: {
        "out-dir": { type: "string" },
        lockfile: { type: "string" },
        commit: { type: "string" },
        "no-commit-check": { type: "boolean" },
        "allow-dirty": { type: "boolean" },
      },
    });
    if (values.commit !== undefined && values["no-commit-check"]) throw new UsageError("--commit and --no-commit-check exclude each other");
    const outDir = resolve(values["out-dir"] ?? join(REPO_ROOT, "dist"));
    try {
      const provenancePath = join(outDir, PROVENANCE_FILE);
      if (!existsSync(provenancePath)) throw new BuildCheckError("provenance_invalid", `no provenance at ${provenancePath}; run npm run build`);
      const statement = readProvenance(provenancePath);
      const workerDir = join(outDir, WORKER_DIR);
      const actual = new Map(existsSync(workerDir) ? subjectsOf(workerDir).map((s) => [s.name, s.digest.sha256]) : []);
      for (const subject of statement.subject) {
        const digest = actual.get(subject.name);
        if (digest === undefined) throw new BuildCheckError("artifact_missing", `${subject.name} is in the provenance but not in ${workerDir}`);
        if (digest !== subject.digest?.sha256) throw new BuildCheckError("artifact_digest_mismatch", `${subject.name} does not match its digest in the provenance`);
        actual.delete(subject.name);
      }
      const [unlisted] = actual.keys();
      if (unlisted !== undefined) throw new BuildCheckError("artifact_unlisted", `${unlisted} is in ${workerDir} but not in the provenance`);

      const definition = statement.predicate.buildDefinition;
      const lockfile = resolve(values.lockfile ?? join(REPO_ROOT, "package-lock.json"));
      const recordedLock = definition.resolvedDependencies.find((d) => d.name === "package-lock.json")?.digest.sha256;
      if (recordedLock === undefined || recordedLock !== sha256File(lockfile)) {
        throw new BuildCheckError("lockfile_mismatch", `${lockfile} is not the lockfile the build resolved (sha256 ${recordedLock ?? "missing"})`);
      }
      const recordedCommit = definition.externalParameters?.source?.commit;
      const sourceDependency = definition.resolvedDependencies.find((d) => d.name === "source")?.digest.gitCommit;
      if (typeof recordedCommit !== "string" || recordedCommit !== sourceDependency) throw new BuildCheckError("provenance_invalid", "the provenance names no single source commit");
      if (!values["no-commit-check"]) {
        const expected = values.commit ?? execFileSync("git", ["rev-parse", "HEAD"], { cwd: REPO_ROOT, encoding: "utf8" }).trim();
        if (recordedCommit !== expected) throw new BuildCheckError("source_mismatch", `built from commit ${recordedCommit}, expected ${expected}`);
      }
      if (definition.externalParameters.source.dirty !== false && !values["allow-dirty"]) {
        throw new BuildCheckError("source_dirty", `built from a work tree with uncommitted changes at ${recordedCommit} (--allow-dirty to accept)`);
      }
      process.stdout.write(`build verified: ${statement.subject.length} files match, lockfile ${recordedLock.slice(0, 16)}…, commit ${recordedCommit.slice(0, 12)}\n`);
      return 0;
    } catch (error) {
      if (!(error instanceof BuildCheckError)) throw error;
      process.stderr.write(`verity build verify: ${error.code}: ${error.message}\n`);
      return 1;
    }
  },
};
