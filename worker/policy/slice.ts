/**
 * The entity store and the per-request slice.
 *
 * Cedar's cost grows with the entities it is handed (≈12 µs each in cedar-wasm, parsed against the
 * schema on every call), so each decision gets only the slice it can reach: the principal, the
 * resource, entities referenced from the context and from policy conditions (literals such as
 * `Group::"auditors"`), closed under parents and under entity references inside attributes
 * (`principal.tenant`, and that tenant's own references, …).
 *
 * Why this never changes a decision: Cedar reaches an entity's data only by (a) dereferencing an
 * attribute of an entity value, (b) an `in` test on an entity value, which reads that entity's
 * ancestors, or (c) `has`/`getTag`/`hasTag` on one. Every entity value in an evaluation originates
 * from principal/resource/action, the context, a policy literal or an attribute or tag of a reachable
 * entity, and the slice contains all of those with their ancestors. (Actions come from the schema.)
 * test/unit/policy/cedar-vectors.test.ts checks this against Cedar's own integration tests.
 */
import { PolicyEntitiesError } from "./errors.ts";
import type { AttributeState } from "./scope.ts";
import type { EntityJson, EntityRef } from "./types.ts";

export function entityKey(ref: EntityRef): string {
  return JSON.stringify([ref.type, ref.id]);
}

/** The action of a request as an entity reference: the gateway's id form is `Action::"<id>"`. */
export function actionRef(action: string | EntityRef): EntityRef {
  return typeof action === "string" ? { type: "Action", id: action } : { type: action.type, id: action.id };
}

export function isEntityRef(value: unknown): value is EntityRef {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const record = value as Record<string, unknown>;
  return typeof record.type === "string" && typeof record.id === "string";
}

/**
 * Every entity reference inside a Cedar JSON value: `{ "__entity": { type, id } }` and, because
 * Cedar accepts it where the schema expects an entity, a bare `{ type, id }` record. Over-collecting
 * (a record that merely looks like a reference) only costs a lookup that finds nothing.
 */
export function collectEntityRefs(value: unknown, into: EntityRef[]): void {
  if (Array.isArray(value)) {
    for (const item of value) collectEntityRefs(item, into);
    return;
  }
  if (typeof value !== "object" || value === null) return;
  const record = value as Record<string, unknown>;
  if ("__entity" in record && isEntityRef(record.__entity)) {
    into.push({ type: record.__entity.type, id: record.__entity.id });
    return;
  }
  if ("__extn" in record) return;
  if (isEntityRef(record) && Object.keys(record).length === 2) {
    into.push({ type: record.type, id: record.id });
    return;
  }
  for (const member of Object.values(record)) collectEntityRefs(member, into);
}

interface StoredEntity {
  readonly entity: EntityJson;
  /** Keys of the entities this one can lead Cedar to: its parents and its attributes' and tags' references. */
  readonly edges: readonly string[];
  /** Keys of its declared parents. */
  readonly parents: readonly string[];
}

/** An immutable, indexed entity set. Built once per compile. */
export class EntityStore {
  private readonly entities: ReadonlyMap<string, StoredEntity>;
  /** Ancestor sets by entity key, computed on first use (bounded by the store's size). */
  private readonly ancestry = new Map<string, ReadonlySet<string>>();

  private constructor(entities: ReadonlyMap<string, StoredEntity>) {
    this.entities = entities;
  }

  /**
   * Checks the shape of every entity, drops exact duplicates (the registry and the identity seed may
   * both supply a tenant) and refuses conflicting ones. Schema conformance is Cedar's check, done by
   * the compiler.
   */
  static from(input: unknown): EntityStore {
    if (!Array.isArray(input)) throw new PolicyEntitiesError("entities must be an array");
    const entities = new Map<string, StoredEntity>();
    const problems: string[] = [];
    input.forEach((raw: unknown, index) => {
      const problem = shapeProblem(raw);
      if (problem !== undefined) {
        problems.push(`entities[${index}]: ${problem}`);
        return;
      }
      const entity = raw as EntityJson;
      const key = entityKey(entity.uid);
      const existing = entities.get(key);
      if (existing !== undefined) {
        if (JSON.stringify(existing.entity) !== JSON.stringify(entity)) {
          problems.push(`entities[${index}]: ${entity.uid.type}::${JSON.stringify(entity.uid.id)} is defined twice, differently`);
        }
        return;
      }
      const refs: EntityRef[] = [...entity.parents];
      collectEntityRefs(entity.attrs, refs);
      if (entity.tags !== undefined) collectEntityRefs(entity.tags, refs);
      entities.set(key, { entity, edges: [...new Set(refs.map(entityKey))], parents: [...new Set(entity.parents.map(entityKey))] });
    });
    if (problems.length > 0) throw new PolicyEntitiesError("bad entities", problems);
    return new EntityStore(entities);
  }

  get size(): number {
    return this.entities.size;
  }

  has(ref: EntityRef): boolean {
    return this.entities.has(entityKey(ref));
  }

  /** All entities, sorted by uid: the canonical order for hashing. */
  all(): EntityJson[] {
    return [...this.entities.keys()].sort().map((key) => this.entities.get(key)!.entity);
  }

  /**
   * Keys of every ancestor of the entity `key`: the closure of declared parents, a parent the store
   * does not define included (Cedar counts it) but not followed further (it has no parents). Empty
   * for an entity the store does not hold. Exactly the ancestry Cedar computes from any slice that
   * contains the entity, since a slice is closed under parents.
   */
  ancestorsOf(key: string): ReadonlySet<string> {
    const known = this.ancestry.get(key);
    if (known !== undefined) return known;
    const seen = new Set<string>();
    const queue = [...(this.entities.get(key)?.parents ?? [])];
    while (queue.length > 0) {
      const next = queue.pop()!;
      if (seen.has(next)) continue;
      seen.add(next);
      for (const up of this.entities.get(next)?.parents ?? []) queue.push(up);
    }
    this.ancestry.set(key, seen);
    return seen;
  }

  /** What an `== <entity literal>` test on the stored attribute can be decided to (see `AttributeState`). */
  attributeState(key: string, attr: string): AttributeState | undefined {
    const attrs = this.entities.get(key)?.entity.attrs;
    if (attrs === undefined || !Object.hasOwn(attrs, attr)) return undefined;
    const value: unknown = attrs[attr];
    if (typeof value !== "object" || value === null || Array.isArray(value)) return "other";
    const record = value as Record<string, unknown>;
    if ("__entity" in record) return Object.keys(record).length === 1 && isEntityRef(record.__entity) ? { entity: entityKey(record.__entity) } : undefined;
    if ("type" in record || "id" in record) return undefined; // a schema may read `{ type, id }` as an entity reference
    return "other"; // a record or an extension value (`__extn`): never equal to an entity
  }

  /** The closure of `roots` under parents and attribute references; unknown refs are skipped. */
  slice(roots: Iterable<EntityRef>): EntityJson[] {
    const seen = new Set<string>();
    const queue: string[] = [];
    for (const root of roots) {
      const key = entityKey(root);
      if (!seen.has(key)) {
        seen.add(key);
        queue.push(key);
      }
    }
    const out: EntityJson[] = [];
    for (let i = 0; i < queue.length; i++) {
      const stored = this.entities.get(queue[i]!);
      if (stored === undefined) continue;
      out.push(stored.entity);
      for (const edge of stored.edges) {
        if (!seen.has(edge)) {
          seen.add(edge);
          queue.push(edge);
        }
      }
    }
    return out;
  }
}

/** Cedar's JSON entity format; `tags` is optional. */
const ENTITY_MEMBERS: ReadonlySet<string> = new Set(["uid", "attrs", "parents", "tags"]);

function shapeProblem(raw: unknown): string | undefined {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return "not an object";
  const entity = raw as Record<string, unknown>;
  if (!isEntityRef(entity.uid)) return "uid must be { type: string, id: string }";
  if (typeof entity.attrs !== "object" || entity.attrs === null || Array.isArray(entity.attrs)) return "attrs must be an object";
  if (!Array.isArray(entity.parents) || !entity.parents.every(isEntityRef)) return "parents must be an array of { type, id }";
  if (entity.tags !== undefined && (typeof entity.tags !== "object" || entity.tags === null || Array.isArray(entity.tags))) {
    return "tags must be an object";
  }
  for (const key of Object.keys(entity)) {
    if (!ENTITY_MEMBERS.has(key)) return `unexpected member ${JSON.stringify(key)}`;
  }
  return undefined;
}
