/**
 * `POST /v1/tools/{tool}/invoke`, body `{ "arguments": <JSON value> | "<JSON text>" }`: runs one tool
 * for the authenticated caller.
 *
 *   identity → authorizeToolCall (origin "caller") → gateway checks (endpoint on the egress
 *   allowlist, keys kept long enough) → decision committed (write-ahead) → delegated token → the
 *   tool endpoint (the caller's token never forwarded; bounded time and size) → the result checked
 *   (JSON) and classified (nothing above the tool's classification, no secrets) → completion
 *   committed → `{ "tool", "result" }`.
 *
 * Every refusal is in the audit log: before the tool runs as the decision record (deny, with its
 * code), after it ran as the completion record (with `error`).
 */
import type { Context } from "hono";
import { authenticateCaller, commit, egressFor, requestEnvironment, type PipelineDeps } from "../caller.ts";
import type { Principal } from "../context.ts";
import { classify } from "../data/index.ts";
import type { AppEnv } from "../env.ts";
import { asGatewayError, GatewayError } from "../errors.ts";
import { canonicalJson } from "../lib/canonical-json.ts";
import { readAtMost, TooLargeError } from "../lib/bounded-read.ts";
import { parseStrictJson } from "../lib/strict-json.ts";
import { readJsonBody } from "../network/index.ts";
import { KEY_RING_NAME, keyRingPolicy, type AuditRecord } from "../verify/index.ts";
import type { GatewayConfig, Tool } from "../workload/index.ts";
import { authorizeToolCall, textsOf, toolDecisionRecord, toolResultRefusal, verdictError, type ToolCall, type ToolCallVerdict } from "./authorize.ts";
import { assertKeyRetention, DEFAULT_GATEWAY_ISSUER, issueDelegatedToken, type JwsSigner } from "./delegated-token.ts";

/**
 * The largest tool result relayed, in bytes: 256 KiB, a quarter of the gateway's request body limit
 * (MAX_BODY_BYTES, 1 MiB), so a result can always be handed back to a model in a following request.
 */
export const MAX_TOOL_RESULT_BYTES = 256 * 1024;

/** The whole tool call (headers and body) must finish within this: 10 s. */
export const TOOL_TIMEOUT_MS = 10_000;

/** The arguments as JSON text: a JSON text given as a string is taken verbatim (OpenAI `tool_calls` style). */
async function argumentsOf(request: Request, maxBytes: number): Promise<string> {
  const { json } = await readJsonBody(request, maxBytes);
  const extra = Object.keys(json).filter((key) => key !== "arguments");
  if (extra.length > 0) throw new GatewayError("invalid_request", `unknown member "${extra[0]}": the body is { "arguments": … } only`);
  if (!("arguments" in json)) throw new GatewayError("invalid_request", 'the body must have an "arguments" member');
  return typeof json.arguments === "string" ? json.arguments : JSON.stringify(json.arguments);
}

/** Checks the gateway itself must pass before it may run an allowed call; undefined when it may. */
function gatewayRefusal(config: GatewayConfig, tool: Tool, env: AppEnv["Bindings"]): GatewayError | undefined {
  // No token is minted for a destination egress would refuse anyway.
  if (!config.registry.origins.has(new URL(tool.endpoint).origin)) {
    return new GatewayError("egress_denied", `the endpoint of "${tool.id}" is not on the egress allowlist`);
  }
  try {
    assertKeyRetention(keyRingPolicy(env).retainMs);
  } catch (error) {
    return asGatewayError(error);
  }
  return undefined;
}

interface ToolResult {
  result: unknown;
  bytes: number;
}

async function callTool(config: GatewayConfig, tool: Tool, token: string, body: string, requestId: string, caller: AbortSignal): Promise<ToolResult> {
  const deadline = new AbortController();
  const abort = () => deadline.abort(caller.reason);
  caller.addEventListener("abort", abort, { once: true });
  const timer = setTimeout(() => deadline.abort(new DOMException("the tool took too long", "TimeoutError")), TOOL_TIMEOUT_MS);
  const timedOut = () => deadline.signal.reason instanceof DOMException && deadline.signal.reason.name === "TimeoutError";
  try {
    const response = await egressFor(config)(tool.endpoint, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json", accept: "application/json", "x-request-id": requestId },
      body,
      signal: deadline.signal,
    });
    if (!response.ok) {
      await response.body?.cancel().catch(() => undefined);
      throw new GatewayError("upstream_error", `the tool "${tool.id}" answered with status ${response.status}`);
    }
    let bytes: Uint8Array;
    try {
      bytes = await readAtMost(response.body, MAX_TOOL_RESULT_BYTES);
    } catch (cause) {
      if (cause instanceof TooLargeError) throw new GatewayError("tool_result_too_large", `the result of "${tool.id}" exceeds ${MAX_TOOL_RESULT_BYTES} bytes`);
      if (timedOut()) throw new GatewayError("upstream_timeout", `the tool "${tool.id}" did not answer in time`, { cause });
      throw new GatewayError("upstream_error", `the tool "${tool.id}" broke off its answer`, { cause });
    }
    // Every registered tool declares JSON results: anything else is refused, not passed on.
    if (!/^application\/(?:[\w.+-]+\+)?json\s*(;|$)/i.test(response.headers.get("content-type") ?? "")) {
      throw new GatewayError("tool_result_invalid", `the result of "${tool.id}" is not application/json`);
    }
    try {
      return { result: parseStrictJson(new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes)), bytes: bytes.byteLength };
    } catch (cause) {
      throw new GatewayError("tool_result_invalid", `the result of "${tool.id}" is not valid JSON`, { cause });
    }
  } finally {
    clearTimeout(timer);
    caller.removeEventListener("abort", abort);
  }
}

function completionRecord(requestId: string, principal: Principal, tool: string, fields: Record<string, unknown>): AuditRecord {
  return { type: "completion", requestId, tenant: principal.tenant, time: new Date().toISOString(), action: "call_tool", tool, ...fields } as AuditRecord;
}

export async function handleToolInvoke(c: Context<AppEnv>, deps: PipelineDeps): Promise<Response> {
  const state = c.var.state;
  const sink = deps.audit(c.env);
  const { config, principal } = await authenticateCaller(c, deps);
  const call: ToolCall = { tool: c.req.param("tool") ?? "", arguments: "", origin: "caller" };

  let verdict: ToolCallVerdict;
  try {
    call.arguments = await argumentsOf(c.req.raw, Number(c.env.MAX_BODY_BYTES));
    verdict = authorizeToolCall(config, principal, requestEnvironment(principal, c.req.raw, state.receivedAt), call);
  } catch (error) {
    const refusal = asGatewayError(error);
    verdict = { allowed: false, code: refusal.code, message: refusal.message, configVersion: config.version };
  }
  if (verdict.allowed) {
    const refusal = gatewayRefusal(config, verdict.tool, c.env);
    if (refusal) verdict = { ...verdict, allowed: false, code: refusal.code, message: refusal.message };
  }
  await commit(sink, toolDecisionRecord(state, principal, call, verdict));
  if (!verdict.allowed) throw verdictError(verdict);

  const { tool, args, argumentsDigest } = verdict;
  let jti: string | undefined;
  try {
    const ring = c.env.KEY_RING.get(c.env.KEY_RING.idFromName(KEY_RING_NAME)) as unknown as JwsSigner;
    const issued = await issueDelegatedToken(ring, { issuer: c.env.GATEWAY_ISSUER || DEFAULT_GATEWAY_ISSUER, principal, tool, argumentsDigest, now: Date.now() });
    jti = issued.claims.jti;
    // The gateway sends its own canonical form: exactly the bytes `args_sha256` commits to.
    const { result, bytes } = await callTool(config, tool, issued.token, canonicalJson(args), state.requestId, c.req.raw.signal);
    const classification = classify(textsOf(result));
    const summary = { level: classification.level, categories: classification.categories, findings: classification.findings.length };
    const withheld = toolResultRefusal(tool, classification);
    await commit(sink, completionRecord(state.requestId, principal, tool.id, { jti, resultBytes: bytes, classification: summary, status: withheld ? withheld.status : 200, ...(withheld ? { error: withheld.code } : {}) }));
    if (withheld) throw withheld;
    return c.json({ tool: tool.id, result });
  } catch (error) {
    const failure = asGatewayError(error);
    if (failure.code !== "tool_result_classified" && failure.code !== "audit_unavailable") {
      await commit(sink, completionRecord(state.requestId, principal, tool.id, { ...(jti ? { jti } : {}), status: failure.status, error: failure.code })).catch(() => undefined);
    }
    throw failure;
  }
}
