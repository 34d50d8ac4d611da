/**
 * Plane 3, the policy decision point (Cedar). The one service every plane may ask.
 *
 *   const pdp = compilePolicy(bundle, entities);   // at configuration load; throws PolicyError
 *   const decision = pdp.decide(request);          // per request; never throws, errors deny
 *
 * `compilePolicy` is pure set-up: it checks, validates and preparses everything once per
 * (bundle version, entity set) and caches the result per isolate, so calling it again with the same
 * configuration is a hash and a map lookup. A new configuration yields a new PDP object; a caller
 * swaps its reference atomically and in-flight requests finish on the PDP they started with.
 */
import { canonicalJson } from "../lib/canonical-json.ts";
import { sha256HexSync } from "../lib/sha256-sync.ts";
import { bundleVersion, compile, entitiesVersionOf, readBundle, type CompiledPolicy } from "./compile.ts";
import { decideWith } from "./decide.ts";
import { EntityStore } from "./slice.ts";
import type { AuthzRequest, CompileOptions, Decision, EntityJson, PolicyDecisionPoint } from "./types.ts";

export type {
  AuthzRequest,
  CedarValue,
  CompileOptions,
  Decision,
  EntityJson,
  EntityRef,
  Obligation,
  PolicyBundle,
  PolicyDecisionPoint,
} from "./types.ts";
export { REASON } from "./types.ts";
export * from "./errors.ts";
export { parseObligations } from "./obligations.ts";
export { policyBundleFromSources } from "./bundle.ts";
export * from "./request.ts";

/**
 * Compiled PDPs of this isolate, by bundle version, entity-set version and options. Small: a
 * gateway runs one configuration at a time, plus the previous one during a swap. (cedar-wasm keeps
 * every preparsed policy set for the isolate's life and has no call to drop one; that is bounded by
 * the number of distinct bundle versions an isolate ever sees.)
 */
const MAX_CACHED = 4;
const cache = new Map<string, PolicyDecisionPoint>();

/**
 * Compiles `bundle` (as stored in KV) with `entities` (identity seed + registry-derived entities).
 * Throws a `PolicyError` subclass naming the exact problem; see `errors.ts` for the codes.
 */
export function compilePolicy(bundle: unknown, entities: EntityJson[], options: CompileOptions = {}): PolicyDecisionPoint {
  const settled: Required<CompileOptions> = {
    requirePolicyIds: options.requirePolicyIds ?? true,
    validation: options.validation === "report" ? "report" : "strict",
  };
  const checked = readBundle(bundle);
  const version = bundleVersion(checked);
  const store = EntityStore.from(entities);
  const entitiesVersion = entitiesVersionOf(store);
  const key = sha256HexSync(canonicalJson([version, entitiesVersion, settled.requirePolicyIds, settled.validation]));
  const cached = cache.get(key);
  if (cached !== undefined) {
    cache.delete(key);
    cache.set(key, cached); // most recently used last
    return cached;
  }
  const pdp = decisionPoint(compile(checked, version, store, entitiesVersion, settled));
  cache.set(key, pdp);
  if (cache.size > MAX_CACHED) cache.delete(cache.keys().next().value!);
  return pdp;
}

/**
 * Decisions kept per compiled PDP. A decision is a pure function of the policy version, the entity
 * version (both fixed for one PDP) and the request, so an identical request gets the identical answer
 * without another trip through Cedar; the caller still records every decision. Bounded: 1,000
 * entries of a few hundred bytes each (the slice dominates) stay far below an isolate's 128 MB.
 */
const MAX_MEMO = 1000;

/** A PDP is a frozen value; `decide` is a named function that needs no `this`. */
function decisionPoint(compiled: CompiledPolicy): PolicyDecisionPoint {
  const memo = new Map<string, Decision>();
  return Object.freeze({
    version: compiled.version,
    entitiesVersion: compiled.entitiesVersion,
    obligations: compiled.obligations,
    validationProblems: compiled.validationProblems,
    decide: function decide(request: AuthzRequest): Decision {
      // The translator builds requests with a fixed key order, so equal requests serialise equally.
      let key: string;
      try {
        key = JSON.stringify(request);
      } catch {
        return decideWith(compiled, request);
      }
      const known = memo.get(key);
      if (known !== undefined) return known;
      const decision = Object.freeze(decideWith(compiled, request));
      if (memo.size >= MAX_MEMO) memo.delete(memo.keys().next().value!);
      memo.set(key, decision);
      return decision;
    },
  });
}
