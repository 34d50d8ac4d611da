/**
 * An exact JavaScript evaluator for a conservative subset of Cedar, so that the gateway's usual
 * decision never enters cedar-wasm. cedar-wasm's cost per call is fixed and large (≈ 70 µs with an
 * empty policy set and an empty context, ≈ 180 µs with the seeded context and four entities,
 * measured): it converts the context and every entity into Cedar values on each call. Evaluating
 * the slice's policies here, over the same entity slice, costs a few microseconds.
 *
 * Cedar stays the authority: this module answers only when it is certain to give Cedar's answer,
 * and otherwise says "undecided" and `decideWith` asks cedar-wasm exactly as before (which is also
 * how every error message stays Cedar's own).
 *
 * When it answers. At compile time each policy's JSON form (`policyToJson`) becomes a tree of
 * closures, or is marked not compilable if it uses anything outside the subset: extension
 * functions and values (ip, decimal, datetime, duration), tags, templates and slots, unknowns,
 * namespaced types, `is … in` with a computed right side, integer literals beyond 2^53. A slice
 * with such a policy goes to cedar-wasm. The compiled policy set must also qualify for trimmed
 * calls (`fast-path.ts`: explicit entity store, schema without namespaces, extension types or
 * enumerated entities) and every string in the store must be well-formed UTF-16 (cedar-wasm's JSON
 * reader fails on a lone surrogate). Per request: the request must pass the same exact JS request
 * validation as a trimmed call (`requestConforms`), and its ids and context strings must be
 * well-formed, with no record key shaped like a JSON escape (`__entity`, `__extn`).
 *
 * Why the answer is Cedar's. The evaluator sees exactly what Cedar is handed: the entity slice
 * (with the asserted groups as extra parents of the principal), the action hierarchy of the schema
 * and the request. It follows Cedar's dynamic semantics, operator by operator:
 *
 *   - a policy is `scope && when₁ && !unless₁ && …`, left to right; `&&`, `||` and `if` are lazy,
 *     every other operator evaluates all its operands, so the same sub-expressions are evaluated;
 *   - `==`/`!=` never err: values of different types are unequal; sets compare unordered and
 *     de-duplicated, records by keys and values, entities by type and id;
 *   - `in` is reflexive and follows parents transitively (a parent missing from the slice counts but
 *     has no parents); an entity missing from the slice is in nothing but itself; a set on the right
 *     must hold only entities; `is` compares the type;
 *   - `has` on an entity missing from the slice is false; an attribute read on it, or of a missing
 *     attribute, is an error; `e has a.b` is `e has a && e.a has b`;
 *   - Long `+ - *` and unary `-` are exact when the result is within ±(2^53 − 1), and undecided
 *     beyond (Cedar's own overflow bound is 2^63, which a JavaScript number cannot reach exactly);
 *   - `like` matches Unicode code points, `*` any run of them;
 *   - contains, containsAll, containsAny, isEmpty on sets; `<`…`>=` on Longs only (no extension
 *     values exist here).
 *
 * Any error (a type error, a missing attribute or entity, an overflow) or anything this module is
 * unsure of (an action's attributes, an action below a non-action entity) makes the whole request
 * undecided: Cedar then reports it, so error texts are always Cedar's. With no error, the answer is
 * what `decideWith` builds from Cedar's: deny with the satisfied forbids, else allow with the
 * satisfied permits, else deny with no determining policy.
 *
 * test/unit/policy/evaluate.property.test.ts compares it with cedar-wasm on generated policies and
 * requests; `verity policy corpus` runs Cedar's corpus through it.
 */
import type { Cedar } from "./engine.ts";
import { isActionType } from "./scope.ts";
import type { CedarValue, EntityJson, EntityRef } from "./types.ts";

type PolicyJson = Extract<ReturnType<Cedar["policyToJson"]>, { type: "success" }>["json"];

/** One policy, compiled: `satisfied` returns whether it holds, or throws `UNDECIDED`. */
export interface Program {
  readonly id: string;
  readonly effect: "permit" | "forbid";
  readonly satisfied: (env: Evaluation) => boolean;
}

/** What one evaluation sees: exactly Cedar's inputs for the request. */
export interface Evaluation {
  readonly principal: EntityRef;
  readonly action: EntityRef;
  readonly resource: EntityRef;
  readonly context: CedarValue;
  /** The entity slice by `refKey`, the principal with its asserted groups among its parents. */
  readonly entities: ReadonlyMap<string, EntityJson>;
  /** The schema's action hierarchy (`actionHierarchy`): action → itself and its ancestors, by `refKey`. */
  readonly actions: ReadonlyMap<string, ReadonlySet<string>>;
  /** Ancestor sets computed during this evaluation. */
  readonly ancestry: Map<string, ReadonlySet<string>>;
}

/** The satisfied policies, when the evaluator could decide. */
export interface JsAnswer {
  readonly permits: string[];
  readonly forbids: string[];
}

/**
 * How often the gateway path answered in JS, gave up during evaluation, or did not try because the
 * bundle, store or slice is outside the subset, or the request is not one it validates (for the
 * benchmark and `verity policy corpus`; the counts affect no decision).
 */
export const evaluatorCounts = { answered: 0, undecided: 0, bundleOutside: 0, sliceOutside: 0, requestOutside: 0 };

/**
 * The evaluator's entity key: cheaper than `entityKey`'s JSON. Unambiguous because every type that
 * reaches it is a Cedar identifier (checked by Cedar's parser, the schema's entity check, or the
 * request check against the schema), which never holds a NUL.
 */
export function refKey(ref: EntityRef): string {
  return `${ref.type}\u0000${ref.id}`;
}

/** The schema's action hierarchy (`scope.ts`'s `actionAncestors`, keyed by `entityKey`) by `refKey`. */
export function actionHierarchy(actions: ReadonlyMap<string, ReadonlySet<string>>): ReadonlyMap<string, ReadonlySet<string>> {
  const rekey = (key: string) => {
    const [type, id] = JSON.parse(key) as [string, string];
    return refKey({ type, id });
  };
  return new Map([...actions].map(([action, ancestors]) => [rekey(action), new Set([...ancestors].map(rekey))]));
}

/** Thrown (one shared instance, no stack captured per throw) when Cedar must decide. */
const UNDECIDED = new Error("undecided: cedar-wasm decides this request");

/** Thrown at compile time for a policy outside the subset. */
class NotCompilable extends Error {}

type Expr = (env: Evaluation) => CedarValue;

/** The policy compiled, or undefined when it uses anything outside the subset. */
export function compileProgram(id: string, json: PolicyJson): Program | undefined {
  try {
    const principal = entityScope(json.principal as unknown, (env) => env.principal);
    const action = actionScope(json.action as unknown);
    const resource = entityScope(json.resource as unknown, (env) => env.resource);
    const conditions = json.conditions.map((clause) => {
      const kind: string = clause.kind;
      if (kind !== "when" && kind !== "unless") throw new NotCompilable(kind);
      return { when: kind === "when", body: expr(clause.body as unknown) };
    });
    const effect = json.effect;
    if (effect !== "permit" && effect !== "forbid") return undefined;
    return {
      id,
      effect,
      satisfied: (env) => {
        if (!principal(env) || !action(env) || !resource(env)) return false;
        for (const condition of conditions) if (bool(condition.body(env)) !== condition.when) return false;
        return true;
      },
    };
  } catch {
    // NotCompilable, or a JSON form this compiler did not foresee: cedar-wasm decides, the bundle
    // still loads.
    return undefined;
  }
}

/** The slice's satisfied policies, or undefined when Cedar must decide (any error or doubt). */
export function evaluate(programs: readonly Program[], env: Evaluation): JsAnswer | undefined {
  const permits: string[] = [];
  const forbids: string[] = [];
  try {
    for (const program of programs) {
      if (program.satisfied(env)) (program.effect === "permit" ? permits : forbids).push(program.id);
    }
  } catch {
    // UNDECIDED, or anything unforeseen: cedar-wasm answers instead.
    return undefined;
  }
  return { permits, forbids };
}

/** Does a string hold a lone surrogate (on which cedar-wasm's JSON reader fails)? */
const LONE_SURROGATE = /\p{Cs}/u;

/** Strings well-formed, numbers safe integers, no record key shaped like a JSON escape. */
export function plainValue(value: unknown, depth = 0): boolean {
  if (typeof value === "string") return !LONE_SURROGATE.test(value);
  if (typeof value === "boolean") return true;
  if (typeof value === "number") return Number.isSafeInteger(value);
  if (depth > 64 || typeof value !== "object" || value === null) return false;
  if (Array.isArray(value)) return value.every((item) => plainValue(item, depth + 1));
  for (const [key, member] of Object.entries(value)) {
    if (key === "__entity" || key === "__extn" || LONE_SURROGATE.test(key) || !plainValue(member, depth + 1)) return false;
  }
  return true;
}

export function wellFormedRef(ref: EntityRef): boolean {
  return !LONE_SURROGATE.test(ref.type) && !LONE_SURROGATE.test(ref.id);
}

/**
 * Can the evaluator read this store exactly? (Explicit values are checked by the trim plan; this
 * adds the strings: uids, parents, attribute names and values, entity references inside them.)
 */
export function evaluableStore(entities: readonly EntityJson[]): boolean {
  const strings = (value: unknown): boolean => {
    if (typeof value === "string") return !LONE_SURROGATE.test(value);
    if (typeof value !== "object" || value === null) return true;
    if (Array.isArray(value)) return value.every(strings);
    return Object.entries(value).every(([key, member]) => !LONE_SURROGATE.test(key) && strings(member));
  };
  return entities.every((entity) => wellFormedRef(entity.uid) && entity.parents.every(wellFormedRef) && strings(entity.attrs));
}

// ---- scope ------------------------------------------------------------------------------------

function entityScope(raw: unknown, variable: (env: Evaluation) => EntityRef): (env: Evaluation) => boolean {
  const node = record(raw);
  switch (node.op) {
    case "All":
      return () => true;
    case "==": {
      const uid = scopeUid(node.entity);
      return (env) => sameEntity(variable(env), uid);
    }
    case "in": {
      const uid = scopeUid(node.entity);
      return (env) => isIn(env, variable(env), uid);
    }
    case "is": {
      const type = plainType(node.entity_type);
      if (node.in === undefined) return (env) => variable(env).type === type;
      const uid = scopeUid(record(node.in).entity);
      return (env) => {
        const value = variable(env);
        return value.type === type && isIn(env, value, uid);
      };
    }
    default:
      throw new NotCompilable("scope");
  }
}

function actionScope(raw: unknown): (env: Evaluation) => boolean {
  const node = record(raw);
  if (node.op === "All") return () => true;
  if (node.op === "==") {
    const uid = scopeUid(node.entity);
    return (env) => sameEntity(env.action, uid);
  }
  if (node.op !== "in") throw new NotCompilable("action scope");
  const uids = (Array.isArray(node.entities) ? node.entities : [node.entity]).map((entity: unknown) => scopeUid(entity));
  return (env) => uids.some((uid) => isIn(env, env.action, uid));
}

/** A scope's entity, `{ type, id }` or `{ __entity: { type, id } }`; a slot is not compilable. */
function scopeUid(raw: unknown): EntityRef {
  const node = record(raw);
  const inner = "__entity" in node ? record(node.__entity) : node;
  if (Object.keys(inner).length !== 2 || typeof inner.type !== "string" || typeof inner.id !== "string") throw new NotCompilable("scope entity");
  return { type: plainType(inner.type), id: inner.id };
}

/** An entity type without a namespace (the subset's types); anything else is not compilable. */
function plainType(type: unknown): string {
  if (typeof type !== "string" || type.includes("::")) throw new NotCompilable("type");
  return type;
}

// ---- expressions ------------------------------------------------------------------------------

const VARIABLES: Readonly<Record<string, Expr>> = {
  principal: (env) => entityValue(env.principal),
  action: (env) => entityValue(env.action),
  resource: (env) => entityValue(env.resource),
  context: (env) => env.context,
};

function expr(raw: unknown): Expr {
  const node = record(raw);
  const keys = Object.keys(node);
  if (keys.length !== 1) throw new NotCompilable("expression");
  const op = keys[0]!;
  const args: unknown = node[op];
  switch (op) {
    case "Value": {
      const value = literal(args, 0);
      return () => value;
    }
    case "Var": {
      const variable = typeof args === "string" && Object.hasOwn(VARIABLES, args) ? VARIABLES[args] : undefined;
      if (variable === undefined) throw new NotCompilable("variable");
      return variable;
    }
    case "!": {
      const arg = expr(record(args).arg);
      return (env) => !bool(arg(env));
    }
    case "neg": {
      const arg = expr(record(args).arg);
      return (env) => safe(-long(arg(env)));
    }
    case "isEmpty": {
      const arg = expr(record(args).arg);
      return (env) => set(arg(env)).length === 0;
    }
    case "&&":
    case "||": {
      const { left, right } = binary(args);
      return op === "&&" ? (env) => bool(left(env)) && bool(right(env)) : (env) => bool(left(env)) || bool(right(env));
    }
    case "==":
    case "!=": {
      const { left, right } = binary(args);
      return op === "==" ? (env) => equal(left(env), right(env)) : (env) => !equal(left(env), right(env));
    }
    case "<":
    case "<=":
    case ">":
    case ">=":
    case "+":
    case "-":
    case "*": {
      const { left, right } = binary(args);
      const apply = ARITHMETIC[op]!;
      return (env) => {
        const a = long(left(env));
        return apply(a, long(right(env)));
      };
    }
    case "in": {
      const { left, right } = binary(args);
      return (env) => {
        const entity = entityOf(left(env));
        return inValue(env, entity, right(env));
      };
    }
    case "contains": {
      const { left, right } = binary(args);
      return (env) => {
        const items = set(left(env));
        const item = right(env);
        return items.some((x) => equal(x, item));
      };
    }
    case "containsAll":
    case "containsAny": {
      const { left, right } = binary(args);
      const all = op === "containsAll";
      return (env) => {
        const items = set(left(env));
        const wanted = set(right(env));
        return all ? wanted.every((w) => items.some((x) => equal(x, w))) : wanted.some((w) => items.some((x) => equal(x, w)));
      };
    }
    case ".": {
      const { left, attr } = attribute(args);
      if (typeof attr !== "string") throw new NotCompilable("attribute");
      return (env) => getAttr(env, left(env), attr);
    }
    case "has": {
      const { left, attr } = attribute(args);
      const path = typeof attr === "string" ? [attr] : attr;
      // `e has a.b.c` is `e has a && e.a has b && e.a.b has c`.
      return (env) => {
        let value = left(env);
        for (let i = 0; i < path.length; i++) {
          if (!hasAttr(env, value, path[i]!)) return false;
          if (i < path.length - 1) value = getAttr(env, value, path[i]!);
        }
        return true;
      };
    }
    case "like": {
      const node = record(args);
      const left = expr(node.left);
      const pattern = likePattern(node.pattern);
      return (env) => like(string(left(env)), pattern);
    }
    case "is": {
      const node = record(args);
      const left = expr(node.left);
      const type = plainType(node.entity_type);
      if (node.in === undefined) return (env) => entityOf(left(env)).type === type;
      // `e is T in E` is `e is T && e in E`; E must be a literal here, so the order cannot matter.
      const target = record(node.in);
      if (!("Value" in target)) throw new NotCompilable("is … in");
      const within = literal(target.Value, 0);
      return (env) => {
        const entity = entityOf(left(env));
        return entity.type === type && inValue(env, entity, within);
      };
    }
    case "if-then-else": {
      const node = record(args);
      const test = expr(node.if);
      const then = expr(node.then);
      const otherwise = expr(node.else);
      return (env) => (bool(test(env)) ? then(env) : otherwise(env));
    }
    case "Set": {
      if (!Array.isArray(args)) throw new NotCompilable("set");
      const items = args.map((item: unknown) => expr(item));
      return (env) => items.map((item) => item(env));
    }
    case "Record": {
      const members = Object.entries(record(args)).map(([key, value]) => {
        if (key === "__entity" || key === "__extn") throw new NotCompilable("record key");
        return [key, expr(value)] as const;
      });
      return (env) => Object.fromEntries(members.map(([key, member]) => [key, member(env)])) as CedarValue;
    }
    default:
      // Extension functions and methods, getTag/hasTag, Slot, Unknown: cedar-wasm decides.
      throw new NotCompilable(op);
  }
}

const ARITHMETIC: Readonly<Record<string, (a: number, b: number) => CedarValue>> = {
  "<": (a, b) => a < b,
  "<=": (a, b) => a <= b,
  ">": (a, b) => a > b,
  ">=": (a, b) => a >= b,
  "+": (a, b) => safe(a + b),
  "-": (a, b) => safe(a - b),
  "*": (a, b) => safe(a * b),
};

function binary(args: unknown): { left: Expr; right: Expr } {
  const node = record(args);
  return { left: expr(node.left), right: expr(node.right) };
}

function attribute(args: unknown): { left: Expr; attr: string | string[] } {
  const node = record(args);
  const attr = node.attr;
  if (typeof attr === "string") return { left: expr(node.left), attr };
  if (Array.isArray(attr) && attr.length > 0 && attr.every((a) => typeof a === "string")) return { left: expr(node.left), attr: attr as string[] };
  throw new NotCompilable("attribute");
}

/** A literal value: strings, safe integers, booleans, sets, records, plain entity references. */
function literal(value: unknown, depth: number): CedarValue {
  if (typeof value === "string" || typeof value === "boolean") return value;
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value)) throw new NotCompilable("integer");
    return value;
  }
  if (depth > 64 || typeof value !== "object" || value === null) throw new NotCompilable("value");
  if (Array.isArray(value)) return Object.freeze(value.map((item: unknown) => literal(item, depth + 1)));
  const node = value as Record<string, unknown>;
  if ("__entity" in node) {
    if (Object.keys(node).length !== 1) throw new NotCompilable("entity");
    return Object.freeze(entityValue(scopeUid(node.__entity)));
  }
  if ("__extn" in node) throw new NotCompilable("extension value");
  return Object.freeze(Object.fromEntries(Object.entries(node).map(([key, member]) => [key, literal(member, depth + 1)]))) as CedarValue;
}

function record(raw: unknown): Record<string, unknown> {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new NotCompilable("node");
  return raw as Record<string, unknown>;
}

// ---- values -----------------------------------------------------------------------------------

function bool(value: CedarValue): boolean {
  if (typeof value !== "boolean") throw UNDECIDED;
  return value;
}

function long(value: CedarValue): number {
  if (typeof value !== "number") throw UNDECIDED;
  return value;
}

/** An exact integer result, or undecided (beyond 2^53 Cedar may or may not overflow). */
function safe(value: number): number {
  if (!Number.isSafeInteger(value)) throw UNDECIDED;
  return value;
}

function string(value: CedarValue): string {
  if (typeof value !== "string") throw UNDECIDED;
  return value;
}

function set(value: CedarValue): readonly CedarValue[] {
  if (!Array.isArray(value)) throw UNDECIDED;
  return value;
}

/** The entity reference of an entity value, or undefined for any other value. */
function refOf(value: CedarValue): EntityRef | undefined {
  if (typeof value !== "object" || Array.isArray(value) || !Object.hasOwn(value, "__entity")) return undefined;
  return (value as unknown as { readonly __entity: EntityRef }).__entity;
}

function entityValue(ref: EntityRef): CedarValue {
  return { __entity: { type: ref.type, id: ref.id } };
}

function entityOf(value: CedarValue): EntityRef {
  const ref = refOf(value);
  if (ref === undefined) throw UNDECIDED;
  return ref;
}

/** Cedar's `==`: total, false across types. */
function equal(a: CedarValue, b: CedarValue): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object") return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b)) return false;
    const left = a as readonly CedarValue[];
    const right = b as readonly CedarValue[];
    return left.every((x) => right.some((y) => equal(x, y))) && right.every((y) => left.some((x) => equal(x, y)));
  }
  const ea = refOf(a);
  const eb = refOf(b);
  if (ea !== undefined || eb !== undefined) return ea !== undefined && eb !== undefined && sameEntity(ea, eb);
  const ra = a as { readonly [key: string]: CedarValue };
  const rb = b as { readonly [key: string]: CedarValue };
  const keys = Object.keys(ra);
  if (keys.length !== Object.keys(rb).length) return false;
  return keys.every((key) => Object.hasOwn(rb, key) && equal(ra[key]!, rb[key]!));
}

function sameEntity(a: EntityRef, b: EntityRef): boolean {
  return a.type === b.type && a.id === b.id;
}

function isIn(env: Evaluation, entity: EntityRef, target: EntityRef): boolean {
  return sameEntity(entity, target) || ancestorsOf(env, entity).has(refKey(target));
}

/** `entity in right`: right an entity or a set of entities only (anything else is a type error). */
function inValue(env: Evaluation, entity: EntityRef, right: CedarValue): boolean {
  const targets = Array.isArray(right) ? (right as readonly CedarValue[]).map(entityOf) : [entityOf(right)];
  return targets.some((target) => isIn(env, entity, target));
}

function ancestorsOf(env: Evaluation, entity: EntityRef): ReadonlySet<string> {
  const key = refKey(entity);
  if (isActionType(entity.type)) {
    const declared = env.actions.get(key);
    if (declared === undefined) throw UNDECIDED; // not declared: Cedar's view is not modelled here
    return declared;
  }
  const known = env.ancestry.get(key);
  if (known !== undefined) return known;
  const seen = new Set<string>();
  const queue = [...(env.entities.get(key)?.parents ?? [])];
  while (queue.length > 0) {
    const parent = queue.pop()!;
    if (isActionType(parent.type)) throw UNDECIDED; // an action's ancestors come from the schema
    const parentKey = refKey(parent);
    if (seen.has(parentKey)) continue;
    seen.add(parentKey);
    for (const up of env.entities.get(parentKey)?.parents ?? []) queue.push(up);
  }
  env.ancestry.set(key, seen);
  return seen;
}

function getAttr(env: Evaluation, value: CedarValue, attr: string): CedarValue {
  const ref = refOf(value);
  if (ref !== undefined) {
    if (isActionType(ref.type)) throw UNDECIDED;
    const attrs = env.entities.get(refKey(ref))?.attrs;
    if (attrs === undefined || !Object.hasOwn(attrs, attr)) throw UNDECIDED; // Cedar: an error
    return attrs[attr] as CedarValue;
  }
  if (typeof value !== "object" || Array.isArray(value)) throw UNDECIDED;
  const members = value as { readonly [key: string]: CedarValue };
  if (!Object.hasOwn(members, attr)) throw UNDECIDED;
  return members[attr]!;
}

function hasAttr(env: Evaluation, value: CedarValue, attr: string): boolean {
  const ref = refOf(value);
  if (ref !== undefined) {
    if (isActionType(ref.type)) throw UNDECIDED;
    const attrs = env.entities.get(refKey(ref))?.attrs;
    return attrs !== undefined && Object.hasOwn(attrs, attr);
  }
  if (typeof value !== "object" || Array.isArray(value)) throw UNDECIDED;
  return Object.hasOwn(value, attr);
}

// ---- like -------------------------------------------------------------------------------------

/** A `like` pattern: code points, `WILDCARD` for `*`. */
const WILDCARD = -1;

function likePattern(raw: unknown): readonly number[] {
  if (!Array.isArray(raw)) throw new NotCompilable("pattern");
  const out: number[] = [];
  for (const part of raw as unknown[]) {
    if (part === "Wildcard") out.push(WILDCARD);
    else if (typeof part === "object" && part !== null && typeof (part as Record<string, unknown>).Literal === "string") {
      for (const ch of (part as { Literal: string }).Literal) out.push(ch.codePointAt(0)!);
    } else throw new NotCompilable("pattern");
  }
  return out;
}

/** Wildcard matching over code points (greedy, backtracking to the last `*`: linear in practice). */
function like(text: string, pattern: readonly number[]): boolean {
  const chars = Array.from(text, (ch) => ch.codePointAt(0)!);
  let t = 0;
  let p = 0;
  let star = -1;
  let resume = 0;
  while (t < chars.length) {
    if (p < pattern.length && pattern[p] === WILDCARD) {
      star = p++;
      resume = t;
    } else if (p < pattern.length && pattern[p] === chars[t]) {
      p++;
      t++;
    } else if (star >= 0) {
      p = star + 1;
      t = ++resume;
    } else return false;
  }
  while (p < pattern.length && pattern[p] === WILDCARD) p++;
  return p === pattern.length;
}
