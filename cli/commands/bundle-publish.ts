/** `verity bundle publish --local`: verifies a bundle, then writes it to the local stack's KV. */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { BUNDLE_KEY } from "../../worker/workload/bundle-format.ts";
import { UsageError, type Command } from "../lib/command.ts";
import { BundleCheckError, checkBundle, minVersion, runWrangler, trustedKeysText } from "../lib/bundle-files.ts";
import { REPO_ROOT } from "../lib/paths.ts";

const usage = `usage: verity bundle publish <bundle.json> --local [--persist-to <dir>] [--trusted-keys <file>]

Verifies the bundle as \`verity bundle verify\` does (keys and floor from wrangler.toml), then writes
it to the local KV namespace CONFIG under ${BUNDLE_KEY}, where \`npm start\`'s gateway picks it up
within CONFIG_REFRESH_MS. A bundle the gateway would refuse is never published.

  --local               required: publish to the local stack (wrangler's local state)
  --persist-to <dir>    wrangler's state directory (default: .wrangler/state, as \`npm start\`)
  --trusted-keys <file> a JWK Set of pinned public keys (default: BUNDLE_TRUSTED_KEYS in wrangler.toml;
                        the local stack trusts dev/signing/trusted-keys.json)

Publishing to a deployed gateway is wrangler's job, after \`verity bundle verify\`:
  npx wrangler kv key put --binding CONFIG --remote ${BUNDLE_KEY} --path <bundle.json>`;

export const bundlePublish: Command = {
  name: "bundle publish",
  summary: "verifies a signed bundle and writes it to the local stack's KV (--local)",
  usage,
  async run(argv) {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { local: { type: "boolean" }, "persist-to": { type: "string" }, "trusted-keys": { type: "string" } },
    });
    if (positionals.length !== 1) throw new UsageError("one bundle file is required");
    if (!values.local) throw new UsageError("only --local publishing is supported (see below for a deployed gateway)");
    const path = resolve(positionals[0]!);
    try {
      const { bundle } = await checkBundle(new Uint8Array(readFileSync(path)), trustedKeysText(values["trusted-keys"]), minVersion(undefined));
      const persistTo = resolve(values["persist-to"] ?? resolve(REPO_ROOT, ".wrangler", "state"));
      await runWrangler(["kv", "key", "put", BUNDLE_KEY, "--path", path, "--binding", "CONFIG", "--local", "--persist-to", persistTo]);
      process.stdout.write(`published bundle version ${bundle.version} (signed by ${bundle.keyid}) to local KV CONFIG ${BUNDLE_KEY} in ${persistTo}\n`);
      return 0;
    } catch (error) {
      const code = error instanceof BundleCheckError ? `${error.code}: ` : "";
      process.stderr.write(`verity bundle publish: ${code}${error instanceof Error ? error.message : String(error)}\n`);
      return 1;
    }
  },
};
