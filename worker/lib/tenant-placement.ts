/**
 * Where a tenant's Durable Objects live. The one way to address a tenant-scoped object (its audit
 * log, payload vault, revocations, rate limiter, its principals' risk engines): by name, inside the tenant's jurisdiction when Cloudflare offers one for
 * it, so an EU tenant's records are created, run and stored in the EU
 * (https://developers.cloudflare.com/durable-objects/reference/data-location/).
 *
 * A jurisdiction is part of an object's id: the same name in another jurisdiction is another object.
 * So a tenant's jurisdiction must not change once it has objects (its log would start empty).
 *
 * `DO_JURISDICTIONS = "off"` is for workerd run locally (wrangler dev, vitest), which refuses
 * jurisdictions ("not implemented in workerd"); deployed, it is absent or "on", and an unknown value
 * is a start-up error, never a silent fallback to no restriction.
 */

/** Tenant jurisdictions (kv-seeds/tenants.json) that are Durable Object jurisdictions as they are. */
const DURABLE_OBJECT_JURISDICTIONS: ReadonlySet<string> = new Set<DurableObjectJurisdiction>(["eu", "us", "fedramp", "fedramp-high"]);

export interface PlacementVars {
  /** "on" (default) or "off" (local workerd only). */
  DO_JURISDICTIONS?: string;
}

export class PlacementError extends Error {
  override readonly name = "PlacementError";
}

export function jurisdictionsEnforced(vars: PlacementVars): boolean {
  const mode = vars.DO_JURISDICTIONS ?? "on";
  if (mode !== "on" && mode !== "off") throw new PlacementError(`DO_JURISDICTIONS must be "on" or "off", not ${JSON.stringify(mode)}`);
  return mode === "on";
}

/**
 * The id of object `name` (a tenant id, or a gateway-wide log such as `_config` when `jurisdiction`
 * is null) in `namespace`. A tenant jurisdiction with no Durable Object counterpart is refused
 * (fail closed: the data would otherwise be stored without the restriction the tenant was promised).
 */
export function placedId<T extends Rpc.DurableObjectBranded | undefined>(
  namespace: DurableObjectNamespace<T>,
  name: string,
  jurisdiction: string | null,
  vars: PlacementVars,
): DurableObjectId {
  if (jurisdiction === null || !jurisdictionsEnforced(vars)) return namespace.idFromName(name);
  if (!DURABLE_OBJECT_JURISDICTIONS.has(jurisdiction)) {
    throw new PlacementError(`tenant jurisdiction ${JSON.stringify(jurisdiction)} has no Durable Object jurisdiction; refusing to store ${name}'s data elsewhere`);
  }
  return namespace.jurisdiction(jurisdiction as DurableObjectJurisdiction).idFromName(name);
}

/** The stub of `name`'s object, addressed through its own jurisdiction's namespace (ids and namespaces must agree). */
export function placedStub<T extends Rpc.DurableObjectBranded | undefined>(
  namespace: DurableObjectNamespace<T>,
  name: string,
  jurisdiction: string | null,
  vars: PlacementVars,
): DurableObjectStub<T> {
  const id = placedId(namespace, name, jurisdiction, vars);
  return namespace.get(id);
}

/**
 * How a caller finds a tenant's jurisdiction: from the configuration in force (worker/index.ts), so
 * every tenant-scoped object is placed by the same rule. Absent (unit tests, benchmarks), objects are
 * addressed by name alone, as under `DO_JURISDICTIONS = "off"`.
 */
export interface TenantPlacement {
  vars: PlacementVars;
  jurisdictionOf(tenant: string): Promise<string | null>;
}

/**
 * The id of `tenant`'s object `name` (the tenant id itself, or a name under it such as
 * `<tenant>/user/<id>`). An id, not a stub: an id is a plain value, while an RPC stub answers
 * wildcard properties (workerd's property access, and proxies standing in for it), so resolving a
 * stub through a promise risks probing it as a thenable. Callers take the stub synchronously.
 */
export async function tenantId<T extends Rpc.DurableObjectBranded | undefined>(
  namespace: DurableObjectNamespace<T>,
  name: string,
  tenant: string,
  placement: TenantPlacement | undefined,
): Promise<DurableObjectId> {
  if (placement === undefined) return namespace.idFromName(name);
  return placedId(namespace, name, await placement.jurisdictionOf(tenant), placement.vars);
}

/**
 * A log or vault name's jurisdiction from the configuration: null for the gateway's own logs (names
 * starting with `_`, which no tenant id can), the tenant's for a tenant. The registry is only read
 * for tenants, so recording a configuration event never waits on loading that configuration.
 */
export async function jurisdictionOfTenant(
  name: string,
  tenants: () => Promise<ReadonlyMap<string, { jurisdiction: string }>>,
): Promise<string | null> {
  if (name.startsWith("_")) return null;
  const tenant = (await tenants()).get(name);
  if (tenant === undefined) throw new PlacementError(`no tenant ${JSON.stringify(name)} in the configuration in force`);
  return tenant.jurisdiction;
}

/** The placement a request's own configuration gives (its tenants' jurisdictions). */
export function placementIn(tenants: ReadonlyMap<string, { jurisdiction: string }>, vars: PlacementVars): TenantPlacement {
  return { vars, jurisdictionOf: (tenant) => jurisdictionOfTenant(tenant, async () => tenants) };
}
