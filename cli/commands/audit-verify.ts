/**
 * `verity audit verify <file>` or `verity audit verify --gateway <url> --tenant <t>`: checks an export
 * (or the live log) leaf by leaf against its signed checkpoints; see worker/verify/log-verifier.ts.
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { AuditError } from "../../worker/verify/errors.ts";
import { type ExportLine, parseExport, parseExportLine, verifyCheckpointPair, verifyLog } from "../../worker/verify/log-verifier.ts";
import { auditTarget, exportLines, fetchConsistencyProof, GatewayRequestError } from "../lib/audit-client.ts";
import { readVerifiers } from "../lib/audit-keys.ts";
import { UsageError, type Command } from "../lib/command.ts";

const usage = `usage: verity audit verify <file> [--keys <file> | --gateway <url>] [--trusted <checkpoint>]…
       verity audit verify --gateway <url> --tenant <tenant> [--keys <file>] [--trusted <checkpoint>]…

Verifies an export of "verity audit export" (or, with --tenant, the live log, exported on the fly
with the auditor token in VERITY_TOKEN): every entry at its index, every record's canonical JSON and
its RFC 6962 leaf hash, the tree root at each checkpoint's size against the signed root, each
checkpoint's Ed25519 signature against the trusted keys, and consistency with earlier checkpoints
you kept. Exit 0 when the log is intact; 1 naming the first bad index (or the bad checkpoint).

  --keys <file>         trusted keys: the gateway's JWKS saved earlier, or note vkeys one a line
  --gateway <url>       without --keys: trust the keys the gateway publishes at /.well-known/jwks.json
  --tenant <tenant>     verify the live log of this tenant instead of a file
  --trusted <file>      an earlier signed checkpoint (a note, or an earlier export whose last line is
                        one); the log must extend it consistently. Repeatable
  --json                print the report as JSON`;

function checkpointFrom(file: string): string {
  const text = readFileSync(file, "utf8");
  if (!text.trimStart().startsWith("{")) return text;
  const last = parseExport(text).filter((l) => l.kind === "checkpoint").at(-1);
  if (last?.kind !== "checkpoint") throw new UsageError(`${file} holds no checkpoint`);
  return last.note;
}

export const auditVerify: Command = {
  name: "audit verify",
  summary: "verify an audit export or a live log: leaves, tree, checkpoint signatures, consistency",
  usage,
  async run(argv) {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        keys: { type: "string" },
        gateway: { type: "string" },
        tenant: { type: "string" },
        trusted: { type: "string", multiple: true, default: [] },
        json: { type: "boolean", default: false },
      },
    });
    if (positionals.length > 1) throw new UsageError("audit verify takes one export file");
    if ((positionals.length === 1) === (values.tenant !== undefined)) throw new UsageError("give an export file, or --gateway with --tenant, not both");
    const trusted = values.trusted.map(checkpointFrom);
    try {
      const verifiers = await readVerifiers(values.keys, values.gateway);
      let lines: ExportLine[];
      if (positionals[0] !== undefined) {
        lines = parseExport(readFileSync(positionals[0], "utf8"));
      } else {
        const target = auditTarget(values.gateway, values.tenant);
        lines = [];
        for await (const line of exportLines(target)) lines.push(parseExportLine(line));
        // Live: also ask the log itself to prove it extends every trusted checkpoint.
        const latest = lines.at(-1);
        if (latest?.kind === "checkpoint") {
          const size = Number(latest.note.split("\n")[1]);
          for (const older of trusted) {
            const olderSize = Number(older.split("\n")[1]);
            if (olderSize > 0 && olderSize <= size) await verifyCheckpointPair(older, latest.note, await fetchConsistencyProof(target, olderSize, size), verifiers);
          }
        }
      }
      const report = await verifyLog(lines, { verifiers, trusted });
      if (values.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      if (report.ok) {
        const head = report.checkpoints.at(-1);
        if (!values.json) {
          process.stdout.write(`intact: ${report.entries} entries; checkpoint ${head?.origin} size ${head?.size} signed by ${head?.verifiedBy.join(", ")}\n`);
        }
        return 0;
      }
      const problem = report.problem!;
      const where = problem.index === undefined ? "" : ` at index ${problem.index}`;
      process.stderr.write(`verity audit verify: FAILED${where}: ${problem.code}: ${problem.message}\n`);
      return 1;
    } catch (error) {
      if (error instanceof AuditError) {
        process.stderr.write(`verity audit verify: FAILED: ${error.code}: ${error.message}\n`);
        return 1;
      }
      if (error instanceof GatewayRequestError) {
        process.stderr.write(`verity audit verify: ${error.message}\n`);
        return 1;
      }
      throw error;
    }
  },
};
