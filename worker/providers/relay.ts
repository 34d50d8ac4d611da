/**
 * Relays a model backend's reply to the caller in the same wire format, inspecting it on the way:
 *
 *   whole reply: parse → model pin → tool calls proposed (authorized, audited) → reply text filters
 *   stream:      events (sse.ts) → usage → model pin → tool calls → reply text filters → caller
 *
 * Each stream event is parsed once and leaves with its original text unless an inspector changed it.
 * A malformed event, a stop by an inspector or a failure on the way ends the stream with the
 * provider's own error event (never a silent pass); a whole reply is refused as a clean error.
 */
import { asGatewayError, errorBody, GatewayError, type WireFormat } from "../errors.ts";
import { readTextAtMost, TooLargeError } from "../lib/bounded-read.ts";
import { responseHeaders } from "../network/index.ts";
import { anthropicToolCalls, authorizeAnthropicReply, authorizeOpenAiReply, openaiToolCalls, ProposalError, refusalHeader, type ToolCallGate } from "../tools/index.ts";
import { endOnBreak } from "./break-off.ts";
import { checkClaim, claimOf, createStreamPinGuard, pinRefusal, type ModelPin, type PinViolation } from "./model-pin.ts";
import { filterWholeReply, replyTextInspector, type ReplyFilterFactory } from "./reply-text.ts";
import { createInspectorChain, createSseParser, MalformedEventError, serialise, type EventInspector, type InspectStep, type SseEvent, type StreamStop } from "./sse.ts";
import type { UsageReport, WireProvider } from "./types.ts";
import { isRecord } from "./validate.ts";

/** How a relayed reply ended, for the completion record. */
export interface RelayOutcome extends UsageReport {
  status: number;
  stream: boolean;
  bytes: number;
  /** The caller went away before the end; the upstream request was cancelled. */
  aborted: boolean;
  /** Set when the reply was stopped (its code), e.g. `model_pin_violation`. */
  error?: string;
  /** The reply claimed a model the backend is not pinned to serve; it was stopped. */
  pinViolation?: PinViolation;
}

export interface RelayOptions {
  stream: boolean;
  requestId: string;
  /** Bound on reading a whole (non-streamed) reply after its headers. */
  timeoutMs: number;
  /** The models the backend may serve for this request; a reply claiming another one is stopped. */
  pin: ModelPin;
  /** The data plane's reply filters, one per choice or text block; without it text passes unchanged. */
  replyFilter?: ReplyFilterFactory;
  /** Authorizes (and audits) each tool call the model proposes; without it tool calls pass unchecked. */
  toolCalls?: ToolCallGate;
  done: (outcome: RelayOutcome) => void;
}

/** Header of a whole reply from which refused tool calls were removed: `<tool>=<code>, …`. */
export const TOOL_REFUSALS_HEADER = "x-verity-tool-refusals";

export function upstreamRefused(status: number): GatewayError {
  // The upstream's body may hold internal details or secrets; the caller learns only the status.
  return new GatewayError("upstream_error", `the model backend failed (status ${status})`);
}

/**
 * A whole (non-streamed) reply larger than this is refused: far above any chat completion, and the
 * most a backend can make the gateway buffer for one request.
 */
const MAX_WHOLE_REPLY_BYTES = 8 * 1024 * 1024;

/** Reads a whole reply body, giving up (and closing the connection) after `timeoutMs` or past the size limit. */
async function readWhole(upstream: Response, timeoutMs: number): Promise<string> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new GatewayError("upstream_timeout", "the model backend did not finish its reply in time")), timeoutMs);
  });
  try {
    return await Promise.race([readTextAtMost(upstream.body, MAX_WHOLE_REPLY_BYTES), expired]);
  } catch (error) {
    await upstream.body?.cancel().catch(() => undefined);
    if (error instanceof TooLargeError) throw new GatewayError("upstream_error", "the model backend's reply is too large", { cause: error });
    throw error instanceof GatewayError ? error : new GatewayError("upstream_error", "the model backend's reply broke off", { cause: error });
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}

const WHOLE_TOOL_CALLS: Readonly<Record<WireFormat, typeof authorizeOpenAiReply>> = { openai: authorizeOpenAiReply, anthropic: authorizeAnthropicReply };
const STREAM_TOOL_CALLS: Readonly<Record<WireFormat, (gate: ToolCallGate) => EventInspector>> = { openai: openaiToolCalls, anthropic: anthropicToolCalls };

async function relayWhole(provider: WireProvider, upstream: Response, options: RelayOptions): Promise<Response> {
  const { requestId, done } = options;
  const text = await readWhole(upstream, options.timeoutMs);
  let reply: unknown;
  try {
    reply = JSON.parse(text);
  } catch (cause) {
    throw new GatewayError("upstream_error", "the model backend sent an invalid reply", { cause });
  }
  if (!isRecord(reply) || !provider.isCompletion(reply)) {
    throw new GatewayError("upstream_error", "the model backend sent an invalid reply");
  }
  const usage = provider.readUsage(reply);
  const pinViolation = checkClaim(provider.format, options.pin, claimOf(provider.format, reply));
  if (pinViolation) {
    const refusal = pinRefusal();
    done({ ...usage, status: refusal.status, stream: false, bytes: text.length, aborted: false, error: refusal.code, pinViolation });
    throw refusal;
  }
  let relayed = reply;
  const headers = responseHeaders(upstream.headers, requestId);
  try {
    if (options.toolCalls) {
      const authorized = await WHOLE_TOOL_CALLS[provider.format](relayed, options.toolCalls);
      relayed = authorized.reply;
      if (authorized.refused.length > 0) headers.set(TOOL_REFUSALS_HEADER, refusalHeader(authorized.refused));
    }
    if (options.replyFilter) relayed = filterWholeReply(provider.format, relayed, options.replyFilter);
  } catch (error) {
    // A refused reply is still a completed exchange with the backend: its usage is recorded.
    const refusal = asGatewayError(error);
    done({ ...usage, status: refusal.status, stream: false, bytes: text.length, aborted: false, error: refusal.code });
    throw refusal;
  }
  done({ ...usage, status: upstream.status, stream: false, bytes: text.length, aborted: false });
  headers.set("content-type", "application/json");
  // Re-serialised only when an inspector changed it; otherwise the backend's bytes go out as they came.
  return new Response(relayed === reply ? text : JSON.stringify(relayed), { status: upstream.status, headers });
}

/** Reads usage and the served model from each event as it passes; never holds or changes one. */
function usageObserver(provider: WireProvider): EventInspector & { usage: UsageReport } {
  const usage: UsageReport = {};
  return {
    usage,
    push(event) {
      const data = event.data;
      // Most events carry neither usage nor (after the first) anything new.
      if (data && (data.usage !== undefined || data.message !== undefined || (usage.model === undefined && data.model !== undefined))) {
        Object.assign(usage, provider.readUsage(data));
      }
      return { events: [event] };
    },
    end: () => ({ events: [] }),
  };
}

/** The provider's own in-stream error event (OpenAI: a `data:` error object; Anthropic: `event: error`). */
function errorEvent(provider: WireProvider, error: GatewayError, requestId: string): string {
  const data = JSON.stringify(errorBody(error, provider.format, requestId));
  return provider.format === "anthropic" ? `event: error\ndata: ${data}\n\n` : `data: ${data}\n\n`;
}

/** What ends a stream when something on the way fails: the backend's fault, or a fail-closed refusal. */
function stopFor(error: unknown): StreamStop {
  if (error instanceof MalformedEventError) return { error: new GatewayError("upstream_error", "the model backend sent a malformed event; the reply was stopped", { cause: error }) };
  if (error instanceof ProposalError) return { error: new GatewayError("upstream_error", "the model backend sent a malformed tool call; the reply was stopped", { cause: error }) };
  return { error: asGatewayError(error) };
}

function relayStream(provider: WireProvider, upstream: Response, options: RelayOptions): Response {
  const { requestId, done } = options;
  const body = upstream.body;
  if (!body || !(upstream.headers.get("content-type") ?? "").startsWith("text/event-stream")) {
    throw new GatewayError("upstream_error", "the model backend did not stream its reply");
  }
  const encoder = new TextEncoder();
  const parser = createSseParser();
  const observer = usageObserver(provider);
  const chain = createInspectorChain([
    observer,
    createStreamPinGuard(provider.format, options.pin),
    ...(options.toolCalls ? [STREAM_TOOL_CALLS[provider.format](options.toolCalls)] : []),
    ...(options.replyFilter ? [replyTextInspector(provider.format, options.replyFilter)] : []),
  ]);
  let bytes = 0;
  let finished = false;
  let broken: StreamStop | undefined;
  const finish = (aborted: boolean, stop?: StreamStop) => {
    if (finished) return;
    finished = true;
    const stopped = stop ? { error: stop.error.code, ...(stop.pinViolation ? { pinViolation: stop.pinViolation } : {}) } : {};
    done({ ...observer.usage, status: upstream.status, stream: true, bytes, aborted, ...stopped });
  };
  /** Forwards what the inspectors released; on a stop, ends the stream with the provider's error event. */
  const forward = (controller: TransformStreamDefaultController<Uint8Array>, text: string, stop: StreamStop | undefined, ended = false) => {
    const out = stop ? text + errorEvent(provider, stop.error, requestId) : text;
    if (out !== "") controller.enqueue(encoder.encode(out));
    if (!stop) return;
    finish(false, stop);
    // Closes the caller's side; the pipe then cancels the upstream body, closing that connection.
    if (!ended) controller.terminate();
  };

  // Events go to the caller as soon as the inspectors release them. A caller that goes away cancels
  // the readable side, and the pipe cancels the upstream body, which closes the upstream connection.
  const inspect = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      if (finished) return;
      bytes += chunk.byteLength;
      let events: SseEvent[];
      let step: InspectStep | Promise<InspectStep>;
      try {
        events = parser.push(chunk);
        if (events.length === 0) return;
        step = chain.push(events);
      } catch (error) {
        return forward(controller, "", stopFor(error));
      }
      const send = (done: InspectStep) => {
        // Nothing changed and the chunk held exactly these events: it goes out as it came.
        if (!done.stop && parser.aligned() && done.events.length === events.length && done.events.every((e, i) => e === events[i])) {
          controller.enqueue(chunk);
          return;
        }
        forward(controller, done.events.map(serialise).join(""), done.stop);
      };
      // Most chunks are inspected synchronously; only a tool call's decision makes the stream wait.
      if (!(step instanceof Promise)) return send(step);
      return step.then(send, (error: unknown) => forward(controller, "", stopFor(error)));
    },
    async flush(controller) {
      if (finished) return;
      try {
        const last = await chain.push(parser.end());
        if (last.stop) return forward(controller, last.events.map(serialise).join(""), last.stop, true);
        const ended = await chain.end();
        // What the inspectors released goes out; a stream that broke off then ends with the error event.
        forward(controller, [...last.events, ...ended.events].map(serialise).join(""), ended.stop ?? broken, true);
      } catch (error) {
        forward(controller, "", broken ?? stopFor(error), true);
      }
      finish(false);
    },
    cancel() {
      finish(true);
    },
  });
  const headers = responseHeaders(upstream.headers, requestId);
  headers.set("content-type", "text/event-stream; charset=utf-8");
  headers.set("cache-control", "no-cache");
  const source = endOnBreak(body, (error) => (broken = { error }));
  return new Response(source.pipeThrough(inspect), { status: upstream.status, headers });
}

/** Relays an upstream reply to the caller in the same wire format; errors become clean 502s. */
export async function relayReply(provider: WireProvider, upstream: Response, options: RelayOptions): Promise<Response> {
  if (upstream.status < 200 || upstream.status > 299) {
    await upstream.body?.cancel();
    throw upstreamRefused(upstream.status);
  }
  return options.stream ? relayStream(provider, upstream, options) : relayWhole(provider, upstream, options);
}
