/**
 * The entity store the PDP compiles against: the registry's tenants, backends and tools as Cedar
 * entities, plus the stored entities (people, groups, documents). Pure; the CLI builds the same world.
 */
import type { EntityJson } from "../policy/types.ts";
import type { Registry } from "./registry.ts";

const LEVELS = { public: 0, internal: 1, confidential: 2, restricted: 3 } as const;

export function registryEntities(registry: Registry): EntityJson[] {
  const entities: EntityJson[] = [];
  for (const tenant of registry.tenants.values()) {
    entities.push({ uid: { type: "Tenant", id: tenant.id }, attrs: { residency: tenant.residency }, parents: [] });
  }
  for (const b of registry.backends) {
    entities.push({ uid: { type: "Backend", id: b.id }, attrs: { region: b.region, jurisdiction: b.jurisdiction, tier: b.tier }, parents: [] });
  }
  for (const t of registry.tools.values()) {
    entities.push({
      uid: { type: "Tool", id: t.id },
      attrs: { tenant: { __entity: { type: "Tenant", id: t.tenant } }, requiresMfa: t.requiresMfa, classification: LEVELS[t.classification] },
      parents: [],
    });
  }
  return entities;
}

/** The registry is authoritative for tenants, backends and tools: stored entities it also defines are dropped. */
export function worldEntities(registry: Registry, stored: readonly unknown[]): EntityJson[] {
  const derived = registryEntities(registry);
  const derivedIds = new Set(derived.map((e) => `${e.uid.type}::${e.uid.id}`));
  const people = (stored as EntityJson[]).filter((e) => !derivedIds.has(`${e?.uid?.type}::${e?.uid?.id}`));
  return [...derived, ...people];
}
