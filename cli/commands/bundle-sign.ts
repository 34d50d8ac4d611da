/** `verity bundle sign`: builds the configuration bundle from seed files and policies, and signs it. */
import { readFileSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { readSeedFiles } from "../../dev/seed.ts";
import { buildSignedSeedEntries } from "../../dev/seed-entries.ts";
import { importSigner, type SigningJwk } from "../../dev/signing/sign-bundle.ts";
import { UsageError, type Command } from "../lib/command.ts";
import { REPO_ROOT } from "../lib/paths.ts";

const usage = `usage: verity bundle sign --key <private-jwk.json> [--key …] [--version <n>] [--seeds <dir>] [--policies <dir>] [--out <file>]

Builds the configuration bundle the gateway reads from KV (config/bundle): the registry (tenants,
issuers, trust-domains, workloads, backends, tools .json in --seeds), the policy bundle (schema and
*.cedar in --policies) and the entity seed (entities.json), and signs it: a DSSE envelope over an
in-toto Statement v1 whose subjects are the documents' SHA-256 over RFC 8785 canonical JSON.

  --key <file>        a private Ed25519 JWK with a kid (verity bundle keygen); repeat to sign with
                      several keys during a rotation
  --version <n>       the bundle version, a positive integer above the one in force
                      (default: the current time in milliseconds, so successive signings go forward)
  --seeds <dir>       default: kv-seeds/ of this repository
  --policies <dir>    default: policies/ of this repository
  --out <file>        default: standard output

Exit 0 after writing the bundle; 1 if a key or a seed file cannot be read.`;

export const bundleSign: Command = {
  name: "bundle sign",
  summary: "builds the configuration bundle from kv-seeds/ and policies/ and signs it (DSSE, in-toto)",
  usage,
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: {
        key: { type: "string", multiple: true },
        version: { type: "string" },
        seeds: { type: "string" },
        policies: { type: "string" },
        out: { type: "string" },
      },
    });
    if (!values.key || values.key.length === 0) throw new UsageError("--key is required");
    const version = values.version === undefined ? Date.now() : Number(values.version);
    if (!Number.isSafeInteger(version) || version < 1) throw new UsageError("--version must be a positive integer");
    try {
      const signers = await Promise.all(values.key.map((path) => importSigner(JSON.parse(readFileSync(resolve(path), "utf8")) as SigningJwk)));
      const files = readSeedFiles(resolve(values.seeds ?? resolve(REPO_ROOT, "kv-seeds")), resolve(values.policies ?? resolve(REPO_ROOT, "policies")));
      const [entry] = await buildSignedSeedEntries(files, signers, version);
      if (values.out === undefined) process.stdout.write(`${entry!.value}\n`);
      else writeFileSync(resolve(values.out), `${entry!.value}\n`);
      process.stderr.write(`signed bundle version ${version} with ${signers.map((s) => s.keyid).join(", ")}\n`);
      return 0;
    } catch (error) {
      process.stderr.write(`verity bundle sign: ${error instanceof Error ? error.message : String(error)}\n`);
      return 1;
    }
  },
};
