/**
 * The model's reply text through the data plane's reply filters (detokenizing, output scanning):
 * one filter per OpenAI choice or Anthropic text block, fed every text delta of a stream in order, or
 * the whole text of a non-streamed reply. A filter may hold back a bounded look-back (it returns less
 * than it was given) and releases it later or at the block's end; a `stop` ends the reply.
 */
import type { ReplyTextFilter } from "../data/reply-filter.ts";
import type { GatewayError, WireFormat } from "../errors.ts";
import { chunkLike } from "./openai.ts";
import { sseEvent, type EventInspector, type InspectStep, type SseEvent } from "./sse.ts";
import { isRecord } from "./validate.ts";

/** Makes a fresh filter for each choice or content block of a reply. */
export type ReplyFilterFactory = () => ReplyTextFilter;

/** The text of a stream event rewritten by a filter, and the stop the filter asked for. */
interface Rewrite {
  event: SseEvent;
  stop?: GatewayError;
}

function stepOf(rewrite: Rewrite, before: SseEvent[] = []): InspectStep {
  const events = [...before, rewrite.event];
  return rewrite.stop ? { events, stop: { error: rewrite.stop } } : { events };
}

/** OpenAI: `choices[i].delta.content`; a choice's filter ends with its `finish_reason` (its rest rides on that chunk). */
function openaiStream(createFilter: ReplyFilterFactory): EventInspector {
  const filters = new Map<number, ReplyTextFilter>();
  /** The latest chunk, in whose image the text held back at the end is sent. */
  let upstream: Record<string, unknown> | undefined;

  /** What the still-open filters release at the end, as one chunk per choice. */
  function flush(): InspectStep {
    const events: SseEvent[] = [];
    let stop: GatewayError | undefined;
    for (const [index, filter] of filters) {
      const last = filter.end();
      stop ??= last.stop;
      if (last.text !== "" && upstream) events.push(sseEvent(chunkLike(upstream, { index, delta: { content: last.text } })));
    }
    filters.clear();
    return stop ? { events, stop: { error: stop } } : { events };
  }

  return {
    push(event) {
      if (event.done) {
        const released = flush();
        return { events: [...released.events, event], ...(released.stop ? { stop: released.stop } : {}) };
      }
      const choices = event.data?.choices;
      if (!Array.isArray(choices) || choices.length === 0) return { events: [event] };
      upstream = event.data;
      let changed: unknown[] | undefined;
      let stop: GatewayError | undefined;
      choices.forEach((choice, position) => {
        if (!isRecord(choice) || !isRecord(choice.delta)) return;
        const index = typeof choice.index === "number" ? choice.index : position;
        const content = choice.delta.content;
        let text = content;
        if (typeof content === "string" && content !== "") {
          let filter = filters.get(index);
          if (!filter) filters.set(index, (filter = createFilter()));
          const step = filter.push(content);
          text = step.text;
          stop ??= step.stop;
        }
        const filter = filters.get(index);
        if (choice.finish_reason !== null && choice.finish_reason !== undefined && filter) {
          const last = filter.end();
          filters.delete(index);
          stop ??= last.stop;
          if (last.text !== "") text = (typeof text === "string" ? text : "") + last.text;
        }
        if (text !== content) {
          changed ??= [...choices];
          changed[position] = { ...choice, delta: { ...choice.delta, content: text } };
        }
      });
      return stepOf({ event: changed ? sseEvent({ ...event.data, choices: changed }, event.name) : event, ...(stop ? { stop } : {}) });
    },
    end: flush,
  };
}

/** Anthropic: `text_delta`s of a `text` content block; its filter ends with `content_block_stop`. */
function anthropicStream(createFilter: ReplyFilterFactory): EventInspector {
  const filters = new Map<number, ReplyTextFilter>();
  const textDelta = (index: number, text: string) => sseEvent({ type: "content_block_delta", index, delta: { type: "text_delta", text } }, "content_block_delta");

  function push(event: SseEvent): InspectStep {
    const data = event.data;
    const index = data?.index;
    if (!data || typeof index !== "number") return { events: [event] };
    if (data.type === "content_block_start" && isRecord(data.content_block) && data.content_block.type === "text") {
      const filter = createFilter();
      filters.set(index, filter);
      const text = data.content_block.text;
      if (typeof text !== "string" || text === "") return { events: [event] };
      const step = filter.push(text);
      return stepOf({ event: step.text === text ? event : sseEvent({ ...data, content_block: { ...data.content_block, text: step.text } }, event.name), ...(step.stop ? { stop: step.stop } : {}) });
    }
    const filter = filters.get(index);
    if (!filter) return { events: [event] };
    if (data.type === "content_block_delta" && isRecord(data.delta) && data.delta.type === "text_delta" && typeof data.delta.text === "string") {
      const text = data.delta.text;
      const step = filter.push(text);
      return stepOf({ event: step.text === text ? event : textDelta(index, step.text), ...(step.stop ? { stop: step.stop } : {}) });
    }
    if (data.type === "content_block_stop") {
      filters.delete(index);
      const last = filter.end();
      return stepOf({ event, ...(last.stop ? { stop: last.stop } : {}) }, last.text === "" ? [] : [textDelta(index, last.text)]);
    }
    return { events: [event] };
  }

  return {
    push,
    end() {
      // A stream cut off inside a text block: what the filter held is still released (or stopped).
      const events: SseEvent[] = [];
      for (const [index, filter] of filters) {
        const last = filter.end();
        if (last.stop) return { events, stop: { error: last.stop } };
        if (last.text !== "") events.push(textDelta(index, last.text));
      }
      filters.clear();
      return { events };
    },
  };
}

export function replyTextInspector(format: WireFormat, createFilter: ReplyFilterFactory): EventInspector {
  return format === "openai" ? openaiStream(createFilter) : anthropicStream(createFilter);
}

/** One whole text through a fresh filter; a stop refuses the reply. */
function filterWhole(createFilter: ReplyFilterFactory, text: string): string {
  const filter = createFilter();
  const first = filter.push(text);
  if (first.stop) throw first.stop;
  const last = filter.end();
  if (last.stop) throw last.stop;
  return first.text + last.text;
}

/**
 * A whole reply's texts through the filters (OpenAI `choices[i].message.content`, Anthropic `text`
 * blocks); the reply itself when nothing changed. Throws the filter's stop.
 */
export function filterWholeReply(format: WireFormat, reply: Record<string, unknown>, createFilter: ReplyFilterFactory): Record<string, unknown> {
  if (format === "openai") {
    const choices = reply.choices;
    if (!Array.isArray(choices)) return reply;
    let changed = false;
    const filtered = choices.map((choice) => {
      if (!isRecord(choice) || !isRecord(choice.message) || typeof choice.message.content !== "string") return choice;
      const content = filterWhole(createFilter, choice.message.content);
      if (content === choice.message.content) return choice;
      changed = true;
      return { ...choice, message: { ...choice.message, content } };
    });
    return changed ? { ...reply, choices: filtered } : reply;
  }
  const content = reply.content;
  if (!Array.isArray(content)) return reply;
  let changed = false;
  const filtered = content.map((block) => {
    if (!isRecord(block) || block.type !== "text" || typeof block.text !== "string") return block;
    const text = filterWhole(createFilter, block.text);
    if (text === block.text) return block;
    changed = true;
    return { ...block, text };
  });
  return changed ? { ...reply, content: filtered } : reply;
}
