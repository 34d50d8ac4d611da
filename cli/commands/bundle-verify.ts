/** `verity bundle verify`: checks a bundle file exactly as the gateway does before using it. */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { UsageError, type Command } from "../lib/command.ts";
import { BundleCheckError, checkBundle, minVersion, trustedKeysText } from "../lib/bundle-files.ts";
import { documentDigest, DOCUMENT_NAMES } from "../../worker/workload/bundle-format.ts";

const usage = `usage: verity bundle verify <bundle.json> [--trusted-keys <jwks.json>] [--min-version <n>]

Verifies a signed configuration bundle with the gateway's own code: size, strict JSON (no duplicate
names), a signature by a pinned Ed25519 key over the DSSE envelope, the in-toto statement, the
version (not below --min-version), every document against its signed digest, and then the registry
and the strict Cedar compile the gateway runs before putting a bundle in force.

  --trusted-keys <file>   a JWK Set of pinned public keys (default: BUNDLE_TRUSTED_KEYS in wrangler.toml)
  --min-version <n>       lowest version accepted (default: BUNDLE_MIN_VERSION in wrangler.toml)

Exit 0 with the version, the signing key and the documents' digests; otherwise 1 with the refusal
code the gateway would audit (bundle_unsigned, bundle_signature_invalid, bundle_unknown_key,
bundle_digest_mismatch, bundle_duplicate_key, bundle_malformed, bundle_too_large, bundle_rollback,
bundle_statement_invalid, config_invalid, …).`;

export const bundleVerify: Command = {
  name: "bundle verify",
  summary: "verifies a signed configuration bundle as the gateway does (keys from wrangler.toml)",
  usage,
  async run(argv) {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { "trusted-keys": { type: "string" }, "min-version": { type: "string" } },
    });
    if (positionals.length !== 1) throw new UsageError("one bundle file is required");
    try {
      const bytes = new Uint8Array(readFileSync(resolve(positionals[0]!)));
      const { bundle, policyVersion } = await checkBundle(bytes, trustedKeysText(values["trusted-keys"]), minVersion(values["min-version"]));
      const lines = [`bundle valid: version ${bundle.version}, signed by ${bundle.keyid}, issued ${bundle.issuedAt}; policy version ${policyVersion}`];
      for (const name of DOCUMENT_NAMES) lines.push(`  ${name.padEnd(8)} sha256:${documentDigest(bundle.documents[name])}`);
      process.stdout.write(`${lines.join("\n")}\n`);
      return 0;
    } catch (error) {
      if (error instanceof BundleCheckError) {
        process.stderr.write(`verity bundle verify: ${error.code}: ${error.message}\n`);
        return 1;
      }
      process.stderr.write(`verity bundle verify: ${error instanceof Error ? error.message : String(error)}\n`);
      return 1;
    }
  },
};
