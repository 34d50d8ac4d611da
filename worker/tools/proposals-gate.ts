/**
 * The gate the relay asks about each tool call a model proposes: authorizeToolCall for the human
 * principal (origin "model", the request's offered tools), and the decision committed to the tenant's
 * audit log — allowed or not — before the ruling is returned, so the caller never holds an allowed
 * call whose decision is not yet in the log. A log that cannot commit refuses the reply.
 *
 * When the prompt was tokenized, the model can only propose arguments holding placeholders. They are
 * restored first: the call is decided on the values it will run with (a tokenized recipient must
 * meet the recipient policy as the address it is), and the caller receives those values.
 */
import { commit } from "../caller.ts";
import type { Principal, RequestState } from "../context.ts";
import { jsonStringContent, type TokenVault } from "../data/index.ts";
import type { RequestEnvironment } from "../policy/index.ts";
import type { AuditSink } from "../verify/index.ts";
import type { GatewayConfig } from "../workload/index.ts";
import { authorizeToolCall, toolDecisionRecord, verdictError, type ToolCall } from "./authorize.ts";
import type { ToolCallGate } from "./proposals.ts";

export interface ProposalGateOptions {
  config: GatewayConfig;
  principal: Principal;
  environment: RequestEnvironment;
  state: RequestState;
  sink: AuditSink;
  /** The tool names the caller offered the model (before they were cut down to the allowed ones). */
  offered: readonly string[];
  /** The request's tokenized values, whose placeholders in proposed arguments are restored. */
  tokens?: TokenVault;
}

export function createProposalGate(options: ProposalGateOptions): ToolCallGate {
  const { config, principal, environment, state, sink, offered, tokens } = options;
  return {
    decide: async function decideProposedCall(proposed) {
      const restored = tokens?.restore(proposed.arguments, jsonStringContent);
      const args = restored !== undefined && restored.restored > 0 ? restored.text : proposed.arguments;
      const call: ToolCall = { tool: proposed.name, arguments: args, origin: "model", offered };
      const verdict = authorizeToolCall(config, principal, environment, call);
      await commit(sink, { ...toolDecisionRecord(state, principal, call, verdict), toolCallId: proposed.id });
      if (verdict.allowed) return args === proposed.arguments ? { allowed: true } : { allowed: true, arguments: args };
      const refuseReply = verdict.decision?.obligations.some((o) => o.kind === "refuse_reply") ?? false;
      return { allowed: false, error: verdictError(verdict), refuseReply };
    },
  };
}
