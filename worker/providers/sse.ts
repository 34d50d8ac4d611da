/**
 * Server-sent events as the relay sees them: the upstream byte stream is cut into events, each
 * event's `data:` is parsed once, the event passes a chain of inspectors (model pin, reply text
 * filters, tool-call authorization, usage), and it is serialised again only if an inspector changed
 * it — an unchanged event leaves with its original text.
 *
 * Both providers send one JSON object per event (OpenAI ends with `data: [DONE]`). An event that is
 * not that — data that is not a JSON object, or an event longer than MAX_EVENT_CHARS — is malformed:
 * the relay ends the stream with the provider's own error event rather than guess.
 */
import type { GatewayError } from "../errors.ts";
import type { PinViolation } from "./model-pin.ts";
import { isRecord } from "./validate.ts";

/**
 * Longest event accepted, in UTF-16 code units of its text: 256 Ki. A provider event is one delta
 * (a few words, a fragment of tool arguments) or an envelope with usage; the largest legitimate ones
 * (an Anthropic `message_start`, a tool call's arguments sent in one piece, at most 64 KiB as
 * authorize.ts bounds them) are far below. It is also the most the parser holds for one event.
 */
export const MAX_EVENT_CHARS = 256 * 1024;

export interface SseEvent {
  /** The `event:` field (Anthropic names every event). */
  readonly name?: string;
  /** The parsed `data:` object; absent for a comment-only block (a keep-alive) and for `[DONE]`. */
  readonly data?: Record<string, unknown>;
  /** OpenAI's `data: [DONE]`. */
  readonly done?: boolean;
  /** The event's original text (blank line included) while no inspector has changed it. */
  readonly raw?: string;
}

/** An event built or changed by an inspector (it has no original text). */
export function sseEvent(data: Record<string, unknown>, name?: string): SseEvent {
  return name === undefined ? { data } : { name, data };
}

/** The event's text on the wire: its original text if unchanged, otherwise serialised again. */
export function serialise(event: SseEvent): string {
  if (event.raw !== undefined) return event.raw;
  const head = event.name === undefined ? "" : `event: ${event.name}\n`;
  if (event.done) return `${head}data: [DONE]\n\n`;
  return event.data === undefined ? `${head}\n` : `${head}data: ${JSON.stringify(event.data)}\n\n`;
}

/** Why the stream ends early: the error the caller sees (as the provider's error event), and a pin violation if that was it. */
export interface StreamStop {
  error: GatewayError;
  pinViolation?: PinViolation;
}

/** What an inspector passes on for one event: possibly fewer (held back), more (released) or changed events. */
export interface InspectStep {
  events: SseEvent[];
  /** Forward `events`, then end the stream with this error. */
  stop?: StreamStop;
}

export interface EventInspector {
  push(event: SseEvent): InspectStep | Promise<InspectStep>;
  /** The upstream ended: release or refuse whatever is still held. */
  end(): InspectStep | Promise<InspectStep>;
}

/** An event the parser could not accept; the relay answers it with the provider's error event. */
export class MalformedEventError extends Error {
  override readonly name = "MalformedEventError";
}

/** Cuts decoded text into events; a partial event waits for the next chunk (bounded). */
export function createSseParser() {
  const decoder = new TextDecoder();
  let buffer = "";
  /** The last chunk held exactly whole events (nothing before it, nothing left after it, no CR). */
  let aligned = false;

  function parseBlock(block: string): SseEvent | undefined {
    let name: string | undefined;
    let data: string | undefined;
    for (const line of block.split("\n")) {
      if (line === "" || line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      // One optional space after the colon belongs to the syntax, not the value (WHATWG SSE).
      const value = colon < 0 ? "" : line.slice(line.charCodeAt(colon + 1) === 32 ? colon + 2 : colon + 1);
      if (field === "event") name = value;
      else if (field === "data") data = data === undefined ? value : `${data}\n${value}`;
    }
    const raw = `${block}\n\n`;
    const named = name === undefined ? {} : { name };
    if (data === undefined) return { ...named, raw };
    if (data === "[DONE]") return { ...named, done: true, raw };
    let parsed: unknown;
    try {
      parsed = JSON.parse(data);
    } catch {
      throw new MalformedEventError("an event's data is not JSON");
    }
    if (!isRecord(parsed)) throw new MalformedEventError("an event's data is not a JSON object");
    return { ...named, data: parsed, raw };
  }

  function cut(text: string, final: boolean): SseEvent[] {
    aligned = buffer === "";
    // Line ends may be CRLF or CR (WHATWG SSE); a CR at the very end may be half of a CRLF.
    let pending = buffer + text;
    if (pending.includes("\r")) {
      aligned = false;
      const trailingCr = !final && pending.endsWith("\r");
      pending = (trailingCr ? pending.slice(0, -1) : pending).replace(/\r\n?/g, "\n") + (trailingCr ? "\r" : "");
    }
    const events: SseEvent[] = [];
    let start = 0;
    for (let end = pending.indexOf("\n\n"); end >= 0; end = pending.indexOf("\n\n", start)) {
      if (end - start > MAX_EVENT_CHARS) throw new MalformedEventError("an event exceeds the size limit");
      const event = parseBlock(pending.slice(start, end));
      if (event) events.push(event);
      start = end + 2;
    }
    buffer = pending.slice(start);
    aligned &&= buffer === "";
    if (buffer.length > MAX_EVENT_CHARS) throw new MalformedEventError("an event exceeds the size limit");
    if (final && buffer.trim() !== "") {
      // The upstream ended without the blank line after its last event: that event is still whole.
      const event = parseBlock(buffer.replace(/\n+$/, ""));
      buffer = "";
      if (event) events.push(event);
    }
    return events;
  }

  return {
    /** The whole events completed by this chunk; throws MalformedEventError. */
    push(chunk: Uint8Array): SseEvent[] {
      return cut(decoder.decode(chunk, { stream: true }), false);
    },
    /** The last event, if the upstream did not end it with a blank line. */
    end(): SseEvent[] {
      return cut(decoder.decode(), true);
    },
    /**
     * Whether the last chunk pushed was exactly its events' original text: when the inspectors pass
     * those same events on unchanged, the chunk itself can go out, without serialising anything.
     */
    aligned(): boolean {
      return aligned;
    },
  };
}

type MaybeStep = InspectStep | Promise<InspectStep>;

/**
 * Runs events through inspectors in order: what one passes on is what the next one sees. A stop
 * still passes the events its inspector released through the inspectors after it. Synchronous as
 * long as every inspector answers synchronously (most events: no promise, no extra microtask); only
 * an inspector that must wait (a tool call's decision being committed) makes the step a promise.
 */
export function createInspectorChain(inspectors: readonly EventInspector[]) {
  function from(index: number, events: SseEvent[]): MaybeStep {
    let current = events;
    for (let i = index; i < inspectors.length; i++) {
      const next: SseEvent[] = [];
      for (let k = 0; k < current.length; k++) {
        const step = inspectors[i]!.push(current[k]!);
        if (step instanceof Promise) return step.then((resolved) => resume(i, next, resolved, current.slice(k + 1)));
        next.push(...step.events);
        if (step.stop) return stopAfter(i, next, step.stop);
      }
      current = next;
    }
    return { events: current };
  }

  /** Inspector `i` answered late: take its step, feed it the `rest` of its events, then go on. */
  async function resume(i: number, next: SseEvent[], step: InspectStep, rest: SseEvent[]): Promise<InspectStep> {
    next.push(...step.events);
    if (step.stop) return stopAfter(i, next, step.stop);
    for (const event of rest) {
      const later = await inspectors[i]!.push(event);
      next.push(...later.events);
      if (later.stop) return stopAfter(i, next, later.stop);
    }
    return from(i + 1, next);
  }

  /** Inspector `i` stopped: what it released still passes the inspectors after it. */
  function stopAfter(i: number, released: SseEvent[], stop: StreamStop): MaybeStep {
    const rest = from(i + 1, released);
    const withStop = (step: InspectStep): InspectStep => ({ events: step.events, stop: step.stop ?? stop });
    return rest instanceof Promise ? rest.then(withStop) : withStop(rest);
  }

  return {
    push(events: SseEvent[]): MaybeStep {
      return from(0, events);
    },
    /** Ends each inspector in order, passing what it releases through the ones after it. */
    async end(): Promise<InspectStep> {
      const out: SseEvent[] = [];
      for (let i = 0; i < inspectors.length; i++) {
        const released = await inspectors[i]!.end();
        const rest = await from(i + 1, released.events);
        out.push(...rest.events);
        const stop = rest.stop ?? released.stop;
        if (stop) return { events: out, stop };
      }
      return { events: out };
    },
  };
}
