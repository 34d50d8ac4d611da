/** Reads kv-seeds/ and policies/ from disk into KV entries (Node side of dev/seed-entries.ts). */
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { buildSeedEntries, type KvEntry } from "./seed-entries.ts";

const root = join(import.meta.dirname, "..");

function json(path: string): unknown {
  return JSON.parse(readFileSync(join(root, path), "utf8"));
}

export function seedEntries(): KvEntry[] {
  const policyDir = join(root, "policies");
  const policies = Object.fromEntries(
    readdirSync(policyDir)
      .filter((f) => f.endsWith(".cedar"))
      .map((f) => [f, readFileSync(join(policyDir, f), "utf8")]),
  );
  return buildSeedEntries({
    tenants: json("kv-seeds/tenants.json"),
    issuers: json("kv-seeds/issuers.json"),
    trustDomains: json("kv-seeds/trust-domains.json"),
    workloads: json("kv-seeds/workloads.json"),
    backends: json("kv-seeds/backends.json"),
    tools: json("kv-seeds/tools.json"),
    entities: json("kv-seeds/entities.json"),
    schema: readFileSync(join(policyDir, "schema.cedarschema"), "utf8"),
    policies,
  });
}
