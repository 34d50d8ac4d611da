/** `verity bundle keygen`: a new Ed25519 bundle signing key, and the public JWK Set to pin. */
import { writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { UsageError, type Command } from "../lib/command.ts";

const usage = `usage: verity bundle keygen --kid <key-id> --out <private-jwk.json>

Generates an Ed25519 signing key for configuration bundles. The private JWK (with its kid) is written
to --out (mode 0600; keep it out of the repository); the public JWK Set to pin in the Worker's
BUNDLE_TRUSTED_KEYS is printed. For a rotation, pin the old and the new key together, sign with
the new one, then unpin the old one.`;

export const bundleKeygen: Command = {
  name: "bundle keygen",
  summary: "generates an Ed25519 bundle signing key and prints the public JWK Set to pin",
  usage,
  async run(argv) {
    const { values } = parseArgs({ args: argv, options: { kid: { type: "string" }, out: { type: "string" } } });
    if (!values.kid || !/^[A-Za-z0-9._:-]{1,128}$/.test(values.kid)) throw new UsageError("--kid must be 1 to 128 characters [A-Za-z0-9._:-]");
    if (!values.out) throw new UsageError("--out is required");
    const pair = (await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"])) as CryptoKeyPair;
    const { kty, crv, x, d } = await crypto.subtle.exportKey("jwk", pair.privateKey);
    writeFileSync(resolve(values.out), `${JSON.stringify({ kid: values.kid, kty, crv, x, d }, null, 2)}\n`, { mode: 0o600, flag: "wx" });
    process.stdout.write(`${JSON.stringify({ keys: [{ kty, crv, x, kid: values.kid }] })}\n`);
    return 0;
  },
};
