/**
 * `verity policy corpus`: Cedar's fuzz-generated integration corpus (7,809 test files, 62,472
 * requests) through the gateway's PDP. The archive in ../shared/vectors is read-only, so it is
 * unpacked (with `tar`) into a working copy once per archive content, beside a copy of nothing
 * else: corpus files name their data as `corpus-tests/<hash>.*`, relative to the working copy.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { UsageError, type Command } from "../lib/command.ts";
import { CORPUS_ARCHIVE, CORPUS_CACHE } from "../lib/paths.ts";
import { evaluatorCounts } from "../../worker/policy/evaluate.ts";
import { collectTestFiles, count, printResult, runTests, sample } from "../lib/run-tests.ts";

/** The fixed sample CI runs (test/cli/corpus.test.ts): every 8th file, 977 files, 7,816 requests, ≈ 17 s. */
export const CI_SAMPLE_FILES = 977;

const usage = `usage: verity policy corpus [--sample N] [--dir <workdir>] [--archive <tar.gz>] [--json] [--list-exceptions]

Unpacks Cedar's integration-test corpus (../shared/vectors/cedar/corpus-tests.tar.gz, 7,809 files,
62,472 requests) into a working copy and runs it like \`verity policy test\` (see its --help for the
documented differences from Cedar, each counted and the named ones listed).

  --sample N        run at most N files, every k-th in name order (CI runs --sample ${CI_SAMPLE_FILES})
  --dir <workdir>   working copy (default: node_modules/.cache/verity/cedar-corpus); unpacked again
                    only when the archive's SHA-256 changes
  --archive <file>  default: ../shared/vectors/cedar/corpus-tests.tar.gz beside this repository
  --json, --list-exceptions, --max-failures N   as for policy test

Exit 0 when every request matched; 1 on any failure; 2 on a bad command line.`;

/** Unpacks `archive` into `dir` unless `dir` already holds this archive's content. Returns `dir`. */
export function unpackCorpus(archive: string, dir: string): string {
  if (!existsSync(archive)) throw new UsageError(`corpus archive not found: ${archive}`);
  const digest = createHash("sha256").update(readFileSync(archive)).digest("hex");
  const stamp = join(dir, ".unpacked-from");
  if (existsSync(stamp) && readFileSync(stamp, "utf8") === digest && existsSync(join(dir, "corpus-tests"))) return dir;
  rmSync(join(dir, "corpus-tests"), { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  execFileSync("tar", ["-xzf", archive, "-C", dir], { stdio: ["ignore", "ignore", "inherit"] });
  writeFileSync(stamp, digest);
  return dir;
}

export const policyCorpus: Command = {
  name: "policy corpus",
  summary: "unpack Cedar's integration-test corpus and run all of it (or --sample N files) through the PDP",
  usage,
  async run(argv) {
    const { values, positionals } = parseArgs({
      args: argv,
      options: {
        sample: { type: "string" },
        dir: { type: "string" },
        archive: { type: "string" },
        json: { type: "boolean", default: false },
        "list-exceptions": { type: "boolean", default: false },
        "max-failures": { type: "string", default: "50" },
      },
    });
    if (positionals.length > 0) throw new UsageError("policy corpus takes no file arguments (use policy test for files)");
    const dir = unpackCorpus(resolve(values.archive ?? CORPUS_ARCHIVE), resolve(values.dir ?? CORPUS_CACHE));
    let files = collectTestFiles([join(dir, "corpus-tests")]);
    if (values.sample !== undefined) files = sample(files, count(values.sample));
    const before = { ...evaluatorCounts };
    const result = runTests(files, dir);
    printResult(result, { json: values.json, base: dir, listAll: values["list-exceptions"], maxFailures: count(values["max-failures"]) });
    // Which engine answered (worker/policy/evaluate.ts); on stderr, so that --json stays one document.
    const n = (key: keyof typeof evaluatorCounts) => evaluatorCounts[key] - before[key];
    console.error(
      `decisions computed: ${n("answered")} by the JS evaluator; by cedar-wasm ${n("undecided")} after the evaluator gave up (an error or doubt), ` +
        `${n("bundleOutside")} with a schema or entity store outside its subset, ${n("sliceOutside")} with a policy outside it, ${n("requestOutside")} with a request it does not validate ` +
        `(other requests were refused before any engine, or answered by the PDP's memo of identical requests)`,
    );
    return result.report.failed === 0 ? 0 : 1;
  },
};
