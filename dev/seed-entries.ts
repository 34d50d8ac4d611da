/**
 * Turns the files of kv-seeds/ and policies/ into the KV entries the gateway reads (see
 * worker/workload CONFIG_KEYS). Pure, so `npm start` (Node) and the workerd tests build the same
 * entries from the same files (and the CLI's `policy validate` the same bundle version).
 */
import { policyBundleFromSources } from "../worker/policy/bundle.ts";

export interface SeedFiles {
  tenants: unknown;
  issuers: unknown;
  trustDomains: unknown;
  workloads: unknown;
  backends: unknown;
  tools: unknown;
  entities: unknown;
  schema: string;
  /** Policy file name → text. */
  policies: Record<string, string>;
}

export interface KvEntry {
  key: string;
  value: string;
}

export function buildSeedEntries(files: SeedFiles): KvEntry[] {
  const registry = {
    tenants: files.tenants,
    issuers: files.issuers,
    trustDomains: files.trustDomains,
    workloads: files.workloads,
    backends: files.backends,
    tools: files.tools,
  };
  return [
    { key: "config/registry", value: JSON.stringify(registry) },
    { key: "config/policy", value: JSON.stringify(policyBundleFromSources(files.schema, files.policies)) },
    { key: "config/entities", value: JSON.stringify(files.entities) },
  ];
}
