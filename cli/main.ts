/**
 * `verity <command>`: the operator CLI. One file per command under `commands/`; this file only
 * dispatches. Exit codes: 0 success, 1 the command found a problem, 2 a bad command line.
 */
import { UsageError, type Command } from "./lib/command.ts";
import { auditExport } from "./commands/audit-export.ts";
import { auditReplay } from "./commands/audit-replay.ts";
import { auditVerify } from "./commands/audit-verify.ts";
import { bundleKeygen } from "./commands/bundle-keygen.ts";
import { bundlePublish } from "./commands/bundle-publish.ts";
import { bundleSign } from "./commands/bundle-sign.ts";
import { bundleVerify } from "./commands/bundle-verify.ts";
import { buildWorker } from "./commands/build.ts";
import { buildVerify } from "./commands/build-verify.ts";
import { classify } from "./commands/classify.ts";
import { sbom } from "./commands/sbom.ts";
import { policyCorpus } from "./commands/policy-corpus.ts";
import { policyTest } from "./commands/policy-test.ts";
import { policyValidate } from "./commands/policy-validate.ts";

const COMMANDS: readonly Command[] = [policyValidate, policyTest, policyCorpus, classify, auditExport, auditVerify, auditReplay, bundleSign, bundleVerify, bundlePublish, bundleKeygen, buildWorker, buildVerify, sbom];

function overview(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    "usage: verity <command> [options]   (verity <command> --help for details)",
    "",
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
  ].join("\n");
}

async function main(argv: string[]): Promise<number> {
  if (argv.length === 0 || argv[0] === "--help" || argv[0] === "-h" || argv[0] === "help") {
    (argv.length === 0 ? process.stderr : process.stdout).write(`${overview()}\n`);
    return argv.length === 0 ? 2 : 0;
  }
  // The longest command whose words start the argument list.
  const command = [...COMMANDS]
    .sort((a, b) => b.name.length - a.name.length)
    .find((c) => c.name.split(" ").every((word, i) => argv[i] === word));
  if (command === undefined) {
    process.stderr.write(`verity: unknown command ${JSON.stringify(argv.filter((a) => !a.startsWith("-")).slice(0, 2).join(" "))}\n\n${overview()}\n`);
    return 2;
  }
  const rest = argv.slice(command.name.split(" ").length);
  if (rest.includes("--help") || rest.includes("-h")) {
    process.stdout.write(`${command.usage}\n`);
    return 0;
  }
  try {
    return await command.run(rest);
  } catch (error) {
    // parseArgs throws TypeErrors with ERR_PARSE_ARGS_* codes for unknown or malformed options.
    const code = (error as { code?: unknown }).code;
    if (error instanceof UsageError || (typeof code === "string" && code.startsWith("ERR_PARSE_ARGS"))) {
      process.stderr.write(`verity ${command.name}: ${(error as Error).message}\n\n${command.usage}\n`);
      return 2;
    }
    throw error;
  }
}

process.exitCode = await main(process.argv.slice(2));
