/** Reads kv-seeds/ and policies/ from disk into signed KV entries (Node side of dev/seed-entries.ts). */
import { createPrivateKey, sign } from "node:crypto";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { buildSeedEntries, type KvEntry, type SeedFiles, type SyncSign } from "./seed-entries.ts";
import { DEV_SIGNING_JWK, type SigningJwk } from "./signing/sign-bundle.ts";

const root = join(import.meta.dirname, "..");

function json(path: string): unknown {
  return JSON.parse(readFileSync(path, "utf8"));
}

export function readSeedFiles(seedDir = join(root, "kv-seeds"), policyDir = join(root, "policies")): SeedFiles {
  const at = (name: string) => json(join(seedDir, name));
  const policies = Object.fromEntries(
    readdirSync(policyDir)
      .filter((f) => f.endsWith(".cedar"))
      .map((f) => [f, readFileSync(join(policyDir, f), "utf8")]),
  );
  return {
    tenants: at("tenants.json"),
    issuers: at("issuers.json"),
    trustDomains: at("trust-domains.json"),
    workloads: at("workloads.json"),
    backends: at("backends.json"),
    tools: at("tools.json"),
    transmitters: at("transmitters.json"),
    mcpServers: at("mcp-servers.json"),
    entities: at("entities.json"),
    schema: readFileSync(join(policyDir, "schema.cedarschema"), "utf8"),
    policies,
  };
}

/** Node's synchronous Ed25519 signer for a private JWK (Ed25519 signatures are deterministic, RFC 8032). */
export function nodeSigner(jwk: SigningJwk): SyncSign {
  const key = createPrivateKey({ key: { kty: jwk.kty, crv: jwk.crv, x: jwk.x, d: jwk.d }, format: "jwk" });
  return (signingInput) => ({ keyid: jwk.kid, signature: new Uint8Array(sign(null, signingInput, key)) });
}

/** The seeds as `npm start` and the benchmarks publish them: signed with the TEST-ONLY dev key. */
export function seedEntries(): KvEntry[] {
  return buildSeedEntries(readSeedFiles(), nodeSigner(DEV_SIGNING_JWK));
}
