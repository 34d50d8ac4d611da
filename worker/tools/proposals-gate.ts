/**
 * The gate the relay asks about each tool call a model proposes: authorizeToolCall for the human
 * principal (origin "model", the request's offered tools), and the decision committed to the tenant's
 * audit log — allowed or not — before the ruling is returned, so the caller never holds an allowed
 * call whose decision is not yet in the log. A log that cannot commit refuses the reply.
 */
import { commit } from "../caller.ts";
import type { Principal, RequestState } from "../context.ts";
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
}

export function createProposalGate(options: ProposalGateOptions): ToolCallGate {
  const { config, principal, environment, state, sink, offered } = options;
  return {
    decide: async function decideProposedCall(proposed) {
      const call: ToolCall = { tool: proposed.name, arguments: proposed.arguments, origin: "model", offered };
      const verdict = authorizeToolCall(config, principal, environment, call);
      await commit(sink, { ...toolDecisionRecord(state, principal, call, verdict), toolCallId: proposed.id });
      if (verdict.allowed) return { allowed: true };
      const refuseReply = verdict.decision?.obligations.some((o) => o.kind === "refuse_reply") ?? false;
      return { allowed: false, error: verdictError(verdict), refuseReply };
    },
  };
}
