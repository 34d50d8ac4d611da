/**
 * The tools entry: what the pipeline, the relay and the routes use of tool-call authorization,
 * delegated tokens, the invoke route and the MCP proxy. The rest of the folder is its own business.
 */
export { MAX_TOOL_ARGUMENT_BYTES } from "./authorize.ts";
export { assertKeyRetention, DEFAULT_GATEWAY_ISSUER, type JwsSigner } from "./delegated-token.ts";
export { handleToolInvoke } from "./invoke.ts";
export { handleMessage } from "./mcp.ts";
export { checkSession, isAudited, type McpAnswer, type McpExchange, mcpMessageToken } from "./mcp-exchange.ts";
export { httpStatusOf, idOf, type JsonRpcId, jsonRpcError, parseJsonRpcMessage } from "./mcp-jsonrpc.ts";
export { createSessionVerifier, type McpSession, type PublishedKeys, type SessionVerifier } from "./mcp-session.ts";
export { exchange } from "./mcp-upstream.ts";
export { cutOffer } from "./offer.ts";
export { anthropicToolCalls, authorizeAnthropicReply } from "./proposals-anthropic.ts";
export { authorizeOpenAiReply, openaiToolCalls } from "./proposals-openai.ts";
export { ProposalError, refusalHeader, type ToolCallGate } from "./proposals.ts";
export { createProposalGate } from "./proposals-gate.ts";
