/**
 * Policy slicing, the run-time half: for a request's (action, principal type, resource type), the id
 * of a cedar-wasm preparsed policy set holding only the policies whose scope can match
 * (`scope.ts`), and the policy-condition entity literals those policies need in the entity slice.
 *
 * Per request this is one string key and one map lookup. The first request of a shape computes the
 * candidates (one pass over the scopes) and preparses them; shapes with the same candidates share one
 * preparsed set, named by the bundle version and a hash of the candidate ids, so two PDPs of the same
 * bundle share it too.
 *
 * Bounds. Shapes: a request shape is the gateway's own translator output (Verity's schema has 5
 * actions × ≤ 2 principal types × 1 resource type = 8 valid shapes), but a caller could vary types,
 * so at most MAX_SHAPES are remembered and the table is cleared beyond that (a recomputation costs
 * one pass over the scopes, no preparse when the candidates are already known). Preparsed sets:
 * cedar-wasm keeps each for the isolate's life and cannot drop one, so at most MAX_SETS distinct sets
 * are preparsed per PDP; past that a new shape gets the whole set, which is always a correct answer,
 * only slower.
 */
import { sha256HexSync } from "../lib/sha256-sync.ts";
import type { Cedar } from "./engine.ts";
import type { ScopeIndex } from "./scope.ts";
import { actionRef } from "./slice.ts";
import type { EntityRef } from "./types.ts";

const MAX_SHAPES = 1024;
const MAX_SETS = 64;

/** What one decision uses of the policy set. */
export interface PolicySlice {
  /** A preparsed policy set id. */
  readonly policySetId: string;
  /** Entity literals in the conditions of the slice's policies: part of the entity slice. */
  readonly literals: readonly EntityRef[];
  /** How many policies Cedar evaluates (for tests and the benchmark). */
  readonly size: number;
}

export class PolicySlicer {
  private readonly shapes = new Map<string, PolicySlice>();
  private readonly sets = new Map<string, PolicySlice>();

  constructor(
    private readonly cedar: Cedar,
    /** Prefix of every preparsed set id: the bundle version and the id mode. */
    private readonly namePrefix: string,
    private readonly index: ScopeIndex,
    private readonly policies: Readonly<Record<string, string>>,
    private readonly literalsByPolicy: ReadonlyMap<string, readonly EntityRef[]>,
    /** The whole policy set, already preparsed: the fallback. */
    readonly whole: PolicySlice,
  ) {}

  /** `action`: the gateway's id form (type `Action`) or a full reference. */
  sliceFor(action: string | EntityRef, principalType: string, resourceType: string): PolicySlice {
    const uid = actionRef(action);
    const shape = JSON.stringify([uid.type, uid.id, principalType, resourceType]);
    const known = this.shapes.get(shape);
    if (known !== undefined) return known;
    const slice = this.build(this.index.candidates(uid, principalType, resourceType));
    if (this.shapes.size >= MAX_SHAPES) this.shapes.clear();
    this.shapes.set(shape, slice);
    return slice;
  }

  private build(ids: string[]): PolicySlice {
    if (ids.length === this.whole.size) return this.whole;
    const name = `${this.namePrefix}:slice:${sha256HexSync(JSON.stringify(ids))}`;
    const existing = this.sets.get(name);
    if (existing !== undefined) return existing;
    if (this.sets.size >= MAX_SETS) return this.whole;
    const staticPolicies: Record<string, string> = {};
    const literals = new Map<string, EntityRef>();
    for (const id of ids) {
      staticPolicies[id] = this.policies[id]!;
      for (const ref of this.literalsByPolicy.get(id) ?? []) literals.set(JSON.stringify([ref.type, ref.id]), ref);
    }
    let answer: ReturnType<Cedar["preparsePolicySet"]>;
    try {
      answer = this.cedar.preparsePolicySet(name, { staticPolicies });
    } catch {
      return this.whole; // cannot happen for a part of a set that preparsed; the whole set is correct
    }
    if (answer.type === "failure") return this.whole;
    const slice: PolicySlice = Object.freeze({ policySetId: name, literals: Object.freeze([...literals.values()]), size: ids.length });
    this.sets.set(name, slice);
    return slice;
  }
}
