/**
 * One error model for the whole gateway. Every refusal is a `GatewayError` with a code from a closed
 * set; the code decides the HTTP status and the wire shape (OpenAI or Anthropic) the caller sees.
 * Messages are written for the caller and never carry internals: an unexpected error becomes
 * `internal`, whose message is fixed, and its cause stays on the server side.
 */

export type ErrorCode =
  | "invalid_json"
  | "invalid_request"
  | "unsupported_media_type"
  | "payload_too_large"
  | "not_found"
  | "model_not_found"
  | "method_not_allowed"
  | "token_missing"
  | "token_invalid"
  | "token_unbound"
  | "proof_missing"
  | "dpop_proof_malformed"
  | "dpop_proof_invalid"
  | "dpop_proof_replayed"
  | "certificate_invalid"
  | "insufficient_user_authentication"
  | "session_revoked"
  | "token_revoked"
  | "forbidden"
  | "policy_denied"
  | "no_eligible_backend"
  | "egress_denied"
  | "upstream_error"
  | "upstream_timeout"
  | "audit_unavailable"
  | "config_unavailable"
  | "internal"
  | "model_pin_violation"
  | "attestation_failed"
  | "backend_suspect"
  | "risk_unavailable"
  | "revocation_unavailable"
  | "tool_not_found"
  | "tool_not_offered"
  | "tool_arguments_invalid"
  | "tool_arguments_too_large"
  | "tool_result_invalid"
  | "tool_result_too_large"
  | "tool_result_classified"
  | "redaction_incomplete"
  | "output_withheld"
  | "payload_erased"
  | "vault_unavailable"
  | "not_acceptable"
  | "mcp_invalid_message"
  | "mcp_batch_unsupported"
  | "mcp_out_of_order"
  | "mcp_protocol_version"
  | "mcp_session_unknown"
  | "mcp_session_forbidden"
  | "mcp_method_not_found"
  | "segment_denied"
  | "cors_origin_denied"
  | "rate_limited"
  | "token_budget_exhausted"
  | "rate_limit_unavailable"
  | "assertion_unavailable"
  | "upstream_response_too_large"
  | "upstream_unavailable";

interface CodeInfo {
  status: number;
  /** OpenAI `error.type`. */
  openai: string;
  /** Anthropic `error.type`. */
  anthropic: string;
}

const CODES: Record<ErrorCode, CodeInfo> = {
  invalid_json: { status: 400, openai: "invalid_request_error", anthropic: "invalid_request_error" },
  invalid_request: { status: 400, openai: "invalid_request_error", anthropic: "invalid_request_error" },
  unsupported_media_type: { status: 415, openai: "invalid_request_error", anthropic: "invalid_request_error" },
  payload_too_large: { status: 413, openai: "invalid_request_error", anthropic: "request_too_large" },
  not_found: { status: 404, openai: "invalid_request_error", anthropic: "not_found_error" },
  model_not_found: { status: 404, openai: "invalid_request_error", anthropic: "not_found_error" },
  method_not_allowed: { status: 405, openai: "invalid_request_error", anthropic: "invalid_request_error" },
  token_missing: { status: 401, openai: "authentication_error", anthropic: "authentication_error" },
  token_invalid: { status: 401, openai: "authentication_error", anthropic: "authentication_error" },
  token_unbound: { status: 401, openai: "authentication_error", anthropic: "authentication_error" },
  proof_missing: { status: 401, openai: "authentication_error", anthropic: "authentication_error" },
  dpop_proof_malformed: { status: 400, openai: "invalid_request_error", anthropic: "invalid_request_error" },
  dpop_proof_invalid: { status: 401, openai: "authentication_error", anthropic: "authentication_error" },
  dpop_proof_replayed: { status: 401, openai: "authentication_error", anthropic: "authentication_error" },
  certificate_invalid: { status: 401, openai: "authentication_error", anthropic: "authentication_error" },
  insufficient_user_authentication: { status: 401, openai: "authentication_error", anthropic: "authentication_error" },
  session_revoked: { status: 401, openai: "authentication_error", anthropic: "authentication_error" },
  token_revoked: { status: 401, openai: "authentication_error", anthropic: "authentication_error" },
  forbidden: { status: 403, openai: "permission_error", anthropic: "permission_error" },
  policy_denied: { status: 403, openai: "permission_error", anthropic: "permission_error" },
  no_eligible_backend: { status: 403, openai: "permission_error", anthropic: "permission_error" },
  egress_denied: { status: 502, openai: "api_error", anthropic: "api_error" },
  upstream_error: { status: 502, openai: "api_error", anthropic: "api_error" },
  upstream_timeout: { status: 504, openai: "api_error", anthropic: "timeout_error" },
  audit_unavailable: { status: 503, openai: "api_error", anthropic: "api_error" },
  config_unavailable: { status: 503, openai: "api_error", anthropic: "api_error" },
  internal: { status: 500, openai: "api_error", anthropic: "api_error" },
  // The backend, not the caller, is at fault: a reply as an unpinned model, an attestation that does not verify.
  model_pin_violation: { status: 502, openai: "api_error", anthropic: "api_error" },
  attestation_failed: { status: 502, openai: "api_error", anthropic: "api_error" },
  backend_suspect: { status: 503, openai: "api_error", anthropic: "api_error" },
  // Continuous verification could not run (its Durable Object did not answer): fail closed.
  risk_unavailable: { status: 503, openai: "api_error", anthropic: "api_error" },
  revocation_unavailable: { status: 503, openai: "api_error", anthropic: "api_error" },
  // Tool calls (worker/tools): the caller's call is at fault (4xx) or the tool's answer is (502).
  tool_not_found: { status: 404, openai: "invalid_request_error", anthropic: "not_found_error" },
  tool_not_offered: { status: 403, openai: "permission_error", anthropic: "permission_error" },
  tool_arguments_invalid: { status: 400, openai: "invalid_request_error", anthropic: "invalid_request_error" },
  tool_arguments_too_large: { status: 413, openai: "invalid_request_error", anthropic: "request_too_large" },
  tool_result_invalid: { status: 502, openai: "api_error", anthropic: "api_error" },
  tool_result_too_large: { status: 502, openai: "api_error", anthropic: "api_error" },
  // The tool answered with data above what the caller (or the tool) may see: withheld, not the caller's fault.
  tool_result_classified: { status: 403, openai: "permission_error", anthropic: "permission_error" },
  // Data plane (worker/data): after the obligated transforms, the request still carried data policy does
  // not let leave (where no transform reaches: nothing was sent); a reply carried data above the caller's clearance.
  redaction_incomplete: { status: 403, openai: "permission_error", anthropic: "permission_error" },
  output_withheld: { status: 502, openai: "api_error", anthropic: "api_error" },
  // Data at rest (worker/data/vault): a kept payload whose data subject was erased (its key is destroyed),
  // and a vault that did not answer, so a payload policy says to keep could not be kept: fail closed.
  payload_erased: { status: 410, openai: "invalid_request_error", anthropic: "not_found_error" },
  vault_unavailable: { status: 503, openai: "api_error", anthropic: "api_error" },
  // MCP (worker/tools/mcp*.ts): the route answers JSON-RPC errors; these are their HTTP statuses.
  not_acceptable: { status: 406, openai: "invalid_request_error", anthropic: "invalid_request_error" },
  mcp_invalid_message: { status: 400, openai: "invalid_request_error", anthropic: "invalid_request_error" },
  mcp_batch_unsupported: { status: 400, openai: "invalid_request_error", anthropic: "invalid_request_error" },
  mcp_out_of_order: { status: 400, openai: "invalid_request_error", anthropic: "invalid_request_error" },
  mcp_protocol_version: { status: 400, openai: "invalid_request_error", anthropic: "invalid_request_error" },
  mcp_session_unknown: { status: 404, openai: "invalid_request_error", anthropic: "not_found_error" },
  mcp_session_forbidden: { status: 403, openai: "permission_error", anthropic: "permission_error" },
  mcp_method_not_found: { status: 400, openai: "invalid_request_error", anthropic: "invalid_request_error" },
  // Network plane (worker/network): a route segment or browser origin the principal may not use; abuse
  // limits (429 with Retry-After, Anthropic's `rate_limit_error`); the limiter or the key ring that signs
  // backend assertions not answering (fail closed); an upstream answer larger than its destination's bound.
  segment_denied: { status: 403, openai: "permission_error", anthropic: "permission_error" },
  cors_origin_denied: { status: 403, openai: "permission_error", anthropic: "permission_error" },
  rate_limited: { status: 429, openai: "rate_limit_error", anthropic: "rate_limit_error" },
  token_budget_exhausted: { status: 429, openai: "rate_limit_error", anthropic: "rate_limit_error" },
  rate_limit_unavailable: { status: 503, openai: "api_error", anthropic: "api_error" },
  assertion_unavailable: { status: 503, openai: "api_error", anthropic: "api_error" },
  upstream_response_too_large: { status: 502, openai: "api_error", anthropic: "api_error" },
  // Fail-over (worker/providers/failover.ts): every eligible backend tried failed before answering.
  upstream_unavailable: { status: 503, openai: "api_error", anthropic: "api_error" },
};

/** Extra facts a 401 needs for its `WWW-Authenticate` challenge (RFC 6750, RFC 9449, RFC 9470). */
export interface Challenge {
  /** The scheme the caller used or should use; `DPoP` challenges also list the proof algorithms. */
  scheme?: "Bearer" | "DPoP";
  error?: "invalid_token" | "invalid_request" | "insufficient_user_authentication" | "invalid_dpop_proof";
  acrValues?: string;
  maxAge?: number;
  /** RFC 9728 §5.1: where the protected resource's metadata is (MCP clients discover the issuer from it). */
  resourceMetadata?: string;
}

/** The algorithms a DPoP proof may use (RFC 9449 §7.1 `algs`); the identity plane enforces the same list. */
export const DPOP_ALGORITHMS = ["ES256", "ES384", "EdDSA", "PS256", "RS256"] as const;

export class GatewayError extends Error {
  readonly code: ErrorCode;
  readonly challenge: Challenge | undefined;
  readonly headers: Record<string, string>;

  constructor(
    code: ErrorCode,
    message: string,
    options: { cause?: unknown; challenge?: Challenge; headers?: Record<string, string> } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = "GatewayError";
    this.code = code;
    this.challenge = options.challenge;
    this.headers = options.headers ?? {};
  }

  get status(): number {
    return CODES[this.code].status;
  }
}

/** The same refusal, challenged in the scheme the caller used (RFC 9449 §7.1: DPoP answers DPoP). */
export function inScheme(error: GatewayError, scheme: "Bearer" | "DPoP"): GatewayError {
  if (error.status !== 401 || error.challenge?.scheme !== undefined) return error;
  return new GatewayError(error.code, error.message, { cause: error.cause, challenge: { ...error.challenge, scheme }, headers: error.headers });
}

/** The wire shape a route speaks; decides how an error body looks. */
export type WireFormat = "openai" | "anthropic";

/** Turns anything thrown into a GatewayError; unknown errors lose their message on purpose. */
export function asGatewayError(error: unknown): GatewayError {
  if (error instanceof GatewayError) return error;
  return new GatewayError("internal", "The gateway could not complete the request.", { cause: error });
}

function challengeHeader(error: GatewayError): string {
  const challenge = error.challenge ?? {};
  const scheme = challenge.scheme ?? (error.code.startsWith("dpop_") ? "DPoP" : "Bearer");
  const parts = [`${scheme} realm="verity"`];
  const code = challenge.error ?? (error.code === "token_missing" ? undefined : error.code.startsWith("dpop_") ? "invalid_dpop_proof" : "invalid_token");
  if (code) parts.push(`error="${code}"`);
  if (code) parts.push(`error_description="${error.message.replace(/["\\]/g, "")}"`);
  if (challenge.acrValues) parts.push(`acr_values="${challenge.acrValues}"`);
  if (challenge.maxAge !== undefined) parts.push(`max_age=${challenge.maxAge}`);
  if (challenge.resourceMetadata) parts.push(`resource_metadata="${challenge.resourceMetadata}"`);
  const dpopAlgs = `algs="${DPOP_ALGORITHMS.join(" ")}"`;
  if (scheme === "DPoP") return [...parts, dpopAlgs].join(", ");
  // Without a credential the caller may use either scheme (RFC 9449 §7.1): offer both.
  return error.code === "token_missing" ? `${parts.join(", ")}, DPoP realm="verity", ${dpopAlgs}` : parts.join(", ");
}

/** The error object in the route's wire shape (also what an in-stream error event carries). */
export function errorBody(error: GatewayError, format: WireFormat, requestId: string): Record<string, unknown> {
  const info = CODES[error.code];
  return format === "anthropic"
    ? { type: "error", error: { type: info.anthropic, message: error.message }, request_id: requestId }
    : { error: { message: error.message, type: info.openai, code: error.code, param: null } };
}

export function errorResponse(error: GatewayError, format: WireFormat, requestId: string): Response {
  const info = CODES[error.code];
  const body = errorBody(error, format, requestId);
  const headers = new Headers({ "content-type": "application/json", "x-request-id": requestId, ...error.headers });
  // A malformed DPoP header is a 400 that still tells the caller how to authenticate (RFC 9449 §7.1).
  if (info.status === 401 || error.code === "dpop_proof_malformed") headers.set("www-authenticate", challengeHeader(error));
  return new Response(JSON.stringify(body), { status: info.status, headers });
}
