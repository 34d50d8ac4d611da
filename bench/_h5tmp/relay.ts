import { errorBody, GatewayError } from "../../worker/errors.ts";
import { readTextAtMost, TooLargeError } from "../../worker/lib/bounded-read.ts";
import { responseHeaders } from "../../worker/network/index.ts";
import { checkClaim, claimOf, createStreamPinGuard, type ModelPin, type PinViolation } from "./model-pin.ts";
import type { UsageReport, WireProvider } from "../../worker/providers/types.ts";
import { isRecord } from "../../worker/providers/validate.ts";

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

/** A non-streamed reply larger than this is refused rather than buffered (Workers have 128 MB). */
const MAX_REPLY_BYTES = 16 * 1024 * 1024;
/** Longest partial event line the usage observer keeps between chunks. */
const MAX_EVENT_CHARS = 64 * 1024;

function upstreamRefused(status: number): GatewayError {
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

async function relayWhole(
  provider: WireProvider,
  upstream: Response,
  options: RelayOptions,
): Promise<Response> {
  const { requestId, done } = options;
  const text = await readWhole(upstream, options.timeoutMs);
  if (text.length > MAX_REPLY_BYTES) throw new GatewayError("upstream_error", "the model backend's reply is too large");
  let reply: unknown;
  try {
    reply = JSON.parse(text);
  } catch (cause) {
    throw new GatewayError("upstream_error", "the model backend sent an invalid reply", { cause });
  }
  if (!isRecord(reply) || !provider.isCompletion(reply)) {
    throw new GatewayError("upstream_error", "the model backend sent an invalid reply");
  }
  const pinViolation = checkClaim(provider.format, options.pin, claimOf(provider.format, reply));
  if (pinViolation) {
    const refusal = pinRefusal();
    done({ ...provider.readUsage(reply), status: refusal.status, stream: false, bytes: text.length, aborted: false, error: refusal.code, pinViolation });
    throw refusal;
  }
  done({ ...provider.readUsage(reply), status: upstream.status, stream: false, bytes: text.length, aborted: false });
  const headers = responseHeaders(upstream.headers, requestId);
  headers.set("content-type", "application/json");
  return new Response(text, { status: upstream.status, headers });
}

/**
 * Reads usage out of server-sent events as they pass, without holding any chunk back: only lines
 * that mention usage or the model are parsed, and a partial line waits for the next chunk.
 */
function createUsageObserver(provider: WireProvider) {
  const decoder = new TextDecoder();
  let partial = "";
  const usage: UsageReport = {};
  return {
    usage,
    observe(chunk: Uint8Array) {
      const text = partial + decoder.decode(chunk, { stream: true });
      const end = text.lastIndexOf("\n");
      // Only whole lines are read; the rest waits for the next chunk (bounded: an event is small).
      partial = end < 0 ? text.slice(-MAX_EVENT_CHARS) : text.slice(end + 1);
      if (end < 0) return;
      const lines = text.slice(0, end);
      // Most chunks carry neither usage nor (after the first) anything new: skip them unsplit.
      if (!lines.includes('"usage"') && (usage.model !== undefined || !lines.includes('"model"'))) return;
      for (const line of lines.split("\n")) {
        if (!line.startsWith("data:") || !(line.includes('"usage"') || (!usage.model && line.includes('"model"')))) continue;
        try {
          const event: unknown = JSON.parse(line.slice(5));
          if (isRecord(event)) Object.assign(usage, provider.readUsage(event));
        } catch {
          // A malformed event is the caller's to see; it does not change what was metered.
        }
      }
    },
  };
}

function pinRefusal(): GatewayError {
  return new GatewayError("model_pin_violation", "the model backend answered as a model it is not pinned to serve; the reply was stopped");
}

/** The provider's own in-stream error event (OpenAI: a `data:` error object; Anthropic: `event: error`). */
function errorEvent(provider: WireProvider, error: GatewayError, requestId: string): Uint8Array {
  const data = JSON.stringify(errorBody(error, provider.format, requestId));
  return new TextEncoder().encode(provider.format === "anthropic" ? `event: error\ndata: ${data}\n\n` : `data: ${data}\n\n`);
}

function relayStream(provider: WireProvider, upstream: Response, { requestId, done, pin }: RelayOptions): Response {
  const body = upstream.body;
  if (!body || !(upstream.headers.get("content-type") ?? "").startsWith("text/event-stream")) {
    throw new GatewayError("upstream_error", "the model backend did not stream its reply");
  }
  const observer = createUsageObserver(provider);
  const guard = createStreamPinGuard(provider.format, pin);
  let bytes = 0;
  let finished = false;
  const finish = (aborted: boolean, pinViolation?: PinViolation) => {
    if (finished) return;
    finished = true;
    done({ ...observer.usage, status: upstream.status, stream: true, bytes, aborted, ...(pinViolation ? { error: "model_pin_violation", pinViolation } : {}) });
  };
  /** Ends the stream with the provider's error event and nothing more of the model's output. */
  const stop = (controller: TransformStreamDefaultController<Uint8Array>, violation: PinViolation, ended = false) => {
    finish(false, violation);
    controller.enqueue(errorEvent(provider, pinRefusal(), requestId));
    // Closes the caller's side; the pipe then cancels the upstream body, closing that connection.
    if (!ended) controller.terminate();
  };

  // Each upstream chunk is forwarded as soon as it arrives once the stream's first model-naming event
  // has honoured the pin (until then it is held back). A caller that goes away cancels the readable
  // side, and the pipe cancels the upstream body, which closes the upstream connection.
  const meter = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      if (finished) return;
      bytes += chunk.byteLength;
      observer.observe(chunk);
      const { forward, violation } = guard.push(chunk);
      if (violation) return stop(controller, violation);
      for (const piece of forward) controller.enqueue(piece);
    },
    flush(controller) {
      const { forward, violation } = guard.end();
      if (violation) return stop(controller, violation, true);
      for (const piece of forward) controller.enqueue(piece);
      finish(false);
    },
    cancel() {
      finish(true);
    },
  });
  const headers = responseHeaders(upstream.headers, requestId);
  headers.set("content-type", "text/event-stream; charset=utf-8");
  headers.set("cache-control", "no-cache");
  return new Response(body.pipeThrough(meter), { status: upstream.status, headers });
}

export interface RelayOptions {
  stream: boolean;
  requestId: string;
  /** Bound on reading a whole (non-streamed) reply after its headers. */
  timeoutMs: number;
  /** The models the backend may serve for this request; a reply claiming another one is stopped. */
  pin: ModelPin;
  done: (outcome: RelayOutcome) => void;
}

/** Relays an upstream reply to the caller in the same wire format; errors become clean 502s. */
export async function relayReply(provider: WireProvider, upstream: Response, options: RelayOptions): Promise<Response> {
  if (upstream.status < 200 || upstream.status > 299) {
    await upstream.body?.cancel();
    throw upstreamRefused(upstream.status);
  }
  return options.stream ? relayStream(provider, upstream, options) : relayWhole(provider, upstream, options);
}
