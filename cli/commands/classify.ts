/** `verity classify [--json]`: the data plane's classifier over standard input. */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { LEVEL_NAMES } from "../../worker/context.ts";
import { classify as classifyTexts, compileTenantRules, TenantRulesError, type TenantRules } from "../../worker/data/index.ts";
import { UsageError, type Command } from "../lib/command.ts";

const usage = `usage: verity classify [--json] [--label <level>] [--rules <file.json>] < text

Reads text on standard input and prints what the gateway's data plane finds in it: each finding's
type (Presidio names, SECRET_<KIND> for secrets), start and end offsets (UTF-16 code units, end
exclusive), score, category (pii, pci, phi, secret, custom) and level, then the classification:
level (public, internal, confidential, restricted) and categories. The matched text itself is not
printed (it may be a secret). The same code (worker/data) classifies every prompt and answer in the
gateway. Text past the scan cap is reported as unscanned and makes the classification restricted.

  --json            print { level, levelName, categories, findings[, unscanned] } as JSON
  --label <level>   a caller-supplied label (x-verity-classification): can raise the level, never lower it
  --rules <file>    a tenant's custom terms and patterns (the registry's tenants[].classifier object)`;

function readRules(path: string): TenantRules {
  let rules: TenantRules;
  try {
    rules = JSON.parse(readFileSync(path, "utf8")) as TenantRules;
    compileTenantRules(rules);
  } catch (error) {
    if (error instanceof TenantRulesError || error instanceof SyntaxError) throw new UsageError(`--rules ${path}: ${error.message}`);
    throw error;
  }
  return rules;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

export const classify: Command = {
  name: "classify",
  summary: "print the data plane's findings and classification for text on standard input",
  usage,
  async run(argv) {
    const { values, positionals } = parseArgs({
      args: argv,
      options: { json: { type: "boolean", default: false }, label: { type: "string" }, rules: { type: "string" } },
    });
    if (positionals.length > 0) throw new UsageError("classify reads standard input and takes no arguments");
    if (values.label !== undefined && !(LEVEL_NAMES as readonly string[]).includes(values.label)) {
      throw new UsageError(`--label must be one of ${LEVEL_NAMES.join(", ")}`);
    }
    const rules = values.rules === undefined ? undefined : readRules(values.rules);
    const text = await readStdin();
    const result = classifyTexts([text], values.label ?? null, rules);
    const levelName = LEVEL_NAMES[result.level];
    if (values.json) {
      const unscanned = result.unscanned === undefined ? {} : { unscanned: result.unscanned };
      process.stdout.write(`${JSON.stringify({ level: result.level, levelName, categories: result.categories, findings: result.findings, ...unscanned }, null, 2)}\n`);
      return 0;
    }
    const lines = result.findings.map((f) => `${f.type}\t${f.start}\t${f.end}\t${f.score}\t${f.category}\t${f.level}`);
    if (lines.length > 0) lines.unshift("type\tstart\tend\tscore\tcategory\tlevel");
    else lines.push("no findings");
    if (result.unscanned !== undefined) lines.push(`unscanned: ${result.unscanned} code units past the scan cap`);
    lines.push(`classification: ${levelName} (${result.level})${result.categories.length > 0 ? `, categories: ${result.categories.join(", ")}` : ""}`);
    process.stdout.write(`${lines.join("\n")}\n`);
    return 0;
  },
};
