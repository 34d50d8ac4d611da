/**
 * Cutting a request's offered tools down to those the caller may use, before the request leaves: a
 * model is never shown a tool it could not call for this principal. Per offered tool the PDP is asked
 * the `call_tool` question a proposed call would ask, without arguments (origin "model", arguments of
 * no sensitivity, the facts of an empty argument object); the arguments of an actual call are checked
 * when the model proposes it (proposals-gate.ts). A tool the registry does not know is removed too.
 *
 * `tool_choice` that names a removed tool, or demands a tool call (`required`, `any`) when none
 * remains, refuses the request with that tool's refusal: the model could not comply, and a silent
 * change of the caller's explicit choice would hide why.
 */
import { principalRef, stepUpRequired } from "../caller.ts";
import type { NormalizedRequest, Principal } from "../context.ts";
import { GatewayError, type ErrorCode } from "../errors.ts";
import { callToolRequest, type RequestEnvironment } from "../policy/index.ts";
import { isRecord } from "../providers/validate.ts";
import type { GatewayConfig } from "../workload/index.ts";

/** A tool taken out of the request, for the decision record. */
export type RemovedTool = { tool: string; code: ErrorCode; reasons: string[] };

export interface OfferCut {
  /** The request as it leaves: `tools` (and the body's) without the removed ones. */
  request: NormalizedRequest;
  removed: RemovedTool[];
  /** Set when `tool_choice` cannot be honoured with what remains; the request is refused with it. */
  refusal?: GatewayError;
}

/** Why the caller may not be offered `name`, or undefined when it may. */
function offerRefusal(config: GatewayConfig, principal: Principal, environment: RequestEnvironment, name: string): { error: GatewayError; reasons: string[] } | undefined {
  if (!config.registry.tools.has(name)) return { error: new GatewayError("tool_not_found", `no tool named "${name}" exists`), reasons: [] };
  const decision = config.pdp.decide(
    callToolRequest({ ...environment, principal: principalRef(principal), tool: name, origin: "model", classification: { level: 0, categories: [] } }),
  );
  if (decision.effect === "allow") return undefined;
  // Step-up only when every forbid that decided it asks for step-up (as authorize.ts decides).
  const stepUp =
    decision.reasons.length > 0 && decision.errors.length === 0 && decision.reasons.every((id) => (config.pdp.obligations.get(id) ?? []).some((o) => o.kind === "step_up"))
      ? stepUpRequired(decision.obligations)
      : undefined;
  return { error: stepUp ?? new GatewayError("policy_denied", `the tool "${name}" may not be offered to this caller`), reasons: decision.reasons };
}

/** The tool names a `tool_choice` names (OpenAI `function.name`, `allowed_tools`; Anthropic `name`). */
function chosenNames(choice: unknown): string[] {
  if (!isRecord(choice)) return [];
  const names: string[] = [];
  if (typeof choice.name === "string") names.push(choice.name);
  if (isRecord(choice.function) && typeof choice.function.name === "string") names.push(choice.function.name);
  const allowed = isRecord(choice.allowed_tools) && Array.isArray(choice.allowed_tools.tools) ? choice.allowed_tools.tools : [];
  for (const tool of allowed) names.push(...chosenNames(tool));
  return names;
}

/** Whether `tool_choice` makes the model call some tool (OpenAI `required`, Anthropic `any` / `tool`). */
function demandsCall(choice: unknown): boolean {
  if (choice === "required") return true;
  return isRecord(choice) && (choice.type === "any" || choice.type === "tool" || choice.type === "function" || choice.mode === "required");
}

export function cutOffer(config: GatewayConfig, principal: Principal, environment: RequestEnvironment, request: NormalizedRequest): OfferCut {
  if (request.tools.length === 0) return { request, removed: [] };
  const removed: RemovedTool[] = [];
  const errors = new Map<string, GatewayError>();
  const keep = request.tools.map((name) => {
    const refused = offerRefusal(config, principal, environment, name);
    if (!refused) return true;
    removed.push({ tool: name, code: refused.error.code, reasons: refused.reasons });
    errors.set(name, refused.error);
    return false;
  });
  if (removed.length === 0) return { request, removed };

  const kept = request.tools.filter((_, i) => keep[i]);
  const choice = request.body.tool_choice;
  const named = chosenNames(choice).find((name) => errors.has(name));
  const refusal = named !== undefined ? errors.get(named) : kept.length === 0 && demandsCall(choice) ? errors.get(removed[0]!.tool) : undefined;
  // `parse` read one name per `tools` entry, in order: the entries kept are those whose name is.
  const tools = (request.body.tools as unknown[]).filter((_, i) => keep[i]);
  const { tools: _offered, tool_choice: _choice, parallel_tool_calls: _parallel, ...rest } = request.body;
  // With no tool left, the fields that only make sense with tools go too (OpenAI refuses them alone).
  const body = kept.length > 0 ? { ...request.body, tools } : rest;
  return { request: { ...request, tools: kept, body }, removed, ...(refusal ? { refusal } : {}) };
}
