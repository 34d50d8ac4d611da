/**
 * The policy world the gateway compiles at configuration load, read from disk: the bundle built from
 * `policies/` and the entity store built from `kv-seeds/` as worker/workload/index.ts builds it (the
 * registry's tenants, backends and tools as Cedar entities, authoritative over the entity seed), with
 * the gateway's own `parseRegistry` and `worldEntities`.
 */
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { worldEntities as registryWorld } from "../../worker/workload/entities.ts";
import { parseRegistry, type Registry } from "../../worker/workload/registry.ts";
import { policyBundleFromSources, type EntityJson, type PolicyBundle } from "../cedar-node.ts";

export interface PolicySources {
  bundle: PolicyBundle;
  /** File name → text of every `*.cedar` file, for locating a problem. */
  files: Record<string, string>;
}

export function readPolicySources(dir: string): PolicySources {
  const schema = readFileSync(join(dir, "schema.cedarschema"), "utf8");
  const files: Record<string, string> = {};
  for (const name of readdirSync(dir).filter((n) => n.endsWith(".cedar")).sort()) files[name] = readFileSync(join(dir, name), "utf8");
  return { bundle: policyBundleFromSources(schema, files), files };
}

function readJson(path: string): unknown {
  return JSON.parse(readFileSync(path, "utf8")) as unknown;
}

export function readRegistry(seedDir: string): Registry {
  const part = (name: string): unknown => readJson(join(seedDir, `${name}.json`));
  return parseRegistry({ tenants: part("tenants"), issuers: part("issuers"), backends: part("backends"), tools: part("tools") });
}

/** Registry-derived entities first; stored entities that the registry also defines are dropped. */
export function worldEntities(registry: Registry, stored: unknown): EntityJson[] {
  if (!Array.isArray(stored)) throw new TypeError("the entity seed must be a JSON array");
  return registryWorld(registry, stored);
}

export function readEntitySeed(path: string): unknown {
  return readJson(path);
}
