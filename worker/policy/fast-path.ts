/**
 * The trimmed call: Cedar's cost per decision is dominated not by the policies but by turning the
 * request into Cedar values — the context record and every entity attribute are parsed against the
 * schema and the context is validated on every call. When the answer provably cannot change, the
 * gateway instead hands Cedar only what the slice's policies can read, without the schema:
 *
 *   - the context's top-level attributes that some policy reads as `context.a` / `context has a`
 *     (all of it when a policy uses `context` any other way);
 *   - each entity of the entity slice with only the attributes whose names some policy reads
 *     (`e.a`, `e has a` on any expression), and all its parents;
 *   - the action entities Cedar would otherwise take from the schema: the request's action and the
 *     declared actions named in conditions, each with its ancestors as parents.
 *
 * Why the answer is the same. An attribute is observable only through `.a` and `has a` (entity
 * equality compares UIDs, `in` reads ancestors, `is` the type), so dropping attributes no policy
 * names changes no evaluation and no error; the same entities are present, so "does not exist"
 * errors are unchanged too. What the schema adds is (1) request validation and (2) schema-directed
 * parsing (implicit `__entity`/`__extn` escapes, action entities). (1): the request is checked here
 * against the schema exactly as Cedar's strict request validation does — the action is declared,
 * the principal's and resource's types are in its appliesTo, the context has every required and no
 * undeclared attribute, each of the declared type; anything this module cannot decide with
 * certainty (extension or entity types in a context, open records, enumerated entity types,
 * namespaces, unsafe integers, asserted groups the principal's type may not have) falls back to the
 * full call. (2): the compiled store is accepted only if every attribute value is explicit (entity
 * references as `{ "__entity": … }`, no value shaped like an implicit escape, no extension values,
 * no tags, no action entities), where schema-directed and plain parsing read the same values.
 *
 * Any failure answer from the trimmed call falls back to the full call too, so a request error is
 * always Cedar's own message. Property tests and the Cedar corpus compare against the full call.
 */
import type { Cedar } from "./engine.ts";
import { isActionType } from "./scope.ts";
import { entityKey } from "./slice.ts";
import type { CedarValue, EntityJson, EntityRef } from "./types.ts";

type SchemaJson = Extract<ReturnType<Cedar["schemaToJsonWithResolvedTypes"]>, { type: "success" }>["json"];
type PolicyJson = Extract<ReturnType<Cedar["policyToJson"]>, { type: "success" }>["json"];

/** A context type the check below decides exactly. */
type ValueType =
  | { kind: "String" }
  | { kind: "Long" }
  | { kind: "Bool" }
  | { kind: "Set"; element: ValueType }
  | { kind: "Record"; attrs: ReadonlyMap<string, { type: ValueType; required: boolean }> };

interface ActionPlan {
  readonly principals: ReadonlySet<string>;
  readonly resources: ReadonlySet<string>;
  readonly context: ValueType;
  /** The action entity Cedar takes from the schema: its ancestors as parents. */
  readonly entity: EntityJson;
}

/** What a compiled policy set needs for trimmed calls; absent when the set does not qualify. */
export interface TrimPlan {
  readonly actions: ReadonlyMap<string, ActionPlan>;
  /** Every declared action's entity, by key (for action literals in conditions). */
  readonly actionEntities: ReadonlyMap<string, EntityJson>;
  /** Entity type → the types its parents may have (schema `in [...]`). */
  readonly memberOf: ReadonlyMap<string, ReadonlySet<string>>;
}

/** What the policies of a slice read; `context: "all"` when one uses `context` as a whole. */
export interface PolicyReads {
  readonly context: ReadonlySet<string> | "all";
  readonly attrs: ReadonlySet<string>;
  /** Action literals in conditions (keys), whose entities Cedar may need. */
  readonly actions: ReadonlySet<string>;
}

const PRIMITIVES: Readonly<Record<string, ValueType["kind"]>> = { String: "String", Long: "Long", Bool: "Bool", Boolean: "Bool" };

/**
 * The plan for a schema and store, or undefined when trimmed calls could differ from full ones.
 * `actionAncestors` is the schema's action hierarchy (`scope.ts`).
 */
export function trimPlan(
  cedar: Cedar,
  schema: string,
  store: readonly EntityJson[],
  actionAncestors: ReadonlyMap<string, ReadonlySet<string>> | undefined,
): TrimPlan | undefined {
  if (actionAncestors === undefined || !store.every(explicitEntity)) return undefined;
  let answer: ReturnType<Cedar["schemaToJsonWithResolvedTypes"]>;
  try {
    answer = cedar.schemaToJsonWithResolvedTypes(schema);
  } catch {
    return undefined;
  }
  if (answer.type !== "success") return undefined;
  const json: SchemaJson = answer.json;
  const namespaces = Object.keys(json);
  if (namespaces.some((ns) => ns !== "")) return undefined; // qualified names: not handled here
  const root = json[""];
  if (root === undefined) return undefined;
  const common = (root.commonTypes ?? {}) as Record<string, unknown>;
  if (Object.keys(common).some((name) => name in PRIMITIVES)) return undefined; // a shadowed primitive

  const memberOf = new Map<string, ReadonlySet<string>>();
  for (const [name, definition] of Object.entries(root.entityTypes ?? {})) {
    const record = definition as Record<string, unknown>;
    if ("enum" in record) return undefined; // request validation checks enumerated ids
    // Extension-typed attributes may be written implicitly, which only a schema reads right.
    if (mentionsExtension(record.shape, common, 0) || mentionsExtension(record.tags, common, 0)) return undefined;
    memberOf.set(name, new Set((record.memberOfTypes as string[] | undefined) ?? []));
  }

  const actions = new Map<string, ActionPlan>();
  const actionEntities = new Map<string, EntityJson>();
  for (const id of Object.keys(root.actions ?? {})) {
    const key = entityKey({ type: "Action", id });
    const entity = actionEntity(key, actionAncestors);
    if (entity === undefined) return undefined;
    actionEntities.set(key, entity);
  }
  for (const [id, action] of Object.entries(root.actions ?? {})) {
    const applies = action.appliesTo;
    if (action.attributes !== undefined || applies === undefined) continue; // such actions take the full call
    const context = applies.context === undefined ? emptyRecord() : resolve(applies.context as unknown, common, 0);
    if (context === undefined || context.kind !== "Record") continue;
    const key = entityKey({ type: "Action", id });
    actions.set(key, {
      principals: new Set(applies.principalTypes),
      resources: new Set(applies.resourceTypes),
      context,
      entity: actionEntities.get(key)!,
    });
  }
  return { actions, actionEntities, memberOf };
}

function emptyRecord(): ValueType {
  return { kind: "Record", attrs: new Map() };
}

/** A schema type as a `ValueType`; undefined for anything not decided exactly here. */
function resolve(raw: unknown, common: Record<string, unknown>, depth: number): ValueType | undefined {
  if (depth > 32 || typeof raw !== "object" || raw === null) return undefined;
  const node = raw as Record<string, unknown>;
  const type = node.type;
  if (typeof type !== "string") return undefined;
  if (type === "Set") {
    const element = resolve(node.element, common, depth + 1);
    return element === undefined ? undefined : { kind: "Set", element };
  }
  if (type === "Record") {
    if (node.additionalAttributes === true || typeof node.attributes !== "object" || node.attributes === null) return undefined;
    const attrs = new Map<string, { type: ValueType; required: boolean }>();
    for (const [name, attr] of Object.entries(node.attributes as Record<string, unknown>)) {
      const resolved = resolve(attr, common, depth + 1);
      if (resolved === undefined) return undefined;
      attrs.set(name, { type: resolved, required: (attr as { required?: unknown }).required !== false });
    }
    return { kind: "Record", attrs };
  }
  if (Object.hasOwn(common, type)) return resolve(common[type], common, depth + 1);
  const primitive = PRIMITIVES[type.startsWith("__cedar::") ? type.slice("__cedar::".length) : type];
  return primitive === undefined ? undefined : ({ kind: primitive } as ValueType); // Entity, Extension, …: not here
}

/** Does a schema type mention an extension type (or anything unresolved) anywhere? */
function mentionsExtension(raw: unknown, common: Record<string, unknown>, depth: number): boolean {
  if (raw === undefined) return false;
  if (depth > 32 || typeof raw !== "object" || raw === null) return true;
  const node = raw as Record<string, unknown>;
  const type = node.type;
  if (type === "Extension" || type === "EntityOrCommon" || typeof type !== "string") return true;
  if (type === "Set") return mentionsExtension(node.element, common, depth + 1);
  if (type === "Record") {
    return Object.values((node.attributes ?? {}) as Record<string, unknown>).some((attr) => mentionsExtension(attr, common, depth + 1));
  }
  if (type === "Entity") return false;
  if (Object.hasOwn(common, type)) return mentionsExtension(common[type], common, depth + 1);
  return PRIMITIVES[type.startsWith("__cedar::") ? type.slice("__cedar::".length) : type] === undefined;
}

/** An action entity as the schema defines it: no attributes, its ancestors as parents. */
function actionEntity(key: string, ancestors: ReadonlyMap<string, ReadonlySet<string>>): EntityJson | undefined {
  const up = ancestors.get(key);
  if (up === undefined) return undefined;
  const [type, id] = JSON.parse(key) as [string, string];
  const parents = [...up].filter((k) => k !== key).map((k) => {
    const [t, i] = JSON.parse(k) as [string, string];
    return { type: t, id: i };
  });
  return { uid: { type, id }, attrs: {}, parents };
}

/**
 * Parsed the same with and without a schema (see the module comment). An action entity in the data
 * must agree with the schema's (the compiler's entity check refuses one that does not), and the
 * trimmed call hands Cedar the schema's version instead.
 */
function explicitEntity(entity: EntityJson): boolean {
  if (entity.tags !== undefined) return false;
  if (isActionType(entity.uid.type)) return Object.keys(entity.attrs).length === 0;
  return Object.values(entity.attrs).every(explicitValue);
}

function explicitValue(value: unknown): boolean {
  if (Array.isArray(value)) return value.every(explicitValue);
  if (typeof value !== "object" || value === null) return typeof value === "string" || typeof value === "boolean" || (typeof value === "number" && Number.isSafeInteger(value));
  const record = value as Record<string, unknown>;
  if ("__entity" in record) {
    const ref = record.__entity as Record<string, unknown> | null;
    return Object.keys(record).length === 1 && typeof ref === "object" && ref !== null && typeof ref.type === "string" && typeof ref.id === "string" && !isActionType(ref.type);
  }
  if ("__extn" in record || "type" in record || "id" in record || "fn" in record) return false; // implicit escapes
  return Object.values(record).every(explicitValue);
}

/** What one policy's conditions read (see `PolicyReads`). */
export function policyReads(json: PolicyJson): PolicyReads {
  const context = new Set<string>();
  const attrs = new Set<string>();
  const actions = new Set<string>();
  let wholeContext = false;
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) {
      for (const item of node) walk(item);
      return;
    }
    if (typeof node !== "object" || node === null) return;
    const record = node as Record<string, unknown>;
    const keys = Object.keys(record);
    if (keys.length !== 1) {
      for (const value of Object.values(record)) walk(value);
      return;
    }
    const op = keys[0]!;
    const args = record[op];
    if (op === "Value") {
      collectActions(args, actions);
      return;
    }
    if (op === "Var") {
      if (args === "context") wholeContext = true;
      return;
    }
    if ((op === "." || op === "has") && typeof args === "object" && args !== null && typeof (args as Record<string, unknown>).attr === "string") {
      const { left, attr } = args as { left: unknown; attr: string };
      attrs.add(attr);
      if (typeof left === "object" && left !== null && (left as Record<string, unknown>).Var === "context" && Object.keys(left).length === 1) context.add(attr);
      else walk(left);
      return;
    }
    if (op === "Record" && typeof args === "object" && args !== null && !Array.isArray(args)) {
      for (const value of Object.values(args)) walk(value); // keys are attribute names, not reads
      return;
    }
    walk(args);
  };
  for (const clause of json.conditions) walk(clause.body);
  return { context: wholeContext ? "all" : context, attrs, actions };
}

function collectActions(value: unknown, into: Set<string>): void {
  if (Array.isArray(value)) {
    for (const item of value) collectActions(item, into);
    return;
  }
  if (typeof value !== "object" || value === null) return;
  const record = value as Record<string, unknown>;
  const ref = record.__entity as Record<string, unknown> | undefined;
  if (ref !== undefined && typeof ref === "object" && ref !== null && typeof ref.type === "string" && typeof ref.id === "string") {
    if (isActionType(ref.type)) into.add(entityKey({ type: ref.type, id: ref.id }));
    return;
  }
  for (const item of Object.values(record)) collectActions(item, into);
}

/** The union of several policies' reads. */
export function unionReads(all: Iterable<PolicyReads>): PolicyReads {
  const context = new Set<string>();
  const attrs = new Set<string>();
  const actions = new Set<string>();
  let wholeContext = false;
  for (const reads of all) {
    if (reads.context === "all") wholeContext = true;
    else for (const a of reads.context) context.add(a);
    for (const a of reads.attrs) attrs.add(a);
    for (const a of reads.actions) actions.add(a);
  }
  return { context: wholeContext ? "all" : context, attrs, actions };
}

/** The trimmed inputs for one request, or undefined when it must take the full call. */
export function trimmedInputs(
  plan: TrimPlan,
  reads: PolicyReads,
  request: { principal: EntityRef; action: EntityRef; resource: EntityRef; context: Record<string, CedarValue> },
  entities: readonly EntityJson[],
  assertedGroups: boolean,
): { context: Record<string, CedarValue>; entities: EntityJson[] } | undefined {
  if (!requestConforms(plan, request, assertedGroups)) return undefined;

  let context: Record<string, CedarValue> = request.context;
  if (reads.context !== "all") {
    context = {};
    for (const name of reads.context) if (Object.hasOwn(request.context, name)) context[name] = request.context[name]!;
  }
  const out: EntityJson[] = [];
  const actions = new Set([entityKey(request.action), ...reads.actions]);
  for (const entity of entities) {
    if (isActionType(entity.uid.type)) {
      actions.add(entityKey(entity.uid)); // reached from the store: replaced by the schema's own
      continue;
    }
    const attrs: Record<string, unknown> = {};
    for (const name of Object.keys(entity.attrs)) if (reads.attrs.has(name)) attrs[name] = entity.attrs[name];
    out.push({ uid: entity.uid, attrs, parents: entity.parents });
  }
  for (const key of actions) {
    const declared = plan.actionEntities.get(key);
    if (declared !== undefined) out.push(declared);
  }
  return { context, entities: out };
}

/**
 * Would Cedar's strict request validation accept this request (with the entity slice's principal
 * given the asserted groups as parents)? True only when certain; the trimmed call and the JS
 * evaluator (`evaluate.ts`) are used only then.
 */
export function requestConforms(
  plan: TrimPlan,
  request: { principal: EntityRef; action: EntityRef; resource: EntityRef; context: Record<string, CedarValue> },
  assertedGroups: boolean,
): boolean {
  const action = plan.actions.get(entityKey(request.action));
  if (action === undefined) return false;
  if (!action.principals.has(request.principal.type) || !action.resources.has(request.resource.type)) return false;
  if (assertedGroups && plan.memberOf.get(request.principal.type)?.has("Group") !== true) return false;
  return conforms(request.context, action.context);
}

/** Does `value` have exactly type `type`, as Cedar's strict request validation decides it? */
function conforms(value: unknown, type: ValueType): boolean {
  switch (type.kind) {
    case "String":
      return typeof value === "string";
    case "Bool":
      return typeof value === "boolean";
    case "Long":
      return typeof value === "number" && Number.isSafeInteger(value) && !Object.is(value, -0);
    case "Set":
      return Array.isArray(value) && value.every((item) => conforms(item, type.element));
    case "Record": {
      if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
      const record = value as Record<string, unknown>;
      for (const name of Object.keys(record)) if (!type.attrs.has(name)) return false;
      for (const [name, attr] of type.attrs) {
        if (!Object.hasOwn(record, name)) {
          if (attr.required) return false;
        } else if (!conforms(record[name], attr.type)) return false;
      }
      return true;
    }
  }
}
