/**
 * Policy slicing, the run-time half: for a request, the id of a cedar-wasm preparsed policy set
 * holding only the policies whose scope can match it (`scope.ts`), and the policy-condition entity
 * literals those policies need in the entity slice.
 *
 * Per request: the principal's and resource's ancestor sets (memoised per entity by the store), a
 * key made of only what can change the candidates — the action, the two types, the principal's own
 * UID and its and the resource's ancestors *that some policy scope names*, and the guard attributes'
 * states — and one map lookup. A key seen before never computes candidates and never preparses again.
 * A slice is preparsed only when cedar-wasm is asked (its `policySetId` is read): a slice the JS
 * evaluator (`evaluate.ts`) decides costs no preparse at all.
 *
 * The resource's own UID is left out on purpose: policies about one resource (`resource ==
 * Backend::"b3"`, typically one per backend or tool) would otherwise multiply the distinct slices by
 * the number of resources, and every new slice is a preparse (≈ 0.2 ms per policy, measured). In the
 * benchmark's world that is 1,252 distinct slices instead of 306 for a few more policies in each;
 * such policies are decided by type, as before. The principal's UID is kept: a policy naming one
 * user splits only that user's slice off.
 *
 * Bounds. Keys: at most MAX_KEYS, least recently used dropped first (a dropped key costs one pass
 * over the scopes when it comes back, and no preparse while its set is still in the pool).
 * Preparsed sets: cedar-wasm keeps a preparsed set until its id is preparsed again and has no call to
 * drop one, so the sets live in a fixed pool of MAX_PREPARSED slot ids per engine, shared by every
 * PDP of the isolate and named by content (bundle version, id mode and the candidate ids' hash, so
 * equal candidates share one set). A new set takes the least recently used slot, overwriting it; the
 * slice that held it preparses again when next asked. Everything is synchronous: a set id is used
 * within the `decide` call that read it, before anything can evict it.
 */
import { sha256HexSync } from "../lib/sha256-sync.ts";
import type { Cedar } from "./engine.ts";
import type { Program } from "./evaluate.ts";
import { unionReads, type PolicyReads } from "./fast-path.ts";
import type { AttributeState, EntityFacts, ScopeIndex } from "./scope.ts";
import { actionRef, entityKey, type EntityStore } from "./slice.ts";
import type { EntityRef } from "./types.ts";

const MAX_KEYS = 4096;
/**
 * The pool's bounds: slot ids, and policies held in all its sets together. cedar-wasm holds about
 * 1.3 kB per preparsed policy (0.26 MB for a 200-policy set), so 20,000 policies stay near 26 MB of
 * an isolate's 128 MB whatever the slices' sizes.
 */
const MAX_PREPARSED = 2048;
const MAX_PREPARSED_POLICIES = 20_000;

/** What one decision uses of the policy set. */
export interface PolicySlice {
  /**
   * A preparsed policy set id holding the slice's policies. Reading it preparses the slice if no
   * slot holds it (lazily: a slice the JS evaluator decides is never preparsed); should that fail,
   * it is the whole set's id, which gives the same answer (the other policies' scopes are false).
   */
  readonly policySetId: string;
  /** The slice's policy ids, in policy order. */
  readonly ids: readonly string[];
  /** Entity literals in the conditions of the slice's policies: part of the entity slice. */
  readonly literals: readonly EntityRef[];
  /** How many policies Cedar evaluates (for tests and the benchmark). */
  readonly size: number;
  /** What the slice's policies read of the context and the entities (`fast-path.ts`). */
  readonly reads: PolicyReads;
  /** The slice's policies compiled for the JS evaluator; absent when one of them is not compilable. */
  readonly programs?: readonly Program[];
}

/** The fixed pool of preparsed-set slots of one cedar-wasm instance, least recently used first. */
class PreparsedPool {
  /** Content name → the slot holding it and its policy count. */
  private held = new Map<string, { slot: string; size: number }>();
  private slots = 0;
  private readonly free: string[] = [];
  private policies = 0;

  constructor(private readonly cedar: Cedar) {}

  /**
   * The slot holding `content`, preparsing `policies()` into a free or the least recently used slot
   * if none does (the slice that held it preparses again when next needed); undefined if Cedar
   * refuses or the set is too large for the pool.
   */
  slotFor(content: string, size: number, policies: () => Record<string, string>): string | undefined {
    const known = this.held.get(content);
    if (known !== undefined) {
      this.held.delete(content);
      this.held.set(content, known); // most recently used last
      return known.slot;
    }
    if (size > MAX_PREPARSED_POLICIES) return undefined;
    while (this.held.size > 0 && (this.policies + size > MAX_PREPARSED_POLICIES || (this.free.length === 0 && this.slots >= MAX_PREPARSED))) {
      const [oldest, evicted] = this.held.entries().next().value!;
      this.held.delete(oldest);
      this.policies -= evicted.size;
      this.free.push(evicted.slot);
    }
    const slot = this.free.pop() ?? `verity:slice-slot:${this.slots++}`;
    let answer: ReturnType<Cedar["preparsePolicySet"]>;
    try {
      answer = this.cedar.preparsePolicySet(slot, { staticPolicies: policies() });
    } catch {
      answer = { type: "failure", errors: [] };
    }
    // A failed preparse leaves the slot's previous set in place (cedar-wasm is side-effect free on
    // error), which no content maps to any more: the slot is free again.
    if (answer.type === "failure") {
      this.free.push(slot);
      return undefined;
    }
    this.held.set(content, { slot, size });
    this.policies += size;
    return slot;
  }
}

const pools = new WeakMap<Cedar, PreparsedPool>();

function poolOf(cedar: Cedar): PreparsedPool {
  let pool = pools.get(cedar);
  if (pool === undefined) pools.set(cedar, (pool = new PreparsedPool(cedar)));
  return pool;
}

/** A slice whose policy set is preparsed on first use of `policySetId`. */
class LazySlice implements PolicySlice {
  readonly size: number;

  /** Content name: bundle version, id mode and the ids' hash (equal candidates share one set). */
  private content: string | undefined;

  constructor(
    private readonly pool: PreparsedPool,
    private readonly namePrefix: string,
    private readonly texts: Readonly<Record<string, string>>,
    private readonly wholeId: string,
    readonly ids: readonly string[],
    readonly literals: readonly EntityRef[],
    readonly reads: PolicyReads,
    readonly programs: readonly Program[] | undefined,
  ) {
    this.size = ids.length;
  }

  get policySetId(): string {
    // Hashed only here: the JS evaluator's path never needs the name.
    this.content ??= `${this.namePrefix}:${sha256HexSync(JSON.stringify(this.ids))}`;
    const texts = () => Object.fromEntries(this.ids.map((id) => [id, this.texts[id]!]));
    return this.pool.slotFor(this.content, this.size, texts) ?? this.wholeId;
  }
}

/** The request as slicing sees it; `asserted` are the principal's asserted groups the store holds. */
export interface SliceRequest {
  readonly action: string | EntityRef;
  readonly principal: EntityRef;
  readonly resource: EntityRef;
  readonly asserted: readonly EntityRef[];
}

export class PolicySlicer {
  private readonly keys = new Map<string, PolicySlice>();
  private readonly pool: PreparsedPool;

  constructor(
    cedar: Cedar,
    /** Prefix of every set's content name: the bundle version and the id mode. */
    private readonly namePrefix: string,
    private readonly index: ScopeIndex,
    private readonly store: EntityStore,
    private readonly policies: Readonly<Record<string, string>>,
    private readonly literalsByPolicy: ReadonlyMap<string, readonly EntityRef[]>,
    private readonly readsByPolicy: ReadonlyMap<string, PolicyReads>,
    /** The policies the JS evaluator can run (`evaluate.ts`); empty when it cannot run at all. */
    private readonly programs: ReadonlyMap<string, Program>,
    /** The whole policy set, already preparsed outside the pool: the fallback. */
    readonly whole: PolicySlice,
  ) {
    this.pool = poolOf(cedar);
  }

  /** The slice for one request, decided on its entities (the gateway's path). */
  sliceOf(request: SliceRequest): PolicySlice {
    const action = actionRef(request.action);
    const principalKey = entityKey(request.principal);
    const resourceKey = entityKey(request.resource);
    let principalAncestors = this.store.ancestorsOf(principalKey);
    if (request.asserted.length > 0) {
      const widened = new Set(principalAncestors);
      for (const group of request.asserted) {
        const key = entityKey(group);
        widened.add(key);
        for (const up of this.store.ancestorsOf(key)) widened.add(up);
      }
      principalAncestors = widened;
    }
    const resourceAncestors = this.store.ancestorsOf(resourceKey);
    const principalAttrs = this.guardStates(principalKey, this.index.principalGuardAttrs);
    const resourceAttrs = this.guardStates(resourceKey, this.index.resourceGuardAttrs);
    const key = JSON.stringify([
      action.type,
      action.id,
      request.principal.type,
      request.resource.type,
      named(principalKey, principalAncestors, this.index.principalUids),
      named(undefined, resourceAncestors, this.index.resourceUids),
      [...principalAttrs],
      [...resourceAttrs],
    ]);
    const known = this.keys.get(key);
    if (known !== undefined) {
      this.keys.delete(key);
      this.keys.set(key, known); // most recently used last
      return known;
    }
    const principal: EntityFacts = { type: request.principal.type, uid: principalKey, ancestors: principalAncestors, attrs: principalAttrs };
    const resource: EntityFacts = { type: request.resource.type, ancestors: resourceAncestors, attrs: resourceAttrs };
    const slice = this.build(this.index.candidates(action, principal, resource));
    this.keys.delete(key);
    if (this.keys.size >= MAX_KEYS) this.keys.delete(this.keys.keys().next().value!);
    this.keys.set(key, slice);
    return slice;
  }

  /**
   * The slice for a request *shape* (action and types only): what every request of that shape may
   * need, a superset of each request's own slice. For tests and the benchmark's reporting.
   */
  sliceFor(action: string | EntityRef, principalType: string, resourceType: string): PolicySlice {
    return this.build(this.index.candidates(actionRef(action), { type: principalType }, { type: resourceType }));
  }

  private guardStates(key: string, attrs: ReadonlySet<string>): Map<string, AttributeState> {
    const states = new Map<string, AttributeState>();
    for (const attr of attrs) {
      const state = this.store.attributeState(key, attr);
      if (state !== undefined) states.set(attr, state);
    }
    return states;
  }

  private build(ids: string[]): PolicySlice {
    if (ids.length === this.whole.size) return this.whole;
    const literals = new Map<string, EntityRef>();
    for (const id of ids) for (const ref of this.literalsByPolicy.get(id) ?? []) literals.set(entityKey(ref), ref);
    const reads = unionReads(ids.map((id) => this.readsByPolicy.get(id)!));
    return new LazySlice(
      this.pool,
      this.namePrefix,
      this.policies,
      this.whole.policySetId,
      Object.freeze(ids),
      Object.freeze([...literals.values()]),
      reads,
      programsOf(ids, this.programs),
    );
  }
}

/** The compiled programs of `ids`, or undefined unless every one of them compiled. */
export function programsOf(ids: readonly string[], programs: ReadonlyMap<string, Program>): readonly Program[] | undefined {
  const out: Program[] = [];
  for (const id of ids) {
    const program = programs.get(id);
    if (program === undefined) return undefined;
    out.push(program);
  }
  return Object.freeze(out);
}

/** The entity's own key (if given) and its ancestors' keys that some scope names, sorted. */
function named(key: string | undefined, ancestors: ReadonlySet<string>, names: ReadonlySet<string>): string[] {
  const out = key !== undefined && names.has(key) ? [key] : [];
  for (const ancestor of ancestors) if (names.has(ancestor)) out.push(ancestor);
  return out.sort();
}
