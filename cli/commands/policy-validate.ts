/** `verity policy validate`: strict validation of `policies/` the way the gateway compiles it. */
import { dirname, resolve } from "node:path";
import { parseArgs } from "node:util";
import { cedarEngine } from "../../worker/policy/engine.ts";
import { PolicyError, compilePolicy } from "../cedar-node.ts";
import type { Command } from "../lib/command.ts";
import { REPO_ROOT } from "../lib/paths.ts";
import { readEntitySeed, readPolicySources, readRegistry, worldEntities } from "../lib/world.ts";

const usage = `usage: verity policy validate [--dir <policies>] [--entities <entities.json>] [--registry <dir>]

Compiles the policy bundle exactly as the gateway does at configuration load (compilePolicy): the
schema (<dir>/schema.cedarschema) and every <dir>/*.cedar file in name order; every policy needs a
unique @id and valid @obligation annotations; strict Cedar validation must report no error; the
entities (the entity seed plus the Tenant, Backend and Tool entities derived from the registry's
tenants.json, issuers.json, backends.json and tools.json) must conform to the schema.

  --dir <policies>           default: policies/ of this repository
  --entities <file>          default: kv-seeds/entities.json
  --registry <dir>           default: the folder of --entities (kv-seeds/)

Exit 0 with a one-line summary (policies, files, bundle version) when valid; otherwise 1 with the
error code (POLICY_PARSE_FAILED, POLICY_VALIDATION_FAILED, POLICY_ANNOTATION_INVALID, …) and every
problem, each naming its policy and file where known.`;

/** Which file holds each `@id`, so that a problem naming a policy names its file too. */
function idsByFile(files: Record<string, string>): Map<string, string> {
  const out = new Map<string, string>();
  for (const [name, text] of Object.entries(files)) for (const m of text.matchAll(/@id\(\s*"([^"]+)"\s*\)/g)) out.set(m[1]!, name);
  return out;
}

/** For a parse failure: the files that do not parse on their own. */
function unparsable(files: Record<string, string>): string[] {
  const cedar = cedarEngine();
  return Object.entries(files)
    .filter(([, text]) => cedar.policySetTextToParts(text).type === "failure")
    .map(([name]) => name);
}

export const policyValidate: Command = {
  name: "policy validate",
  summary: "strict Cedar validation of policies/ against the schema, as the gateway compiles it",
  usage,
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: { dir: { type: "string" }, entities: { type: "string" }, registry: { type: "string" } },
    });
    const dir = values.dir !== undefined ? resolve(values.dir) : resolve(REPO_ROOT, "policies");
    const entitiesPath = values.entities !== undefined ? resolve(values.entities) : resolve(REPO_ROOT, "kv-seeds", "entities.json");
    const registryDir = values.registry !== undefined ? resolve(values.registry) : dirname(entitiesPath);

    let sources;
    let entities;
    try {
      sources = readPolicySources(dir);
      entities = worldEntities(readRegistry(registryDir), readEntitySeed(entitiesPath));
    } catch (error) {
      process.stderr.write(`verity policy validate: cannot read the policy world: ${error instanceof Error ? error.message : String(error)}\n`);
      return 1;
    }
    try {
      const pdp = compilePolicy(sources.bundle, entities);
      const parts = cedarEngine().policySetTextToParts(sources.bundle.policies);
      const count = parts.type === "success" ? parts.policies.length : 0;
      const fileCount = Object.keys(sources.files).length;
      process.stdout.write(
        `policies valid: ${count} policies in ${fileCount} files, ${entities.length} entities; version ${pdp.version} (entities ${pdp.entitiesVersion.slice(0, 16)}…)\n`,
      );
      return 0;
    } catch (error) {
      if (!(error instanceof PolicyError)) throw error;
      const where = idsByFile(sources.files);
      const lines = [`verity policy validate: ${error.code}: ${error.message.split(": ")[0]}`];
      for (const detail of error.details) {
        const id = detail.split(": ")[0]!;
        lines.push(`  ${detail}${where.has(id) ? `  [${where.get(id)}]` : ""}`);
      }
      if (error.code === "POLICY_PARSE_FAILED") for (const name of unparsable(sources.files)) lines.push(`  does not parse: ${name}`);
      process.stderr.write(`${lines.join("\n")}\n`);
      return 1;
    }
  },
};
