/** `verity audit replay <file>`: re-evaluates every recorded decision with the recorded policy version and entity slice. */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { parseExport } from "../../worker/verify/log-verifier.ts";
import { compilePolicy, type PolicyBundle } from "../cedar-node.ts";
import { replayDecisions } from "../../worker/verify/replay.ts";
import { UsageError, type Command } from "../lib/command.ts";
import { REPO_ROOT } from "../lib/paths.ts";
import { readPolicySources } from "../lib/world.ts";

const usage = `usage: verity audit replay <file> [--policies <dir>]… [--bundle <file>]… [--json]

Re-evaluates every decision recorded in an export of "verity audit export" with the gateway's own
policy decision point: the policy bundle of the record's policyVersion, the record's entity slice as
the whole entity store, and the request rebuilt from the recorded facts. Records carry only the
bundle's version (a SHA-256 of its schema and policies), so the bundles come from policy folders or
bundle files; each is used only for the version it hashes to. Exit 0 when every decision is
reproduced; 1 when any differs or cannot be replayed (its bundle is missing, …).

  --policies <dir>  a policies/ folder (schema.cedarschema and *.cedar); default ./policies. Repeatable
  --bundle <file>   a policy bundle as published to KV ({"schema", "policies"}). Repeatable
  --json            print every outcome as JSON`;

function bundleVersionOf(bundle: PolicyBundle): string {
  // Compiling with no entities yields the PDP whose version is the bundle's (and checks the bundle).
  return compilePolicy(bundle, []).version;
}

export const auditReplay: Command = {
  name: "audit replay",
  summary: "re-evaluate every recorded decision against its policy version and entity slice",
  usage,
  async run(argv) {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        policies: { type: "string", multiple: true, default: [] },
        bundle: { type: "string", multiple: true, default: [] },
        json: { type: "boolean", default: false },
      },
    });
    if (positionals.length !== 1) throw new UsageError("audit replay takes one export file");
    const bundles = new Map<string, PolicyBundle>();
    const dirs = values.policies.length === 0 && values.bundle.length === 0 ? [resolve(REPO_ROOT, "policies")] : values.policies;
    for (const dir of dirs) {
      const { bundle } = readPolicySources(dir);
      bundles.set(bundleVersionOf(bundle), bundle);
    }
    for (const file of values.bundle) {
      const bundle = JSON.parse(readFileSync(file, "utf8")) as PolicyBundle;
      bundles.set(bundleVersionOf(bundle), bundle);
    }
    const records: unknown[] = [];
    for (const line of parseExport(readFileSync(positionals[0]!, "utf8"))) {
      if (line.kind !== "entry") continue;
      try {
        records.push(JSON.parse(line.entry.canonical));
      } catch {
        records.push(null);
      }
    }
    const summary = replayDecisions(records, bundles);
    if (values.json) process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
    const bad = summary.outcomes.filter((o) => o.status === "differs" || o.status === "unreplayable");
    for (const o of bad) process.stderr.write(`index ${o.index} (${o.requestId}, ${o.action}): ${o.status}: ${o.detail}\n`);
    if (!values.json) {
      const { same, differs, unreplayable, skipped } = summary.counts;
      process.stdout.write(`replayed ${same + differs + unreplayable} decisions: ${same} reproduced, ${differs} differ, ${unreplayable} unreplayable; ${skipped} records without a PDP decision skipped\n`);
    }
    return bad.length === 0 ? 0 : 1;
  },
};
