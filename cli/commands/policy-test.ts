/** `verity policy test [files|folders…]`: Cedar integration-test files through the gateway's PDP. */
import { parseArgs } from "node:util";
import { UsageError, type Command } from "../lib/command.ts";
import { collectTestFiles, count, printResult, runTests, sample } from "../lib/run-tests.ts";

const usage = `usage: verity policy test [--root <dir>] [--sample N] [--json] [--list-exceptions] [--max-failures N] <file|folder>…

Runs policy test files in the format of Cedar's integration tests (policies, entities, schema,
shouldValidate, requests[] with principal, action, resource, context, decision, reason, errors)
through the gateway's own decision path: compilePolicy (strict validation) and pdp.decide (slicing
included). Policies without @id get Cedar's positional ids policy0, policy1, …
A shouldValidate: false file is compiled with validation "report" (test tooling only; the gateway
refuses such a set): strict validation must report problems, then its requests are evaluated and
compared like any other, as Cedar's harness evaluates them.
A test file's policies path may also name a folder (e.g. "policies"): its *.cedar files are joined
as the gateway's bundle joins them and compiled as the gateway compiles them (@id required).
Folders are searched for *.json test files (entity files excluded).

  --root <dir>         folder the paths inside test files are relative to (default: for each file,
                       the nearest ancestor from which its policies path exists, else the cwd)
  --sample N           run at most N files: every k-th file in name order (deterministic)
  --json               print the report as JSON
  --list-exceptions    list every named exception, not only the first 20
  --max-failures N     print at most N failures in detail (default 50; 0: all; --json has all)

Documented differences from Cedar, counted per category and never passed silently:
  no-permit-reason, error-reason, error-denies, unknown-principal, unknown-principal-allow,
  request-validation, integer-beyond-2^53 (refused, never rounded), validation-warning (only the
  corpus files named in cli/lib/known-exceptions.ts: Cedar 4.13 reports only a warning, so strict
  validation finds no problem; counted per file; requests still evaluated and compared).
Also counted, not a difference: invalid-policy-evaluated (requests of shouldValidate: false sets
  that strict validation rejects, evaluated and matched). See cli/lib/policy-runner.ts.

Failures name their cause: mismatch (the PDP answered differently), invalid-request (the PDP
refused the request as malformed), policy-set-refused (compilePolicy refused the set or the data),
policy-set-accepted (shouldValidate: false but strict validation found no problem, file not listed),
stale-exception (a file listed as warning-only has strict-validation problems), test-file.

Exit 0 when every request matched; 1 on any failure; 2 on a bad command line.`;

export const policyTest: Command = {
  name: "policy test",
  summary: "run policy test files (Cedar integration-test format) through the gateway's PDP",
  usage,
  async run(argv) {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        root: { type: "string" },
        sample: { type: "string" },
        json: { type: "boolean", default: false },
        "list-exceptions": { type: "boolean", default: false },
        "max-failures": { type: "string", default: "50" },
      },
    });
    if (positionals.length === 0) throw new UsageError("name at least one test file or folder");
    let files = collectTestFiles(positionals);
    if (values.sample !== undefined) files = sample(files, count(values.sample));
    if (files.length === 0) throw new UsageError("no test files found");
    const result = runTests(files, values.root);
    printResult(result, { json: values.json, base: process.cwd(), listAll: values["list-exceptions"], maxFailures: count(values["max-failures"]) });
    return result.report.failed === 0 ? 0 : 1;
  },
};
