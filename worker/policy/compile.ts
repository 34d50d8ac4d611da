/**
 * Compiling a policy bundle: every check that can refuse a bundle happens here, once per bundle
 * version, so that `decide` has nothing left to parse but the request's entity slice.
 *
 * Steps, each with its own error code: bundle shape → schema parse → policy parse (no templates)
 * → `@id` and `@obligation` annotations → strict validation against the schema → entities
 * against the schema → preparse into cedar-wasm's per-isolate cache.
 */
import { canonicalJson } from "../lib/canonical-json.ts";
import { sha256HexSync } from "../lib/sha256-sync.ts";
import { cedarEngine, type Cedar } from "./engine.ts";
import {
  PolicyAnnotationError,
  PolicyBundleError,
  PolicyEngineError,
  PolicyEntitiesError,
  PolicyParseError,
  PolicySchemaError,
  PolicyValidationError,
} from "./errors.ts";
import { actionHierarchy, compileProgram, evaluableStore, type Program } from "./evaluate.ts";
import { policyReads, trimPlan, unionReads, type PolicyReads, type TrimPlan } from "./fast-path.ts";
import { parseObligations } from "./obligations.ts";
import { PolicySlicer, programsOf, type PolicySlice } from "./policy-slices.ts";
import { ScopeIndex, actionAncestors, ancestorTypes, policyScope, type PolicyScope } from "./scope.ts";
import { EntityStore, collectEntityRefs, entityKey } from "./slice.ts";
import type { CompileOptions, EntityRef, Obligation, PolicyBundle } from "./types.ts";

/** A policy id: what an investigator reads in an audit record. No spaces (see `REASON`). */
const POLICY_ID = /^[a-z0-9][a-z0-9._:\/-]*$/;
const BUNDLE_KEYS = new Set(["schema", "policies", "label"]);

/** Everything `decide` needs, derived from one bundle and one entity set. */
export interface CompiledPolicy {
  readonly cedar: Cedar;
  readonly version: string;
  readonly entitiesVersion: string;
  readonly schemaName: string;
  readonly store: EntityStore;
  readonly obligations: ReadonlyMap<string, readonly Obligation[]>;
  /**
   * The policy set by request (`policy-slices.ts`); `slicer.whole` is the unsliced set, with
   * every entity literal of every policy condition (e.g. `Group::"auditors"`).
   */
  readonly slicer: PolicySlicer;
  /** Strict-validation problems; non-empty only with `validation: "report"` (else they throw). */
  readonly validationProblems: readonly string[];
  /** For trimmed Cedar calls (`fast-path.ts`); absent when this schema and store do not qualify. */
  readonly trim?: TrimPlan;
  /**
   * The schema's action hierarchy (by `refKey`), when the JS evaluator (`evaluate.ts`) may run for
   * this bundle and store: `trim` is defined and every string of the store is well-formed.
   */
  readonly evaluatorActions?: ReadonlyMap<string, ReadonlySet<string>>;
}

/** Checks the bundle's shape and returns its two hashed fields. */
export function readBundle(bundle: unknown): PolicyBundle {
  if (typeof bundle !== "object" || bundle === null || Array.isArray(bundle)) {
    throw new PolicyBundleError("policy bundle must be an object { schema, policies }");
  }
  const record = bundle as Record<string, unknown>;
  const problems: string[] = [];
  if (typeof record.schema !== "string" || record.schema.trim() === "") problems.push("schema must be a non-empty string");
  if (typeof record.policies !== "string") problems.push("policies must be a string");
  if (record.label !== undefined && typeof record.label !== "string") problems.push("label must be a string");
  for (const key of Object.keys(record)) if (!BUNDLE_KEYS.has(key)) problems.push(`unexpected member ${JSON.stringify(key)}`);
  if (problems.length > 0) throw new PolicyBundleError("bad policy bundle", problems);
  return { schema: record.schema as string, policies: record.policies as string };
}

/** The bundle version: SHA-256 hex of the RFC 8785 canonical JSON of `{ schema, policies }`. */
export function bundleVersion(bundle: PolicyBundle): string {
  return sha256HexSync(canonicalJson({ schema: bundle.schema, policies: bundle.policies }));
}

/** The entity set's version: SHA-256 hex of the canonical JSON of the entities sorted by uid. */
export function entitiesVersionOf(store: EntityStore): string {
  return sha256HexSync(canonicalJson(store.all()));
}

export function compile(
  bundle: PolicyBundle,
  version: string,
  store: EntityStore,
  entitiesVersion: string,
  /** `validation` absent means "strict", as for `compilePolicy`. */
  options: Pick<Required<CompileOptions>, "requirePolicyIds"> & Pick<CompileOptions, "validation">,
): CompiledPolicy {
  let cedar: Cedar;
  try {
    cedar = cedarEngine();
  } catch (cause) {
    throw new PolicyEngineError("cedar-wasm could not be instantiated", [], { cause });
  }

  // Schema. Preparsing also parses: its failure is the schema's error.
  const schemaName = `schema:${sha256HexSync(bundle.schema)}`;
  const schemaAnswer = cedar.preparseSchema(schemaName, bundle.schema);
  if (schemaAnswer.type === "failure") throw new PolicySchemaError("schema does not parse", messages(schemaAnswer.errors));

  // Policies: split, name, read annotations.
  const parts = cedar.policySetTextToParts(bundle.policies);
  if (parts.type === "failure") throw new PolicyParseError("policies do not parse", messages(parts.errors));
  if (parts.policy_templates.length > 0) throw new PolicyParseError("templates are not supported", [`${parts.policy_templates.length} template(s)`]);
  // Without @id, Cedar names the n policies of a text policy0…policy{n-1}, and policySetTextToParts
  // returns them sorted by that id (as strings), so the positional names sort the same way.
  const positional = parts.policies.map((_, index) => `policy${index}`).sort();
  const staticPolicies: Record<string, string> = {};
  const obligations = new Map<string, readonly Obligation[]>();
  const literals = new Map<string, EntityRef>();
  const literalsByPolicy = new Map<string, EntityRef[]>();
  const scopes: PolicyScope[] = [];
  const reads = new Map<string, PolicyReads>();
  const programs = new Map<string, Program>();
  const problems: string[] = [];
  parts.policies.forEach((text, index) => {
    const json = cedar.policyToJson(text);
    if (json.type === "failure") throw new PolicyParseError("policy does not parse", messages(json.errors));
    const annotations = json.json.annotations ?? {};
    const annotatedId = annotations.id;
    let id: string;
    if (annotatedId !== undefined) id = annotatedId;
    else if (!options.requirePolicyIds) id = positional[index]!;
    else {
      problems.push(`policy without @id: ${firstLine(text)}`);
      return;
    }
    if (!POLICY_ID.test(id)) problems.push(`@id ${JSON.stringify(id)} must match ${POLICY_ID.source}`);
    else if (id in staticPolicies) problems.push(`@id ${JSON.stringify(id)} is used twice`);
    staticPolicies[id] = text;
    const obligation = annotations.obligation;
    if (obligation !== undefined) obligations.set(id, Object.freeze(parseObligations(obligation, id)));
    const refs: EntityRef[] = [];
    for (const clause of json.json.conditions) collectReadLiterals(clause.body, refs);
    for (const ref of refs) literals.set(entityKey(ref), ref);
    literalsByPolicy.set(id, refs);
    scopes.push(policyScope(id, json.json));
    reads.set(id, policyReads(json.json));
    const program = compileProgram(id, json.json);
    if (program !== undefined) programs.set(id, program);
  });
  if (problems.length > 0) throw new PolicyAnnotationError("bad @id", problems);

  // Strict validation: a policy that does not type-check against the schema is refused, not skipped.
  // Only test tooling may ask for "report" (Cedar's `shouldValidate: false` tests): the problems are
  // then returned on the compiled policy instead; the gateway never passes it.
  const validation = cedar.validate({
    schema: bundle.schema,
    policies: { staticPolicies },
    validationSettings: { mode: "strict" },
  });
  if (validation.type === "failure") throw new PolicyValidationError("validation could not run", messages(validation.errors));
  const validationProblems = validation.validationErrors.map((e) => `${e.policyId}: ${e.error.message}${e.error.help ? ` (${e.error.help})` : ""}`);
  if (validationProblems.length > 0 && options.validation !== "report") {
    throw new PolicyValidationError("policies fail strict validation", validationProblems);
  }

  // Entities against the schema (attribute types, parent types, unknown entity types).
  const entityAnswer = cedar.checkParseEntities({ entities: store.all() as Parameters<Cedar["checkParseEntities"]>[0]["entities"], schema: bundle.schema });
  if (entityAnswer.type === "failure") throw new PolicyEntitiesError("entities do not conform to the schema", messages(entityAnswer.errors));

  const policySetId = `pset:${version}:${options.requirePolicyIds ? "ids" : "positional"}`;
  const psetAnswer = cedar.preparsePolicySet(policySetId, { staticPolicies });
  if (psetAnswer.type === "failure") throw new PolicyParseError("policies do not preparse", messages(psetAnswer.errors));

  // Slicing: scopes, the store's type ancestry and the schema's action hierarchy, read once; the
  // preparsed slices themselves are made on first use.
  const actions = actionAncestors(cedar, bundle.schema);
  const index = new ScopeIndex(scopes, ancestorTypes(store), actions);
  const trim = trimPlan(cedar, bundle.schema, store.all(), actions);
  // The JS evaluator runs only where trimmed calls are exact, over a store it reads exactly.
  const evaluatorActions = trim !== undefined && actions !== undefined && evaluableStore(store.all()) ? actionHierarchy(actions) : undefined;
  if (evaluatorActions === undefined) programs.clear();
  const ids = Object.freeze(scopes.map((scope) => scope.id));
  const whole: PolicySlice = Object.freeze({
    policySetId,
    ids,
    literals: Object.freeze([...literals.values()]),
    size: scopes.length,
    reads: unionReads(reads.values()),
    ...optional("programs", programsOf(ids, programs)),
  });
  const slicer = new PolicySlicer(cedar, policySetId, index, store, staticPolicies, literalsByPolicy, reads, programs, whole);

  return {
    cedar,
    version,
    entitiesVersion,
    schemaName,
    store,
    obligations,
    slicer,
    validationProblems: Object.freeze(validationProblems),
    ...optional("trim", trim),
    ...optional("evaluatorActions", evaluatorActions),
  };
}

/** `{ [key]: value }`, or nothing when value is undefined (for exactOptionalPropertyTypes-style objects). */
function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

/**
 * The entity literals of a condition whose *data* Cedar may read, i.e. that must be in the entity
 * slice. A literal only compared (`==`, `!=`, `contains…` with a set of literals) or on the right of
 * `in` is never looked up: equality compares uids, and `x in E` reads the ancestors of `x`, not `E`.
 * Any other position (attribute access, `has`, tags, left of `in`, inside `if`, a record, …) counts as
 * read. Anything unrecognised falls back to collecting every literal below it.
 */
function collectReadLiterals(expr: unknown, into: EntityRef[]): void {
  if (typeof expr !== "object" || expr === null) return;
  const node = expr as Record<string, unknown>;
  const keys = Object.keys(node);
  if (keys.length === 1) {
    const op = keys[0]!;
    const args = node[op] as Record<string, unknown> | undefined;
    if (args !== undefined && typeof args === "object" && (op === "&&" || op === "||")) {
      collectReadLiterals(args.left, into); // boolean connectives read nothing themselves
      collectReadLiterals(args.right, into);
      return;
    }
    if (args !== undefined && typeof args === "object" && op === "!") {
      collectReadLiterals(args.arg, into);
      return;
    }
    if (args !== undefined && typeof args === "object" && "left" in args && "right" in args) {
      if (op === "==" || op === "!=" || op === "contains" || op === "containsAll" || op === "containsAny") {
        if (!isLiteralOrLiteralSet(args.left)) collectReadLiterals(args.left, into);
        if (!isLiteralOrLiteralSet(args.right)) collectReadLiterals(args.right, into);
        return;
      }
      if (op === "in") {
        collectReadLiterals(args.left, into);
        if (!isLiteralOrLiteralSet(args.right)) collectReadLiterals(args.right, into);
        return;
      }
    }
  }
  collectEntityRefs(expr, into);
}

function isLiteralOrLiteralSet(expr: unknown): boolean {
  if (typeof expr !== "object" || expr === null) return false;
  const node = expr as Record<string, unknown>;
  if ("Value" in node && Object.keys(node).length === 1) return true; // a literal value: no entity data read
  if ("Set" in node && Object.keys(node).length === 1 && Array.isArray(node.Set)) return node.Set.every(isLiteralOrLiteralSet);
  return false;
}

function messages(errors: readonly { message: string; help: string | null }[]): string[] {
  return errors.map((e) => (e.help ? `${e.message} (${e.help})` : e.message));
}

function firstLine(text: string): string {
  const line = text.split("\n").find((l) => /^\s*(permit|forbid)/.test(l)) ?? text.split("\n")[0] ?? "";
  return line.trim().slice(0, 80);
}
