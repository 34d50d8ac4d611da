/**
 * Authorizing one tool call, whoever proposes it: the caller (`POST /v1/tools/{tool}/invoke`, MCP
 * `tools/call`) or a model (a tool call in its answer). Synchronous, so a streamed reply can be
 * checked call by call without awaiting. Checks, in order, each with its own code:
 *
 *   1. the tool exists in the registry                            tool_not_found
 *   2. the request offered it (only when `offered` is given)      tool_not_offered
 *   3. the arguments are at most MAX_TOOL_ARGUMENT_BYTES          tool_arguments_too_large
 *   4. the arguments are JSON (duplicate names refused)           tool_arguments_invalid
 *   5. they match the tool's JSON Schema                          tool_arguments_invalid (with the path)
 *   6. the PDP allows `call_tool` for the human principal, with the arguments' classification and
 *      derived facts in the context                               insufficient_user_authentication
 *                                                                 (step-up obligation) | policy_denied
 *
 * The size check runs before parsing (not after, as the list in issue 5 reads) so that an oversized
 * text is never parsed at all. Any failure on the way (a tool schema the validator cannot compile, an
 * argument the canonical form refuses) is a deny, never an allow.
 */
import { Validator } from "@cfworker/json-schema";
import { LEVEL_NAMES, type Classification, type Principal, type RequestState } from "../context.ts";
import { classify } from "../data/index.ts";
import { GatewayError, type ErrorCode } from "../errors.ts";
import { canonicalJson } from "../lib/canonical-json.ts";
import { base64url, utf8 } from "../lib/encoding.ts";
import { sha256Sync } from "../lib/sha256-sync.ts";
import { parseStrictJson } from "../lib/strict-json.ts";
import { decisionRecord, principalRef, stepUpRequired } from "../caller.ts";
import { callToolRequest, type CallToolFacts, type Decision, type RequestEnvironment } from "../policy/index.ts";
import type { AuditRecord } from "../verify/index.ts";
import type { GatewayConfig, Tool } from "../workload/index.ts";
import { argumentFacts } from "./argument-facts.ts";

/**
 * The largest arguments text accepted, in UTF-8 bytes: 64 KiB. Tool arguments are short structured
 * values (a query, a mail of a few paragraphs); 64 KiB is 16 times the largest seeded case (a 4 KiB
 * mail body) and 1/16 of the gateway's request body limit (MAX_BODY_BYTES, 1 MiB), so a call always
 * fits in a request that carries it.
 */
export const MAX_TOOL_ARGUMENT_BYTES = 64 * 1024;

export interface ToolCall {
  tool: string;
  /** The raw JSON text as proposed (a model's tool call) or sent (the caller's `arguments`). */
  arguments: string;
  origin: "caller" | "model";
  /** The tools the request offered the model; when given, a call to any other tool is refused. */
  offered?: readonly string[];
}

export type ToolCallVerdict =
  | {
      allowed: true;
      tool: Tool;
      /** The parsed arguments, exactly as validated. */
      args: unknown;
      /** base64url SHA-256 of the arguments' RFC 8785 canonical JSON (the delegated token's `args_sha256`). */
      argumentsDigest: string;
      decision: Decision;
      /** The translator's input, recorded so `audit replay` can ask again. */
      facts: CallToolFacts;
      configVersion: string;
    }
  | {
      allowed: false;
      code: ErrorCode;
      message: string;
      tool?: Tool;
      argumentsDigest?: string;
      decision?: Decision;
      facts?: CallToolFacts;
      configVersion: string;
    };

/** Schema validators, compiled once per tool object; a new configuration version brings new tool objects. */
const validators = new WeakMap<Tool, Validator>();

function validatorFor(tool: Tool): Validator {
  let validator = validators.get(tool);
  if (!validator) {
    validator = new Validator(tool.arguments, "2020-12", false);
    validators.set(tool, validator);
  }
  return validator;
}

/** The deepest schema error: it names the offending field (its parents only say "does not match schema"). */
function schemaError(tool: Tool, args: unknown): string | undefined {
  const result = validatorFor(tool).validate(args);
  if (result.valid) return undefined;
  const deepest = result.errors.reduce<(typeof result.errors)[number] | undefined>(
    (best, e) => (best === undefined || e.instanceLocation.length > best.instanceLocation.length ? e : best),
    undefined,
  );
  return deepest ? `${deepest.instanceLocation || "#"}: ${deepest.error}` : "does not match the tool's schema";
}

/** UTF-8 length without encoding a text that is already too long by its UTF-16 length alone. */
function tooLarge(text: string): boolean {
  return text.length > MAX_TOOL_ARGUMENT_BYTES || utf8(text).length > MAX_TOOL_ARGUMENT_BYTES;
}

/** Every string, number and key in a JSON value (arguments, a tool's result), for the data plane's classifier. */
export function textsOf(value: unknown, into: string[] = []): string[] {
  if (typeof value === "string") into.push(value);
  else if (typeof value === "number") into.push(String(value));
  else if (Array.isArray(value)) for (const item of value) textsOf(item, into);
  else if (typeof value === "object" && value !== null) {
    for (const [key, item] of Object.entries(value)) {
      into.push(key);
      textsOf(item, into);
    }
  }
  return into;
}

export function argumentsDigestOf(args: unknown): string {
  return base64url(sha256Sync(canonicalJson(args)));
}

export function authorizeToolCall(config: GatewayConfig, principal: Principal, environment: RequestEnvironment, call: ToolCall): ToolCallVerdict {
  const configVersion = config.version;
  const tool = config.registry.tools.get(call.tool);
  if (!tool) return { allowed: false, code: "tool_not_found", message: `no tool named "${call.tool}" exists`, configVersion };
  if (call.offered && !call.offered.includes(tool.id)) {
    return { allowed: false, code: "tool_not_offered", message: `the tool "${tool.id}" was not offered in this request`, tool, configVersion };
  }
  if (tooLarge(call.arguments)) {
    return { allowed: false, code: "tool_arguments_too_large", message: `the arguments exceed ${MAX_TOOL_ARGUMENT_BYTES} bytes`, tool, configVersion };
  }
  const refuse = (message: string) => ({ allowed: false as const, code: "tool_arguments_invalid" as const, message, tool, configVersion });
  let args: unknown;
  try {
    args = parseStrictJson(call.arguments);
  } catch {
    return refuse("the arguments are not a JSON text (or repeat a member name)");
  }
  let argumentsDigest: string;
  let invalid: string | undefined;
  try {
    argumentsDigest = argumentsDigestOf(args);
    invalid = schemaError(tool, args);
  } catch {
    // A schema the validator cannot use, or a value with no canonical form: deny, never allow.
    return refuse(`the arguments could not be checked against the schema of "${tool.id}"`);
  }
  if (invalid !== undefined) return { ...refuse(`the arguments do not match the schema of "${tool.id}": ${invalid}`), argumentsDigest };

  const classification = classify(textsOf(args));
  const facts: CallToolFacts = {
    ...environment,
    principal: principalRef(principal),
    tool: tool.id,
    origin: call.origin,
    classification: { level: classification.level, categories: classification.categories },
    arguments: argumentFacts(args),
  };
  const decision = config.pdp.decide(callToolRequest(facts));
  if (decision.effect === "allow") return { allowed: true, tool, args, argumentsDigest, decision, facts, configVersion };
  // Step-up only when stronger authentication would turn the deny into an allow: every forbid that
  // determined it asks for step-up (mallory's contractor rule, a recipient rule do not).
  const stepUp =
    decision.reasons.length > 0 &&
    decision.errors.length === 0 &&
    decision.reasons.every((id) => (config.pdp.obligations.get(id) ?? []).some((o) => o.kind === "step_up"));
  return {
    allowed: false,
    code: stepUp ? "insufficient_user_authentication" : "policy_denied",
    message: stepUp ? `calling "${tool.id}" requires a stronger authentication` : `calling "${tool.id}" with these arguments is not allowed by policy`,
    tool,
    argumentsDigest,
    decision,
    facts,
    configVersion,
  };
}

/**
 * The audit record of a tool-call decision, allow or deny. Never the arguments themselves: their
 * digest, size, classification and the facts policy saw (enough to replay the decision).
 */
export function toolDecisionRecord(state: RequestState, principal: Principal, call: ToolCall, verdict: ToolCallVerdict): AuditRecord {
  const { decision, facts } = verdict;
  return decisionRecord(state, principal, {
    action: "call_tool",
    origin: call.origin,
    resource: { type: "Tool", id: verdict.tool?.id ?? call.tool },
    decision: verdict.allowed ? "allow" : "deny",
    ...(verdict.allowed ? {} : { code: verdict.code, reason: verdict.message }),
    argumentBytes: utf8(call.arguments).length,
    ...(verdict.argumentsDigest ? { argumentsDigest: verdict.argumentsDigest } : {}),
    configVersion: verdict.configVersion,
    ...(decision
      ? {
          // The PDP's own answer: an allow the gateway then refused (egress) is still an allow to replay.
          effect: decision.effect,
          reasons: decision.reasons,
          errors: decision.errors,
          obligations: decision.obligations,
          policyVersion: decision.policyVersion,
          entitySlice: decision.entitySlice,
        }
      : {}),
    ...(facts ? { facts } : {}),
  });
}

/**
 * The refusal a denied verdict answers with: a step-up deny becomes the RFC 9470 401 challenge with
 * the `acr_values` the policy named; every other deny keeps its code and message.
 */
export function verdictError(verdict: Extract<ToolCallVerdict, { allowed: false }>): GatewayError {
  if (verdict.code === "insufficient_user_authentication" && verdict.decision) {
    const stepUp = stepUpRequired(verdict.decision.obligations);
    if (stepUp) return stepUp;
  }
  return new GatewayError(verdict.code, verdict.message);
}

/**
 * The data plane's view of a tool's result (invoke route and MCP alike). A tool may return at most
 * its own classification (the level the caller was just authorized to hand it and receive from it),
 * and never a secret: a result above that is withheld whole (not redacted: a partial search result
 * would mislead the model).
 */
export function toolResultRefusal(tool: Tool, classification: Classification): GatewayError | undefined {
  if (classification.categories.includes("secret")) return new GatewayError("tool_result_classified", `the result of "${tool.id}" holds a secret and was withheld`);
  if (classification.level > LEVEL_NAMES.indexOf(tool.classification)) {
    return new GatewayError("tool_result_classified", `the result of "${tool.id}" is classified above what this tool may return and was withheld`);
  }
  return undefined;
}
