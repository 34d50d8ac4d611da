/**
 * Deciding one request against a compiled policy. Pomerium's rule, kept literally: the answer is
 * allow only when Cedar says allow *and nothing went wrong*; every failure, including an exception
 * from the engine, is a deny that says why. Deny wins; no permit is a deny.
 */
import type { Cedar } from "./engine.ts";
import type { CompiledPolicy } from "./compile.ts";
import type { PolicySlice } from "./policy-slices.ts";
import { evaluate, evaluatorCounts, plainValue, refKey, wellFormedRef, type JsAnswer } from "./evaluate.ts";
import { requestConforms, trimmedInputs } from "./fast-path.ts";
import { obligationKey } from "./obligations.ts";
import { actionRef, collectEntityRefs, entityKey, isEntityRef } from "./slice.ts";
import { REASON, type AuthzRequest, type Decision, type EntityJson, type EntityRef, type Obligation } from "./types.ts";

type CedarEntities = Parameters<Cedar["statefulIsAuthorized"]>[0]["entities"];
type CedarContext = Parameters<Cedar["statefulIsAuthorized"]>[0]["context"];

/**
 * How `decideWith` runs. The gateway always uses `GATEWAY_MODE`; the other settings exist so that
 * tests and the benchmark can compare against the unsliced set and measure request validation's
 * cost. They are not reachable from a `PolicyDecisionPoint`.
 */
export interface DecideMode {
  /** Hand Cedar only the policies whose scope can match (`policy-slices.ts`). */
  readonly slicePolicies: boolean;
  /** Cedar's strict request validation against the schema (types and context shape). */
  readonly validateRequest: boolean;
  /**
   * With validation on: hand Cedar only what the policies read, without the schema, when that
   * provably gives the same answer (`fast-path.ts`); otherwise, and when off, the full call.
   */
  readonly trimInputs?: boolean;
  /**
   * With validation on: decide in JavaScript (`evaluate.ts`) when that is certain to give Cedar's
   * answer, without calling cedar-wasm; anything else takes the Cedar call as without it.
   */
  readonly evaluateInJs?: boolean;
}

export const GATEWAY_MODE: DecideMode = Object.freeze({ slicePolicies: true, validateRequest: true, trimInputs: true, evaluateInJs: true });

/** The gateway's mode with every decision taken by cedar-wasm: the JS evaluator's oracle (tests, benchmark). */
export const CEDAR_MODE: DecideMode = Object.freeze({ ...GATEWAY_MODE, evaluateInJs: false });

export function decideWith(compiled: CompiledPolicy, request: AuthzRequest, mode: DecideMode = GATEWAY_MODE): Decision {
  let slice: EntityJson[] = [];
  const deny = (reasons: string[], errors: string[] = [], obligations: Obligation[] = []): Decision => ({
    effect: "deny",
    reasons,
    errors,
    obligations,
    policyVersion: compiled.version,
    entitiesVersion: compiled.entitiesVersion,
    entitySlice: slice,
  });

  try {
    const problem = requestProblem(request);
    if (problem !== undefined) return deny([REASON.invalidRequest], [problem]);
    if (!compiled.store.has(request.principal)) return deny([REASON.unknownPrincipal]);
    // An unknown resource is left to Cedar, as Cedar defines it: `resource == X` still holds, and
    // any attribute read on it is an error, hence a deny here.

    const action = actionRef(request.action);
    const asserted = (request.principalGroups ?? []).filter((group) => compiled.store.has(group));
    // A group that is the principal or below it would close a cycle; Cedar refuses that too, but
    // names whichever vertex of the cycle it meets first, which depends on the entity slice.
    const principalKey = entityKey(request.principal);
    const cyclic = asserted.find((group) => entityKey(group) === principalKey || compiled.store.ancestorsOf(entityKey(group)).has(principalKey));
    if (cyclic !== undefined) return deny([REASON.evaluationError], [`asserted group ${cyclic.type}::${JSON.stringify(cyclic.id)} is the principal or below it: a membership cycle`]);
    const policies = mode.slicePolicies
      ? compiled.slicer.sliceOf({ action, principal: request.principal, resource: request.resource, asserted })
      : compiled.slicer.whole;
    const roots = [request.principal, ...asserted, request.resource, ...policies.literals];
    collectEntityRefs(request.context, roots);
    slice = withAssertedGroups(compiled.store.slice(roots), request.principal, asserted);

    const js = mode.evaluateInJs === true && mode.validateRequest ? decideInJs(compiled, policies.programs, { ...request, action }, asserted, slice) : undefined;
    if (js !== undefined) {
      // What Cedar's answer would be (certain, or `js` would be undefined): deny with the satisfied
      // forbids, else allow with the satisfied permits, else deny with none; no errors.
      const decision = js.forbids.length > 0 || js.permits.length === 0 ? "deny" : "allow";
      const determining = (js.forbids.length > 0 ? js.forbids : js.permits).sort();
      return decided(decision, determining, []);
    }

    let answer: ReturnType<Cedar["statefulIsAuthorized"]> | undefined;
    const trimmed =
      mode.trimInputs === true && mode.validateRequest && compiled.trim !== undefined
        ? trimmedInputs(compiled.trim, policies.reads, { ...request, action }, slice, asserted.length > 0)
        : undefined;
    if (trimmed !== undefined) {
      answer = compiled.cedar.statefulIsAuthorized({
        principal: request.principal,
        action,
        resource: request.resource,
        context: trimmed.context as CedarContext,
        preparsedPolicySetId: policies.policySetId,
        entities: trimmed.entities as CedarEntities,
      });
      // A failure here is never reported: the full call below gives Cedar's own answer.
      if (answer.type === "failure") answer = undefined;
    }
    answer ??= compiled.cedar.statefulIsAuthorized({
      principal: request.principal,
      action,
      resource: request.resource,
      context: request.context as CedarContext,
      preparsedSchemaName: compiled.schemaName,
      validateRequest: mode.validateRequest,
      preparsedPolicySetId: policies.policySetId,
      entities: slice as CedarEntities,
    });
    if (answer.type === "failure") {
      return deny([REASON.evaluationError], answer.errors.map((e) => e.message));
    }
    const { decision, diagnostics } = answer.response;
    // Sorted, like the reasons: Cedar reports them in its policy set's internal order, which is not
    // stable across policy sets (a slice and the whole set list the same errors differently).
    const errors = diagnostics.errors.map((e) => `${e.policyId}: ${e.error.message}`).sort();
    return decided(decision, [...diagnostics.reason].sort(), errors);
  } catch (error) {
    return deny([REASON.evaluationError], [error instanceof Error ? `${error.name}: ${error.message}` : String(error)]);
  }

  /** The decision from an engine's answer: its satisfied policies (sorted) and errors (sorted). */
  function decided(decision: "allow" | "deny", determining: string[], errors: string[]): Decision {
    if (decision === "allow" && errors.length === 0) {
      return {
        effect: "allow",
        reasons: determining,
        errors,
        obligations: obligationsOf(compiled, determining),
        policyVersion: compiled.version,
        entitiesVersion: compiled.entitiesVersion,
        entitySlice: slice,
      };
    }
    if (decision === "allow") {
      // Cedar skips a policy that errors; a skipped forbid could be why this is an allow.
      return deny([REASON.evaluationError], errors);
    }
    if (determining.length > 0) return deny(determining, errors, obligationsOf(compiled, determining));
    return deny([errors.length > 0 ? REASON.evaluationError : REASON.noPermit], errors);
  }
}

/**
 * The JS evaluator's answer, when it may run (`evaluate.ts`: compilable slice, qualifying bundle
 * and store, a request Cedar's strict validation accepts, well-formed strings) and decides.
 */
function decideInJs(
  compiled: CompiledPolicy,
  programs: PolicySlice["programs"],
  request: AuthzRequest & { action: EntityRef },
  asserted: readonly EntityRef[],
  slice: readonly EntityJson[],
): JsAnswer | undefined {
  const actions = compiled.evaluatorActions;
  if (actions === undefined || compiled.trim === undefined) {
    evaluatorCounts.bundleOutside++;
    return undefined;
  }
  if (programs === undefined) {
    evaluatorCounts.sliceOutside++;
    return undefined;
  }
  if (!requestConforms(compiled.trim, request, asserted.length > 0) || !wellFormedRef(request.principal) || !wellFormedRef(request.resource) || !plainValue(request.context)) {
    evaluatorCounts.requestOutside++;
    return undefined;
  }
  const entities = new Map<string, EntityJson>();
  for (const entity of slice) entities.set(refKey(entity.uid), entity);
  const answer = evaluate(programs, {
    principal: request.principal,
    action: request.action,
    resource: request.resource,
    context: request.context,
    entities,
    actions,
    ancestry: new Map(),
  });
  if (answer === undefined) evaluatorCounts.undecided++;
  else evaluatorCounts.answered++;
  return answer;
}

function obligationsOf(compiled: CompiledPolicy, policyIds: readonly string[]): Obligation[] {
  const out = new Map<string, Obligation>();
  for (const id of policyIds) {
    for (const obligation of compiled.obligations.get(id) ?? []) out.set(obligationKey(obligation), obligation);
  }
  return [...out.values()];
}

/** The slice with the principal's entity given the asserted groups as extra parents (a copy; the store is shared). */
function withAssertedGroups(slice: EntityJson[], principal: EntityRef, groups: readonly EntityRef[]): EntityJson[] {
  if (groups.length === 0) return slice;
  const key = entityKey(principal);
  return slice.map((entity) => {
    if (entityKey(entity.uid) !== key) return entity;
    const parents = new Map(entity.parents.map((p) => [entityKey(p), p]));
    for (const group of groups) parents.set(entityKey(group), { type: group.type, id: group.id });
    return { ...entity, parents: [...parents.values()] };
  });
}

function requestProblem(request: AuthzRequest): string | undefined {
  const raw: unknown = request;
  if (typeof raw !== "object" || raw === null) return "request must be an object";
  const r = raw as Record<string, unknown>;
  if (!isEntityRef(r.principal)) return "principal must be { type, id }";
  if (!isEntityRef(r.resource)) return "resource must be { type, id }";
  // The gateway's form (an id of type `Action`) is never empty; a full reference is Cedar's, any id.
  if (typeof r.action === "string") {
    if (r.action === "") return "action must be a non-empty string";
  } else if (!isEntityRef(r.action)) return "action must be a non-empty string or { type, id }";
  if (typeof r.context !== "object" || r.context === null || Array.isArray(r.context)) return "context must be a record";
  if (r.principalGroups !== undefined && !(Array.isArray(r.principalGroups) && r.principalGroups.every((g) => isEntityRef(g) && g.type === "Group"))) {
    return "principalGroups must be a list of Group references";
  }
  return undefined;
}
