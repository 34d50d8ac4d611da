/**
 * Policy slicing, the analysis half: which policies' scopes *can* match a request of a given
 * (action, principal type, resource type). A policy is dropped only when its scope provably cannot
 * match; anything this module does not understand keeps the policy.
 *
 * Why dropping such a policy never changes a decision: Cedar evaluates a policy as
 * `principal-scope && action-scope && resource-scope && when… && !unless…`, left to right with
 * short-circuit, and a scope test never errs (`==`, `in` and `is` on entity values are total). A
 * policy whose scope is false therefore is not satisfied and reports no error: it can be neither a
 * reason nor an error of the answer, and Cedar's decision is a function of the satisfied policies
 * and the errors only.
 *
 * What "provably cannot match" means per constraint, for a request whose principal has type P:
 *
 *   principal == T::"id"      P ≠ T
 *   principal is T            P ≠ T
 *   principal in T::"id"      P ≠ T and T is not a possible ancestor type of P
 *   principal is T in E       either of the two above
 *   action == A               A ≠ the request action (type and id: `NS::Action::"x"` ≠ `Action::"x"`)
 *   action in A / in [A, …]   no A is the request action or one of its ancestors (schema's memberOf,
 *                             with fully qualified types)
 *
 * (the resource like the principal). "Possible ancestor types of P" is computed from the entity
 * store, which is exactly what Cedar sees: the entity slice of a decision is a part of the store
 * closed under parents, so an entity's ancestors in the slice are its ancestors in the store. The
 * relation is taken on types (T → types of the parents of any entity of type T, transitively), an
 * over-approximation of every entity's real ancestry. An entity that is not in the store (an unknown
 * resource) has no ancestors at all, so the approximation covers it too. Action entities are not in
 * the store (Cedar takes them from the schema): a request whose principal or resource is of an
 * action type keeps every `in` constraint.
 */
import type { Cedar } from "./engine.ts";
import type { EntityStore } from "./slice.ts";
import type { EntityRef } from "./types.ts";

type PolicyJson = Extract<ReturnType<Cedar["policyToJson"]>, { type: "success" }>["json"];

/** One policy's scope, reduced to the tests the slicer can decide. */
export interface PolicyScope {
  readonly id: string;
  readonly principal: EntityTest;
  readonly resource: EntityTest;
  readonly action: ActionTest;
}

/** A principal or resource constraint. `unknown` (anything unexpected) always matches. */
type EntityTest =
  | { kind: "any" }
  | { kind: "unknown" }
  | { kind: "type"; type: string; inType?: string } // `== T::"…"` and `is T`, optionally `… in U::"…"`
  | { kind: "in"; inType: string };

type ActionTest = { kind: "any" } | { kind: "unknown" } | { kind: "one-of"; uids: readonly string[] };

/** Reads the scope of one policy from its JSON form (`policyToJson`). */
export function policyScope(id: string, json: PolicyJson): PolicyScope {
  return {
    id,
    principal: entityTest(json.principal as unknown),
    resource: entityTest(json.resource as unknown),
    action: actionTest(json.action as unknown),
  };
}

function entityTest(raw: unknown): EntityTest {
  if (!isRecord(raw)) return { kind: "unknown" };
  switch (raw.op) {
    case "All":
      return { kind: "any" };
    case "==": {
      const uid = uidOf(raw.entity);
      return uid === undefined ? { kind: "unknown" } : { kind: "type", type: uid.type };
    }
    case "in": {
      const uid = uidOf(raw.entity);
      return uid === undefined ? { kind: "unknown" } : { kind: "in", inType: uid.type };
    }
    case "is": {
      if (typeof raw.entity_type !== "string") return { kind: "unknown" };
      if (raw.in === undefined) return { kind: "type", type: raw.entity_type };
      const uid = isRecord(raw.in) ? uidOf(raw.in.entity) : undefined;
      return uid === undefined ? { kind: "unknown" } : { kind: "type", type: raw.entity_type, inType: uid.type };
    }
    default:
      return { kind: "unknown" };
  }
}

function actionTest(raw: unknown): ActionTest {
  if (!isRecord(raw)) return { kind: "unknown" };
  if (raw.op === "All") return { kind: "any" };
  if (raw.op !== "==" && raw.op !== "in") return { kind: "unknown" };
  const list = raw.op === "in" && Array.isArray(raw.entities) ? raw.entities : [raw.entity];
  const uids: string[] = [];
  for (const item of list) {
    const uid = uidOf(item);
    if (uid === undefined) return { kind: "unknown" };
    uids.push(uidKey(uid.type, uid.id));
  }
  // `==` is `in` without the hierarchy; the request action's ancestor set starts with itself, and
  // `==` on an action that has ancestors is still decided exactly below (ancestors only add matches,
  // so treating `==` as `in` keeps more, never fewer).
  return { kind: "one-of", uids };
}

function uidOf(raw: unknown): { type: string; id: string } | undefined {
  if (!isRecord(raw)) return undefined;
  const inner = isRecord(raw.__entity) ? raw.__entity : raw;
  return typeof inner.type === "string" && typeof inner.id === "string" ? { type: inner.type, id: inner.id } : undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function uidKey(type: string, id: string): string {
  return JSON.stringify([type, id]);
}

/** `Action` or `NS::Action`: entities Cedar takes from the schema, not from the store. */
function isActionType(type: string): boolean {
  return type === "Action" || type.endsWith("::Action");
}

/**
 * Possible ancestor types per entity type, from the store's parent edges (see the module comment).
 * A parent that is not itself in the store still counts (Cedar treats a declared parent as an
 * ancestor whether or not it is defined).
 */
export function ancestorTypes(store: EntityStore): ReadonlyMap<string, ReadonlySet<string>> {
  const direct = new Map<string, Set<string>>();
  for (const entity of store.all()) {
    let parents = direct.get(entity.uid.type);
    if (parents === undefined) direct.set(entity.uid.type, (parents = new Set()));
    for (const parent of entity.parents) parents.add(parent.type);
  }
  const closed = new Map<string, ReadonlySet<string>>();
  for (const type of direct.keys()) {
    const seen = new Set<string>();
    const queue = [...(direct.get(type) ?? [])];
    while (queue.length > 0) {
      const next = queue.pop()!;
      if (seen.has(next)) continue;
      seen.add(next);
      for (const up of direct.get(next) ?? []) queue.push(up);
    }
    closed.set(type, seen);
  }
  return closed;
}

/**
 * The action hierarchy from the schema: action uid key → keys of the action and all its ancestors.
 * `undefined` when the schema cannot be read this way; then every `action in …` is kept.
 */
export function actionAncestors(cedar: Cedar, schema: string): ReadonlyMap<string, ReadonlySet<string>> | undefined {
  let answer: ReturnType<Cedar["schemaToJsonWithResolvedTypes"]>;
  try {
    answer = cedar.schemaToJsonWithResolvedTypes(schema);
  } catch {
    return undefined;
  }
  if (answer.type !== "success") return undefined;
  const parents = new Map<string, string[]>();
  for (const [namespace, definition] of Object.entries(answer.json)) {
    const actionType = namespace === "" ? "Action" : `${namespace}::Action`;
    for (const [id, action] of Object.entries(definition.actions ?? {})) {
      parents.set(
        uidKey(actionType, id),
        (action.memberOf ?? []).map((parent) => uidKey(parent.type ?? actionType, parent.id)),
      );
    }
  }
  const closed = new Map<string, ReadonlySet<string>>();
  for (const key of parents.keys()) {
    const seen = new Set<string>([key]);
    const queue = [...parents.get(key)!];
    while (queue.length > 0) {
      const next = queue.pop()!;
      if (seen.has(next)) continue;
      seen.add(next);
      for (const up of parents.get(next) ?? []) queue.push(up);
    }
    closed.set(key, seen);
  }
  return closed;
}

/** Decides, per request shape, which policies to keep. Pure; built once per compile. */
export class ScopeIndex {
  constructor(
    private readonly scopes: readonly PolicyScope[],
    private readonly ancestors: ReadonlyMap<string, ReadonlySet<string>>,
    private readonly actions: ReadonlyMap<string, ReadonlySet<string>> | undefined,
  ) {}

  /**
   * The ids of the policies whose scope can match, in policy order. `action` is a full reference:
   * `Action::"x"` in Verity's schema, `NS::Action::"x"` in a namespaced one (the schema's action
   * hierarchy is read with fully qualified types, so the two never collide).
   */
  candidates(action: EntityRef, principalType: string, resourceType: string): string[] {
    const actionKey = uidKey(action.type, action.id);
    // An action the schema does not know has no ancestors (Cedar would have no entity for it: with a
    // schema, Cedar takes action entities from the schema and refuses undeclared ones in entity data).
    const actionSet = this.actions === undefined ? undefined : (this.actions.get(actionKey) ?? new Set([actionKey]));
    const kept: string[] = [];
    for (const scope of this.scopes) {
      if (!this.actionCanMatch(scope.action, actionKey, actionSet)) continue;
      if (!this.entityCanMatch(scope.principal, principalType)) continue;
      if (!this.entityCanMatch(scope.resource, resourceType)) continue;
      kept.push(scope.id);
    }
    return kept;
  }

  private actionCanMatch(test: ActionTest, actionKey: string, actionSet: ReadonlySet<string> | undefined): boolean {
    if (test.kind !== "one-of") return true;
    if (actionSet === undefined) return true; // hierarchy unknown
    return test.uids.some((uid) => uid === actionKey || actionSet.has(uid));
  }

  private entityCanMatch(test: EntityTest, type: string): boolean {
    switch (test.kind) {
      case "any":
      case "unknown":
        return true;
      case "type":
        return test.type === type && (test.inType === undefined || this.canBeIn(type, test.inType));
      case "in":
        return this.canBeIn(type, test.inType);
    }
  }

  /** Can an entity of type `type` be `in` an entity of type `target`? */
  private canBeIn(type: string, target: string): boolean {
    if (type === target) return true;
    if (isActionType(type) || isActionType(target)) return true;
    return this.ancestors.get(type)?.has(target) ?? false;
  }
}
