/**
 * Load-time errors of the policy plane: a bundle or entity set that cannot be compiled. One base
 * class with a closed set of codes, one subclass per failure, `cause` chained; tests assert `code`.
 * These never happen per request: `decide` turns every failure into a deny instead.
 */

export type PolicyErrorCode =
  | "POLICY_BUNDLE_INVALID"
  | "POLICY_SCHEMA_INVALID"
  | "POLICY_PARSE_FAILED"
  | "POLICY_VALIDATION_FAILED"
  | "POLICY_ANNOTATION_INVALID"
  | "POLICY_ENTITIES_INVALID"
  | "POLICY_ENGINE_FAILED";

export abstract class PolicyError extends Error {
  abstract readonly code: PolicyErrorCode;
  /** Every individual problem (Cedar's messages with the policy id), for the operator. */
  readonly details: readonly string[];

  constructor(message: string, details: readonly string[] = [], options?: { cause?: unknown }) {
    super(details.length > 0 ? `${message}: ${details.join("; ")}` : message, options);
    this.details = details;
  }
}

/** The bundle is not `{ schema: string, policies: string, label?: string }`. */
export class PolicyBundleError extends PolicyError {
  override readonly name = "PolicyBundleError";
  readonly code = "POLICY_BUNDLE_INVALID";
}

/** The schema does not parse. */
export class PolicySchemaError extends PolicyError {
  override readonly name = "PolicySchemaError";
  readonly code = "POLICY_SCHEMA_INVALID";
}

/** The policy text does not parse, or holds templates. */
export class PolicyParseError extends PolicyError {
  override readonly name = "PolicyParseError";
  readonly code = "POLICY_PARSE_FAILED";
}

/** Strict validation of the policies against the schema found errors. */
export class PolicyValidationError extends PolicyError {
  override readonly name = "PolicyValidationError";
  readonly code = "POLICY_VALIDATION_FAILED";
}

/** A missing, malformed or duplicate `@id`, or an `@obligation` this gateway cannot enforce. */
export class PolicyAnnotationError extends PolicyError {
  override readonly name = "PolicyAnnotationError";
  readonly code = "POLICY_ANNOTATION_INVALID";
}

/** The entities are malformed, conflict, or do not conform to the schema. */
export class PolicyEntitiesError extends PolicyError {
  override readonly name = "PolicyEntitiesError";
  readonly code = "POLICY_ENTITIES_INVALID";
}

/** The Cedar engine itself could not be loaded. */
export class PolicyEngineError extends PolicyError {
  override readonly name = "PolicyEngineError";
  readonly code = "POLICY_ENGINE_FAILED";
}
