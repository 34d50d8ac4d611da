/**
 * `verity bundle keygen|sign|verify|publish`, spawned as an operator runs them: a bundle the gateway
 * would refuse is refused here with the same code, and is never published.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkBundle, runWrangler } from "../../cli/lib/bundle-files.ts";
import { seedEntries } from "../../dev/seed.ts";
import { DEV_TRUSTED_KEYS } from "../../dev/signing/sign-bundle.ts";
import { BUNDLE_KEY } from "../../worker/workload/bundle-format.ts";
import { REPO, verity } from "./run-cli.ts";

const temp = mkdtempSync(join(tmpdir(), "verity-bundle-"));
afterAll(() => rmSync(temp, { recursive: true, force: true }));

const DEV_KEY = join(REPO, "dev", "signing", "dev-bundle-key.json");
/** wrangler.toml pins no key; the local stack (and these tests) trust the dev key's public half. */
const DEV_TRUSTED = join(REPO, "dev", "signing", "trusted-keys.json");
const TRUSTED = ["--trusted-keys", DEV_TRUSTED];
const signedFile = join(temp, "signed.json");

beforeAll(async () => {
  const { code, stderr } = await verity(["bundle", "sign", "--key", DEV_KEY, "--version", "42", "--out", signedFile]);
  expect(stderr).toContain("signed bundle version 42 with verity-dev-bundle-1");
  expect(code).toBe(0);
});

type Bundle = { documents: { registry: { backends: Array<{ baseUrl: string }> } }; envelope: { signatures: unknown[] } };

function variant(name: string, change: (bundle: Bundle) => void): string {
  const bundle = JSON.parse(readFileSync(signedFile, "utf8")) as Bundle;
  change(bundle);
  const path = join(temp, name);
  writeFileSync(path, JSON.stringify(bundle));
  return path;
}

describe("verity bundle sign / verify", () => {
  it("verifies a bundle signed with the dev key against the keys pinned in wrangler.toml", async () => {
    const { code, stdout, stderr } = await verity(["bundle", "verify", signedFile, ...TRUSTED]);
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(stdout).toMatch(/^bundle valid: version 42, signed by verity-dev-bundle-1, issued \S+; policy version [0-9a-f]{64}\n/);
    expect(stdout).toMatch(/registry +sha256:[0-9a-f]{64}\n +policy +sha256:[0-9a-f]{64}\n +entities +sha256:[0-9a-f]{64}\n$/);
  });

  it("trusts nothing by default: the repository's wrangler.toml pins no key, so a deployment never trusts the dev key", async () => {
    const result = await verity(["bundle", "verify", signedFile]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("trust_config_invalid: wrangler.toml pins no BUNDLE_TRUSTED_KEYS");
    expect(JSON.parse(readFileSync(DEV_TRUSTED, "utf8"))).toEqual(JSON.parse(DEV_TRUSTED_KEYS));
  });

  it("refuses a tampered document, an unsigned bundle, a rollback, each with the gateway's code", async () => {
    const tampered = variant("tampered.json", (b) => (b.documents.registry.backends[0]!.baseUrl = "https://attacker.example"));
    const unsigned = variant("unsigned.json", (b) => (b.envelope.signatures = []));
    for (const [args, code] of [
      [[tampered], "bundle_digest_mismatch"],
      [[unsigned], "bundle_unsigned"],
      [[signedFile, "--min-version", "43"], "bundle_rollback"],
    ] as const) {
      const result = await verity(["bundle", "verify", ...args, ...TRUSTED]);
      expect(result.code, code).toBe(1);
      expect(result.stderr).toContain(`verity bundle verify: ${code}: `);
    }
  });

  it("refuses a truncated file and one with duplicate keys", async () => {
    const text = readFileSync(signedFile, "utf8");
    writeFileSync(join(temp, "truncated.json"), text.slice(0, text.length / 2));
    writeFileSync(join(temp, "duplicate.json"), `{"documents":{},${text.slice(1)}`);
    expect((await verity(["bundle", "verify", join(temp, "truncated.json"), ...TRUSTED])).stderr).toContain("bundle_malformed");
    expect((await verity(["bundle", "verify", join(temp, "duplicate.json"), ...TRUSTED])).stderr).toContain("bundle_duplicate_key");
  });

  it("refuses a signed bundle whose configuration the gateway would not load", async () => {
    const seeds = join(temp, "bad-seeds");
    cpSync(join(REPO, "kv-seeds"), seeds, { recursive: true });
    const backends = JSON.parse(readFileSync(join(seeds, "backends.json"), "utf8")) as Array<{ tier: string }>;
    backends[0]!.tier = "premium";
    writeFileSync(join(seeds, "backends.json"), JSON.stringify(backends));
    const out = join(temp, "bad-config.json");
    expect((await verity(["bundle", "sign", "--key", DEV_KEY, "--seeds", seeds, "--out", out])).code).toBe(0);
    const { code, stderr } = await verity(["bundle", "verify", out, ...TRUSTED]);
    expect(code).toBe(1);
    expect(stderr).toContain("config_invalid");
  });

  it("rotates: a new key is refused until pinned, then accepted beside the old one", async () => {
    const keyFile = join(temp, "next-key.json");
    const keygen = await verity(["bundle", "keygen", "--kid", "verity-next", "--out", keyFile]);
    expect(keygen.code).toBe(0);
    const newPublic = JSON.parse(keygen.stdout) as { keys: Array<Record<string, string>> };
    expect(newPublic.keys[0]).toEqual({ kty: "OKP", crv: "Ed25519", x: expect.stringMatching(/^[\w-]{43}$/), kid: "verity-next" });
    expect(JSON.parse(readFileSync(keyFile, "utf8"))).toHaveProperty("d");

    const out = join(temp, "next-signed.json");
    expect((await verity(["bundle", "sign", "--key", keyFile, "--version", "50", "--out", out])).code).toBe(0);
    const unpinned = await verity(["bundle", "verify", out, ...TRUSTED]);
    expect(unpinned.code).toBe(1);
    expect(unpinned.stderr).toContain("bundle_unknown_key");

    const both = JSON.parse(readFileSync(DEV_TRUSTED, "utf8")) as { keys: unknown[] };
    const pinnedFile = join(temp, "pinned.json");
    writeFileSync(pinnedFile, JSON.stringify({ keys: [...both.keys, ...newPublic.keys] }));
    const pinned = await verity(["bundle", "verify", out, "--trusted-keys", pinnedFile]);
    expect(pinned.stderr).toBe("");
    expect(pinned.stdout).toContain("version 50, signed by verity-next");
  });

  it("npm start's seeds (Node's synchronous signer) verify as the Web Crypto ones do", async () => {
    const [entry] = seedEntries();
    expect(entry!.key).toBe(BUNDLE_KEY);
    const { bundle } = await checkBundle(new TextEncoder().encode(entry!.value), readFileSync(DEV_TRUSTED, "utf8"), 1);
    expect(bundle.keyid).toBe("verity-dev-bundle-1");
  });
});

describe("verity bundle publish --local", () => {
  it("writes a verified bundle to the local KV namespace, and refuses a tampered one without writing", async () => {
    const persistTo = join(temp, "state");
    const published = await verity(["bundle", "publish", signedFile, "--local", "--persist-to", persistTo, ...TRUSTED]);
    expect(published.stderr).toBe("");
    expect(published.code).toBe(0);
    expect(published.stdout).toContain("published bundle version 42");
    const get = () => runWrangler(["kv", "key", "get", BUNDLE_KEY, "--binding", "CONFIG", "--local", "--persist-to", persistTo]);
    expect((await get()).trim()).toBe(readFileSync(signedFile, "utf8").trim());

    const tampered = variant("tampered-publish.json", (b) => (b.documents.registry.backends[0]!.baseUrl = "https://attacker.example"));
    const refused = await verity(["bundle", "publish", tampered, "--local", "--persist-to", persistTo, ...TRUSTED]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("bundle_digest_mismatch");
    expect((await get()).trim()).toBe(readFileSync(signedFile, "utf8").trim());
  }, 90_000);

  it("insists on --local", async () => {
    const { code, stderr } = await verity(["bundle", "publish", signedFile, ...TRUSTED]);
    expect(code).toBe(2);
    expect(stderr).toContain("--local");
  });
});
