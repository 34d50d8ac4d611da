/** `verity audit export --gateway <url> --tenant <t>`: a tenant's log as JSON Lines on standard output. */
import { parseArgs } from "node:util";
import { auditTarget, exportLines, GatewayRequestError } from "../lib/audit-client.ts";
import { UsageError, type Command } from "../lib/command.ts";

const usage = `usage: verity audit export --gateway <url> --tenant <tenant> > log.jsonl

Writes the tenant's audit log to standard output as JSON Lines, in log order: one entry a line,
{"index", "leafHash", "canonical"} where "canonical" is the record's RFC 8785 canonical JSON exactly as
the log committed it, then {"checkpoint": "<signed note>"}, the latest C2SP signed checkpoint, which
covers every entry above. Authenticates with the auditor access token in VERITY_TOKEN.

  --gateway <url>    the gateway, e.g. http://127.0.0.1:8787
  --tenant <tenant>  whose log`;

export const auditExport: Command = {
  name: "audit export",
  summary: "write a tenant's audit log and its latest signed checkpoint as JSON Lines",
  usage,
  async run(argv) {
    const { values, positionals } = parseArgs({ args: argv, options: { gateway: { type: "string" }, tenant: { type: "string" } } });
    if (positionals.length > 0) throw new UsageError("audit export takes no positional arguments");
    const target = auditTarget(values.gateway, values.tenant);
    try {
      for await (const line of exportLines(target)) {
        if (!process.stdout.write(`${line}\n`)) await new Promise((resolve) => process.stdout.once("drain", resolve));
      }
    } catch (error) {
      if (!(error instanceof GatewayRequestError)) throw error;
      process.stderr.write(`verity audit export: ${error.message}\n`);
      return 1;
    }
    return 0;
  },
};
