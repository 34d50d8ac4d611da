/**
 * Anthropic tool calls in model output: `tool_use` content blocks in a whole reply, and in a stream a
 * `content_block_start` (tool_use, with id and name), `input_json_delta` fragments of the input's JSON
 * text, and the block's `content_block_stop`, which completes the call. Only the block's own events
 * are held back; other blocks, pings and message events pass at once.
 *
 * A refused call's block is replaced, at the same index, by a text block holding the refusal notice,
 * so block indexes stay consistent; `stop_reason` `tool_use` becomes `end_turn` when no call remains.
 */
import { sseEvent, type EventInspector, type InspectStep, type SseEvent } from "../providers/sse.ts";
import { isRecord } from "../providers/validate.ts";
import { CallAssembly, finishReasonAfter, refusalNotice, type AuthorizedReply, type CallTally, type ProposedCall, type RefusedCall, type ToolCallGate } from "./proposals.ts";

interface OpenBlock {
  assembly: CallAssembly<SseEvent>;
  /** The block's `input` at its start, used when no `input_json_delta` follows. */
  input: unknown;
}

/** The refusal notice as a text block at `index` (start, one delta; the caller's stop event follows). */
function noticeBlock(index: number, text: string): SseEvent[] {
  return [
    sseEvent({ type: "content_block_start", index, content_block: { type: "text", text: "" } }, "content_block_start"),
    sseEvent({ type: "content_block_delta", index, delta: { type: "text_delta", text } }, "content_block_delta"),
  ];
}

/**
 * A block's `input` as JSON text (whole replies, and streams that sent no fragments of it): exactly
 * what the caller would receive, so a malformed input is refused by the gate, never replaced.
 */
function inputText(input: unknown): string {
  return input === undefined ? "{}" : (JSON.stringify(input) ?? "");
}

/**
 * A call's block with the input the gate settled on: its start (input emptied, as Anthropic streams
 * it) and one `input_json_delta` with the whole input, in place of the model's fragments.
 */
function withInput(held: readonly SseEvent[], index: number, input: string): SseEvent[] {
  const start = held[0]?.data;
  const block = start && isRecord(start.content_block) ? start.content_block : {};
  return [
    sseEvent({ ...start, content_block: { ...block, input: {} } }, "content_block_start"),
    sseEvent({ type: "content_block_delta", index, delta: { type: "input_json_delta", partial_json: input } }, "content_block_delta"),
  ];
}

export function anthropicToolCalls(gate: ToolCallGate): EventInspector {
  const open = new Map<number, OpenBlock>();
  const tally: CallTally = { allowed: 0, refused: 0 };

  /** Decides block `index`; `stop` (its `content_block_stop`) closes what is released, if it came. */
  async function decide(index: number, block: OpenBlock, stop: SseEvent | undefined): Promise<InspectStep> {
    open.delete(index);
    const call = block.assembly.complete(inputText(block.input));
    const ruling = await gate.decide(call);
    const closing = stop ? [stop] : [];
    if (ruling.allowed) {
      tally.allowed++;
      const events = ruling.arguments === undefined ? block.assembly.held : withInput(block.assembly.held, index, ruling.arguments);
      return { events: [...events, ...closing] };
    }
    tally.refused++;
    if (ruling.refuseReply) return { events: [], stop: { error: ruling.error } };
    return { events: [...noticeBlock(index, refusalNotice(call, ruling)), ...closing] };
  }

  /** Blocks still open when the message ends or the stream breaks off are decided as they stand. */
  async function decideOpen(): Promise<InspectStep> {
    const events: SseEvent[] = [];
    for (const [index, block] of [...open]) {
      const step = await decide(index, block, undefined);
      events.push(...step.events);
      if (step.stop) return { events, stop: step.stop };
    }
    return { events };
  }

  /** The stop reason says `end_turn` once no call remains. */
  function adjustStop(event: SseEvent, data: Record<string, unknown>, delta: Record<string, unknown>): SseEvent {
    const reason = finishReasonAfter(delta.stop_reason, "tool_use", "end_turn", tally);
    return reason === delta.stop_reason ? event : sseEvent({ ...data, delta: { ...delta, stop_reason: reason } }, event.name);
  }

  /** Synchronous except where a call must be decided (its block ended, or the message did). */
  function push(event: SseEvent): InspectStep | Promise<InspectStep> {
    const data = event.data;
    if (!data) return { events: [event] };
    const index = data.index;
    if (data.type === "content_block_start" && typeof index === "number" && isRecord(data.content_block) && data.content_block.type === "tool_use") {
      const block: OpenBlock = { assembly: new CallAssembly<SseEvent>(index), input: data.content_block.input };
      block.assembly.add({ id: data.content_block.id, name: data.content_block.name }, event);
      open.set(index, block);
      return { events: [] };
    }
    const block = typeof index === "number" ? open.get(index) : undefined;
    if (block) {
      if (data.type === "content_block_stop") return decide(index as number, block, event);
      const delta = isRecord(data.delta) ? data.delta : undefined;
      block.assembly.add({ arguments: delta?.type === "input_json_delta" ? delta.partial_json : undefined }, event);
      return { events: [] };
    }
    const ending = data.type === "message_delta" || data.type === "message_stop";
    if (!ending) return { events: [event] };
    const delta = data.type === "message_delta" && isRecord(data.delta) ? data.delta : undefined;
    if (open.size === 0) return { events: [delta ? adjustStop(event, data, delta) : event] };
    return decideOpen().then((decided) => (decided.stop ? decided : { events: [...decided.events, delta ? adjustStop(event, data, delta) : event] }));
  }

  return { push, end: decideOpen };
}

/**
 * A whole reply's `tool_use` blocks, decided in order; the reply with each refused block replaced by
 * a text block holding its notice, and what was refused.
 */
export async function authorizeAnthropicReply(
  reply: Record<string, unknown>,
  gate: ToolCallGate,
): Promise<AuthorizedReply> {
  const blocks = reply.content;
  const refused: RefusedCall[] = [];
  if (!Array.isArray(blocks)) return { reply, refused };
  const tally: CallTally = { allowed: 0, refused: 0 };
  const content: unknown[] = [];
  for (const block of blocks) {
    if (!isRecord(block) || block.type !== "tool_use") {
      content.push(block);
      continue;
    }
    const call: ProposedCall = {
      id: typeof block.id === "string" ? block.id : "",
      name: typeof block.name === "string" ? block.name : "",
      arguments: inputText(block.input),
    };
    const ruling = await gate.decide(call);
    if (ruling.allowed) {
      tally.allowed++;
      // The gate accepted exactly this text as the arguments, so it is one JSON object.
      content.push(ruling.arguments === undefined ? block : { ...block, input: JSON.parse(ruling.arguments) as unknown });
      continue;
    }
    if (ruling.refuseReply) throw ruling.error;
    tally.refused++;
    refused.push({ call, code: ruling.error.code });
    content.push({ type: "text", text: refusalNotice(call, ruling) });
  }
  if (tally.refused === 0) return { reply: content.some((block, i) => block !== blocks[i]) ? { ...reply, content } : reply, refused };
  return { reply: { ...reply, content, stop_reason: finishReasonAfter(reply.stop_reason, "tool_use", "end_turn", tally) }, refused };
}
