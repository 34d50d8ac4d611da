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
 * What "provably cannot match" means per constraint. By request *shape* (principal type P):
 *
 *   principal == T::"id"      P ≠ T
 *   principal is T            P ≠ T
 *   principal in T::"id"      P ≠ T and T is not a possible ancestor type of P
 *   principal is T in E       either of the two above
 *   action == A               A ≠ the request action (type and id: `NS::Action::"x"` ≠ `Action::"x"`)
 *   action in A / in [A, …]   no A is the request action or one of its ancestors (schema's memberOf,
 *                             with fully qualified types)
 *
 * and, finer, by the request's *entities* (principal p with ancestor set anc(p)):
 *
 *   principal == E            p ≠ E
 *   principal in E            p ≠ E and E ∉ anc(p)
 *   principal is T in E       P ≠ T, or p ≠ E and E ∉ anc(p)
 *
 * (the resource like the principal). anc(p) is the closure of the store's parent edges from p (a
 * declared parent counts whether or not the store defines it, as in Cedar), plus, for the principal,
 * the asserted groups and their ancestors: exactly the ancestry Cedar computes from the entity
 * slice, which holds p and its parents' closure with the same parents. An entity not in the store
 * (an unknown resource) has no ancestors in Cedar either. "Possible ancestor types of P", for the
 * shape-only form, is the same relation taken on types. Action entities are not in the store (Cedar
 * takes them from the schema): a principal or resource of an action type keeps every `in`.
 *
 * One condition form is decided too, the tenant test `principal.tenant == Tenant::"t"` (any
 * attribute, `principal` or `resource`, either side of `==`, an entity literal), but only as the
 * first conjunct of a first `when` clause: see `AttributeGuard` for why that placement makes
 * "false without error" provable from the store, and `AttributeState` for which stored values count.
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
  /** A first condition the slicer can decide from the store (see `AttributeGuard`); absent if none. */
  readonly guard?: AttributeGuard;
}

/**
 * A principal or resource constraint. `unknown` (anything unexpected) always matches. `uid` is the
 * constraint's entity (an `entityKey`), `type` its type.
 *
 *   principal == T::"id"        { kind: "eq", type: T, uid }
 *   principal is T              { kind: "type", type: T }
 *   principal is T in U::"id"   { kind: "type", type: T, inType: U, inUid }
 *   principal in U::"id"        { kind: "in", inType: U, inUid }
 */
type EntityTest =
  | { kind: "any" }
  | { kind: "unknown" }
  | { kind: "eq"; type: string; uid: string }
  | { kind: "type"; type: string; inType?: string; inUid?: string }
  | { kind: "in"; inType: string; inUid: string };

type ActionTest = { kind: "any" } | { kind: "unknown" } | { kind: "one-of"; uids: readonly string[] };

/**
 * `principal.<attr> == E` (or `resource.…`, either side of `==`) with an entity literal `E`, when it
 * is the first thing Cedar evaluates after the scope: the leftmost conjunct of a `when` clause that
 * is the policy's first clause. Cedar evaluates `a && b` left to right and stops at the first false,
 * so when that conjunct is false *without an error* the policy is neither satisfied nor erroneous,
 * whatever follows. `==` never errs; the attribute access errs only when the entity or the attribute
 * does not exist. The slicer therefore drops the policy only when the store's entity has the
 * attribute and its value is certainly not `E` (see `AttributeState`).
 */
export interface AttributeGuard {
  readonly variable: "principal" | "resource";
  readonly attr: string;
  /** `entityKey` of the literal. */
  readonly uid: string;
}

/** Reads the scope of one policy from its JSON form (`policyToJson`). */
export function policyScope(id: string, json: PolicyJson): PolicyScope {
  const guard = attributeGuard(json.conditions as unknown);
  return {
    id,
    principal: entityTest(json.principal as unknown),
    resource: entityTest(json.resource as unknown),
    action: actionTest(json.action as unknown),
    ...(guard === undefined ? {} : { guard }),
  };
}

function entityTest(raw: unknown): EntityTest {
  if (!isRecord(raw)) return { kind: "unknown" };
  switch (raw.op) {
    case "All":
      return { kind: "any" };
    case "==": {
      const uid = uidOf(raw.entity);
      return uid === undefined ? { kind: "unknown" } : { kind: "eq", type: uid.type, uid: uidKey(uid.type, uid.id) };
    }
    case "in": {
      const uid = uidOf(raw.entity);
      return uid === undefined ? { kind: "unknown" } : { kind: "in", inType: uid.type, inUid: uidKey(uid.type, uid.id) };
    }
    case "is": {
      if (typeof raw.entity_type !== "string") return { kind: "unknown" };
      if (raw.in === undefined) return { kind: "type", type: raw.entity_type };
      const uid = isRecord(raw.in) ? uidOf(raw.in.entity) : undefined;
      return uid === undefined ? { kind: "unknown" } : { kind: "type", type: raw.entity_type, inType: uid.type, inUid: uidKey(uid.type, uid.id) };
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

/** The guard of a policy's conditions (JSON form), if its first clause starts with one. */
function attributeGuard(conditions: unknown): AttributeGuard | undefined {
  if (!Array.isArray(conditions) || conditions.length === 0) return undefined;
  const first: unknown = conditions[0];
  if (!isRecord(first) || first.kind !== "when") return undefined;
  // The leftmost leaf of the `&&` spine is what Cedar evaluates first.
  let node: unknown = first.body;
  while (isRecord(node) && Object.keys(node).length === 1 && isRecord(node["&&"])) node = node["&&"].left;
  if (!isRecord(node) || Object.keys(node).length !== 1 || !isRecord(node["=="])) return undefined;
  const { left, right } = node["=="];
  return guardOf(left, right) ?? guardOf(right, left);
}

function guardOf(access: unknown, literal: unknown): AttributeGuard | undefined {
  if (!isRecord(access) || Object.keys(access).length !== 1 || !isRecord(access["."])) return undefined;
  const { left, attr } = access["."];
  if (typeof attr !== "string" || !isRecord(left) || Object.keys(left).length !== 1) return undefined;
  const variable = left.Var;
  if (variable !== "principal" && variable !== "resource") return undefined;
  if (!isRecord(literal) || Object.keys(literal).length !== 1 || !isRecord(literal.Value)) return undefined;
  const value = literal.Value;
  if (Object.keys(value).length !== 1 || !isRecord(value.__entity)) return undefined;
  const uid = uidOf(value);
  return uid === undefined ? undefined : { variable, attr, uid: uidKey(uid.type, uid.id) };
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
export function isActionType(type: string): boolean {
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

/**
 * What the slicer knows of a request's principal or resource. With only `type` (a request *shape*)
 * every UID constraint is decided on types alone. With `uid` (the entity's key) `==` is decided
 * exactly; with `ancestors` too — the keys of all its ancestors exactly as Cedar will see them in the
 * entity slice: the store's parent closure, plus the asserted groups for the principal — so is `in`.
 * `attrs` gives the guard attributes' states; an attribute not in it keeps its guarded policies.
 */
export interface EntityFacts {
  readonly type: string;
  readonly uid?: string;
  readonly ancestors?: ReadonlySet<string>;
  readonly attrs?: ReadonlyMap<string, AttributeState>;
}

/**
 * An attribute of a stored entity, as far as an `== E` guard is concerned: `{ entity: key }` when
 * its value is `{ "__entity": … }` (unambiguous with or without a schema), `"other"` when it is a
 * value that can never equal an entity (a string, number, boolean, set, or a record that is neither
 * an entity reference nor shaped like one). A missing attribute, a missing entity, or a record that
 * the schema could read as an implicit entity reference (`{ type, id }`) has no state: kept.
 */
export type AttributeState = { readonly entity: string } | "other";

/** Decides which policies can match a request. Pure; built once per compile. */
export class ScopeIndex {
  /** Every UID a principal (resource) scope names: the only ancestors that can change a slice. */
  readonly principalUids: ReadonlySet<string>;
  readonly resourceUids: ReadonlySet<string>;
  /** Attributes of `principal` (`resource`) that guards test. */
  readonly principalGuardAttrs: ReadonlySet<string>;
  readonly resourceGuardAttrs: ReadonlySet<string>;

  constructor(
    private readonly scopes: readonly PolicyScope[],
    private readonly ancestors: ReadonlyMap<string, ReadonlySet<string>>,
    private readonly actions: ReadonlyMap<string, ReadonlySet<string>> | undefined,
  ) {
    const named = (test: EntityTest): string | undefined => (test.kind === "eq" ? test.uid : test.kind === "in" || test.kind === "type" ? test.inUid : undefined);
    const collect = (pick: (scope: PolicyScope) => string | undefined) => {
      const out = new Set<string>();
      for (const scope of scopes) {
        const value = pick(scope);
        if (value !== undefined) out.add(value);
      }
      return out;
    };
    this.principalUids = collect((s) => named(s.principal));
    this.resourceUids = collect((s) => named(s.resource));
    this.principalGuardAttrs = collect((s) => (s.guard?.variable === "principal" ? s.guard.attr : undefined));
    this.resourceGuardAttrs = collect((s) => (s.guard?.variable === "resource" ? s.guard.attr : undefined));
  }

  /**
   * The ids of the policies whose scope can match, in policy order. `action` is a full reference:
   * `Action::"x"` in Verity's schema, `NS::Action::"x"` in a namespaced one (the schema's action
   * hierarchy is read with fully qualified types, so the two never collide).
   */
  candidates(action: EntityRef, principal: EntityFacts, resource: EntityFacts): string[] {
    const actionKey = uidKey(action.type, action.id);
    // An action the schema does not know has no ancestors (Cedar would have no entity for it: with a
    // schema, Cedar takes action entities from the schema and refuses undeclared ones in entity data).
    const actionSet = this.actions === undefined ? undefined : (this.actions.get(actionKey) ?? new Set([actionKey]));
    const kept: string[] = [];
    for (const scope of this.scopes) {
      if (!this.actionCanMatch(scope.action, actionKey, actionSet)) continue;
      if (!this.entityCanMatch(scope.principal, principal)) continue;
      if (!this.entityCanMatch(scope.resource, resource)) continue;
      if (scope.guard !== undefined && guardFails(scope.guard, scope.guard.variable === "principal" ? principal : resource)) continue;
      kept.push(scope.id);
    }
    return kept;
  }

  private actionCanMatch(test: ActionTest, actionKey: string, actionSet: ReadonlySet<string> | undefined): boolean {
    if (test.kind !== "one-of") return true;
    if (actionSet === undefined) return true; // hierarchy unknown
    return test.uids.some((uid) => uid === actionKey || actionSet.has(uid));
  }

  private entityCanMatch(test: EntityTest, facts: EntityFacts): boolean {
    switch (test.kind) {
      case "any":
      case "unknown":
        return true;
      case "eq":
        // Equality compares UIDs: exact even for action entities.
        return facts.uid === undefined ? test.type === facts.type : facts.uid === test.uid;
      case "type":
        return test.type === facts.type && (test.inUid === undefined || this.canBeIn(facts, test.inType!, test.inUid));
      case "in":
        return this.canBeIn(facts, test.inType, test.inUid);
    }
  }

  /** Can the entity be `in` the entity `target` (of type `targetType`)? */
  private canBeIn(facts: EntityFacts, targetType: string, target: string): boolean {
    if (isActionType(facts.type) || isActionType(targetType)) return true; // ancestry from the schema, not the store
    if (facts.ancestors?.has(target) === true) return true;
    // The entity itself: exact with its UID, else any entity of the target's type may be it.
    if (facts.type === targetType && (facts.uid === undefined || facts.uid === target)) return true;
    if (facts.ancestors !== undefined) return false;
    return this.ancestors.get(facts.type)?.has(targetType) ?? false;
  }
}

/** True when the guard's conjunct is certainly false without an error for this entity. */
function guardFails(guard: AttributeGuard, facts: EntityFacts): boolean {
  const state = facts.attrs?.get(guard.attr);
  if (state === undefined) return false;
  return state === "other" || state.entity !== guard.uid;
}
