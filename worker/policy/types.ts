/**
 * The policy decision point's public types. Plain data only: nothing here knows about Hono, HTTP or
 * KV, so every plane (and the CLI's replay) can build a request and read a decision.
 */

/** An entity's identity, as in Cedar's JSON format (no namespace in Verity's schema). */
export interface EntityRef {
  type: string;
  id: string;
}

/**
 * One entity in Cedar's JSON entity format. Entity references in attrs and tags are
 * `{ "__entity": EntityRef }`. `tags` (Cedar's `getTag`/`hasTag` map) is optional, as in Cedar;
 * Verity's own schema declares none, so its entities never carry them.
 */
export interface EntityJson {
  uid: EntityRef;
  attrs: Record<string, unknown>;
  parents: EntityRef[];
  tags?: Record<string, unknown>;
}

/** A value in Cedar's JSON value format: sets are arrays, records are objects, entities `{ __entity }`. */
export type CedarValue = string | number | boolean | readonly CedarValue[] | { readonly [key: string]: CedarValue };

/** The bundle as stored in KV (after its signature has been verified by the loader). */
export interface PolicyBundle {
  /** The Cedar schema, in Cedar's human-readable schema syntax. */
  schema: string;
  /** The whole policy set, in Cedar's policy syntax (the `.cedar` files concatenated). */
  policies: string;
  /** Free-form label for people (e.g. "2026-11-26.1"); not part of `version`. */
  label?: string;
}

/** One authorization question, built by the request translator (`./request.ts`). */
export interface AuthzRequest {
  principal: EntityRef;
  /**
   * The action. The gateway's form is the id alone, e.g. "invoke_model", of type `Action`; it must
   * not be empty (the translator, `./request.ts`, never produces an empty one). A full reference
   * `{ type, id }` is Cedar's general form, for foreign policy sets such as Cedar's own integration
   * tests: a namespaced action type (`NS::Action`) and, as Cedar allows, any id, the empty one too.
   */
  action: string | EntityRef;
  resource: EntityRef;
  /**
   * Groups the principal's credential asserted for this request (the issuer's groups claim). Each one
   * the entity store holds joins the principal's parents for this decision only; unknown ones are ignored.
   */
  principalGroups?: readonly EntityRef[];
  /** Must match the action's context shape in the schema exactly (strict request validation). */
  context: Record<string, CedarValue>;
}

/** What the gateway must do to honour an allow (or how a deny could become an allow). */
export type Obligation =
  | { kind: "max_tokens"; limit: number }
  | { kind: "redact"; category: string }
  | { kind: "mask"; category: string }
  | { kind: "tokenize"; category: string }
  /** What to do when the model's reply carries this category: redact it, or stop the reply. */
  | { kind: "reply"; action: "redact" | "stop"; category: string }
  | { kind: "route"; tier: string }
  | { kind: "step_up"; acr: string; maxAge?: number }
  /** On a deny of a tool call a model proposed: refuse the whole reply, not only that call. */
  | { kind: "refuse_reply" }
  /** Keep the prompt or the reply, envelope-encrypted, for `days` (worker/data/vault). */
  | { kind: "retain"; what: "prompt" | "output"; days: number };

export interface Decision {
  effect: "allow" | "deny";
  /**
   * Why: the ids of the determining policies (the satisfied permits of an allow, the satisfied
   * forbids of a deny), or one of the `REASON` sentinels when no policy determined the answer.
   */
  reasons: string[];
  /** Evaluation errors, as `<policy id>: <message>` or the engine's message. Non-empty ⇒ deny. */
  errors: string[];
  /** From the `@obligation` annotations of the policies in `reasons`, de-duplicated. */
  obligations: Obligation[];
  /** SHA-256 hex of the canonical bundle (`{schema, policies}`). */
  policyVersion: string;
  /** SHA-256 hex of the canonical entity store the decision was taken against. */
  entitiesVersion: string;
  /**
   * Exactly the entities handed to Cedar for this decision. Re-evaluating the same request against
   * the bundle of `policyVersion` with this slice as the whole entity store gives the same decision
   * (the slice is closed under parents and entity references), which is what `audit replay` does.
   */
  entitySlice: EntityJson[];
}

/** Reasons that are not policy ids. They contain a space, which a policy id never does. */
export const REASON = {
  /** The principal is not in the entity store; the gateway never invents principals. */
  unknownPrincipal: "unknown principal",
  /** The request itself is malformed (not an entity reference, not a record context, …). */
  invalidRequest: "invalid request",
  /** Cedar (or the evaluator) failed; see `errors`. */
  evaluationError: "evaluation error",
  /** No permit was satisfied and no forbid either: the default deny. */
  noPermit: "no permit",
} as const;

export interface PolicyDecisionPoint {
  /** SHA-256 hex of the canonical bundle content. */
  readonly version: string;
  /** SHA-256 hex of the canonical entity store. */
  readonly entitiesVersion: string;
  /** Policy id → obligations, parsed once at compile time. */
  readonly obligations: ReadonlyMap<string, readonly Obligation[]>;
  /**
   * Strict-validation problems (`<policy id>: <message>`) of a set compiled with
   * `validation: "report"` (test tooling only); always empty otherwise, because the default refuses
   * such a set.
   */
  readonly validationProblems: readonly string[];
  /** Never throws: any failure is a deny with the failure in `errors`. */
  decide(request: AuthzRequest): Decision;
}

export interface CompileOptions {
  /**
   * Refuse a policy without `@id` (default true). Off only for foreign policy sets such as Cedar's
   * own integration tests, where Cedar's positional ids (`policy0`, `policy1`, …) are used instead.
   */
  requirePolicyIds?: boolean;
  /**
   * What strict validation against the schema does with a policy that fails it. `"strict"` (the
   * default, and the only mode the gateway uses): the set is refused with `POLICY_VALIDATION_FAILED`.
   * `"report"`: for test tooling only (`verity policy test` running Cedar's `shouldValidate: false`
   * tests, which Cedar evaluates anyway): the set compiles and the problems are returned in
   * `pdp.validationProblems`. Every other check (parse, `@id`, entities, preparse) is unchanged.
   */
  validation?: "strict" | "report";
}
