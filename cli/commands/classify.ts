/** `verity classify [--json]`: the data plane's classifier over standard input. */
import { parseArgs } from "node:util";
import { LEVEL_NAMES } from "../../worker/context.ts";
import { classify as classifyTexts } from "../../worker/data/index.ts";
import { UsageError, type Command } from "../lib/command.ts";

const usage = `usage: verity classify [--json] [--label <level>] < text

Reads text on standard input and prints what the gateway's data plane finds in it: each finding's
type (Presidio names, SECRET_<KIND> for secrets), start and end offsets (UTF-16 code units, end
exclusive) and score, then the classification: level (public, internal, confidential, restricted)
and categories. The matched text itself is not printed (it may be a secret). The same code
(worker/data) classifies every prompt and answer in the gateway.

  --json            print { level, levelName, categories, findings } as JSON
  --label <level>   a caller-supplied label (x-verity-classification): can raise the level, never lower it`;

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
      options: { json: { type: "boolean", default: false }, label: { type: "string" } },
    });
    if (positionals.length > 0) throw new UsageError("classify reads standard input and takes no arguments");
    if (values.label !== undefined && !(LEVEL_NAMES as readonly string[]).includes(values.label)) {
      throw new UsageError(`--label must be one of ${LEVEL_NAMES.join(", ")}`);
    }
    const text = await readStdin();
    const result = classifyTexts([text], values.label ?? null);
    const levelName = LEVEL_NAMES[result.level];
    if (values.json) {
      process.stdout.write(`${JSON.stringify({ level: result.level, levelName, categories: result.categories, findings: result.findings }, null, 2)}\n`);
      return 0;
    }
    const lines = result.findings.map((f) => `${f.type}\t${f.start}\t${f.end}\t${f.score}`);
    if (lines.length > 0) lines.unshift("type\tstart\tend\tscore");
    else lines.push("no findings");
    lines.push(`classification: ${levelName} (${result.level})${result.categories.length > 0 ? `, categories: ${result.categories.join(", ")}` : ""}`);
    process.stdout.write(`${lines.join("\n")}\n`);
    return 0;
  },
};
