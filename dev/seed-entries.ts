/**
 * Turns the files of kv-seeds/ and policies/ into the KV entries the gateway reads (see
 * worker/workload CONFIG_KEYS). Pure, so `npm start` (Node) and the workerd tests build the same
 * entries from the same files.
 */

export interface SeedFiles {
  tenants: unknown;
  issuers: unknown;
  backends: unknown;
  tools: unknown;
  entities: unknown;
  schema: string;
  /** Policy files' texts, in file-name order. */
  policies: string[];
}

export interface KvEntry {
  key: string;
  value: string;
}

export function buildSeedEntries(files: SeedFiles): KvEntry[] {
  const registry = { tenants: files.tenants, issuers: files.issuers, backends: files.backends, tools: files.tools };
  return [
    { key: "config/registry", value: JSON.stringify(registry) },
    { key: "config/policy", value: JSON.stringify({ schema: files.schema, policies: files.policies.join("\n") }) },
    { key: "config/entities", value: JSON.stringify(files.entities) },
  ];
}
