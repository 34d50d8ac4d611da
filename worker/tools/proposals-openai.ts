/**
 * OpenAI tool calls in model output: `choices[i].message.tool_calls` in a whole reply, and in a stream
 * `choices[i].delta.tool_calls[j]` fragments — `index`, `id`, `function.name` first, then pieces of
 * `function.arguments`. A call is complete when the choice moves to the next call index, when it
 * finishes (`finish_reason`), or at `[DONE]` / the end of the stream. Only the call's own fragments
 * are held back; text and everything else pass at once.
 *
 * An allowed call is released as it came (its index renumbered when a refused call before it was
 * removed, so the caller sees calls 0, 1, … without gaps), or as one fragment holding the whole call
 * when the gate rewrote its arguments; a refused call's fragments are dropped and a content delta with
 * the refusal notice takes their place.
 */
import { chunkLike } from "../providers/openai.ts";
import { sseEvent, type EventInspector, type InspectStep, type SseEvent } from "../providers/sse.ts";
import { isRecord } from "../providers/validate.ts";
import {
  CallSequence,
  finishReasonAfter,
  refusalNotice,
  type CallAssembly,
  type AuthorizedReply,
  type CallTally,
  type ProposedCall,
  type RefusedCall,
  type ToolCallGate,
} from "./proposals.ts";

/** A held fragment: the event that carries it, and where in that event its `index` sits. */
interface HeldFragment {
  event: SseEvent;
  /** The fragment's own single-fragment chunk (whether original or split out of a mixed one). */
  fragment: Record<string, unknown>;
}

interface ChoiceCalls extends CallTally {
  sequence: CallSequence<HeldFragment>;
}

/** Whether a chunk carries nothing but one choice's one tool-call fragment (so it can be held whole). */
function onlyOneFragment(data: Record<string, unknown>, choice: Record<string, unknown>, delta: Record<string, unknown>, calls: unknown[]): boolean {
  if (calls.length !== 1 || (data.choices as unknown[]).length !== 1) return false;
  if (choice.finish_reason !== null && choice.finish_reason !== undefined) return false;
  if (data.usage !== undefined && data.usage !== null) return false;
  return Object.entries(delta).every(([key, value]) => key === "tool_calls" || key === "role" || value === null || value === "");
}

/** A call as one fragment (its first fragment's shape, at `index`) with the arguments the gate settled on. */
function wholeCall(held: readonly HeldFragment[], choiceIndex: number, index: number, call: ProposedCall, args: string): SseEvent {
  const [first] = held;
  const fn = first && isRecord(first.fragment.function) ? first.fragment.function : {};
  const fragment = { ...first?.fragment, index, ...(call.id !== "" && { id: call.id }), function: { ...fn, name: call.name, arguments: args } };
  return sseEvent(chunkLike(first?.event.data ?? {}, { index: choiceIndex, delta: { tool_calls: [fragment] } }));
}

export function openaiToolCalls(gate: ToolCallGate): EventInspector {
  const choices = new Map<number, ChoiceCalls>();
  const choiceCalls = (index: number): ChoiceCalls => {
    let calls = choices.get(index);
    if (!calls) choices.set(index, (calls = { sequence: new CallSequence<HeldFragment>(), allowed: 0, refused: 0 }));
    return calls;
  };

  /** Decides a complete call; its fragments (renumbered) or a refusal notice, or the reply's refusal. */
  async function decide(choiceIndex: number, calls: ChoiceCalls, assembly: CallAssembly<HeldFragment>): Promise<InspectStep> {
    const call: ProposedCall = assembly.complete();
    const ruling = await gate.decide(call);
    if (!ruling.allowed) {
      calls.refused++;
      if (ruling.refuseReply) return { events: [], stop: { error: ruling.error } };
      const template = assembly.held[0]?.event.data ?? {};
      return { events: [sseEvent(chunkLike(template, { index: choiceIndex, delta: { content: refusalNotice(call, ruling) } }))] };
    }
    const index = calls.allowed++;
    if (ruling.arguments !== undefined) return { events: [wholeCall(assembly.held, choiceIndex, index, call, ruling.arguments)] };
    return {
      events: assembly.held.map(({ event, fragment }) => {
        if (fragment.index === index && event.raw !== undefined) return event;
        const data = event.data!;
        return sseEvent(chunkLike(data, { index: choiceIndex, delta: { tool_calls: [{ ...fragment, index }] } }));
      }),
    };
  }

  /** Decides every call still open (at `[DONE]` or the end of the stream). */
  async function finishAll(): Promise<InspectStep> {
    const events: SseEvent[] = [];
    for (const [index, calls] of choices) {
      const open = calls.sequence.finish();
      if (!open) continue;
      const step = await decide(index, calls, open);
      events.push(...step.events);
      if (step.stop) return { events, stop: step.stop };
    }
    return { events };
  }

  /** Whether a chunk touches tool calls at all: a fragment, or the finish of a choice that has calls. */
  function touchesCalls(list: unknown[]): boolean {
    return list.some(
      (choice, position) =>
        isRecord(choice) &&
        ((isRecord(choice.delta) && Array.isArray(choice.delta.tool_calls)) ||
          (choice.finish_reason !== null && choice.finish_reason !== undefined && choices.has(typeof choice.index === "number" ? choice.index : position))),
    );
  }

  /**
   * A chunk that is one more fragment of the call being assembled (the common case) is held at once;
   * undefined when the chunk needs the full treatment.
   */
  function holdFragment(event: SseEvent, data: Record<string, unknown>, list: unknown[]): InspectStep | undefined {
    const choice = list[0];
    if (list.length !== 1 || !isRecord(choice) || !isRecord(choice.delta) || !Array.isArray(choice.delta.tool_calls)) return undefined;
    const [fragment] = choice.delta.tool_calls;
    if (!isRecord(fragment) || !onlyOneFragment(data, choice, choice.delta, choice.delta.tool_calls)) return undefined;
    const index = typeof choice.index === "number" ? choice.index : 0;
    const calls = choiceCalls(index);
    if (calls.sequence.completes(Number(fragment.index))) return undefined;
    const fn = isRecord(fragment.function) ? fragment.function : {};
    calls.sequence.add(Number(fragment.index), { id: fragment.id, name: fn.name, arguments: fn.arguments }, { event, fragment });
    return { events: [] };
  }

  /** Synchronous except where a call must be decided (the next call began, the choice finished, the stream ended). */
  function push(event: SseEvent): InspectStep | Promise<InspectStep> {
    if (event.done) {
      if (![...choices.values()].some((calls) => calls.sequence.open)) return { events: [event] };
      return finishAll().then((step) => (step.stop ? step : { events: [...step.events, event] }));
    }
    const data = event.data;
    const list = data?.choices;
    if (!data || !Array.isArray(list) || !touchesCalls(list)) return { events: [event] };
    return holdFragment(event, data, list) ?? inspectCalls(event, data, list);
  }

  async function inspectCalls(event: SseEvent, data: Record<string, unknown>, list: unknown[]): Promise<InspectStep> {
    const out: SseEvent[] = [];
    let rest: unknown[] | undefined;
    let whole = false;
    for (const [position, choice] of list.entries()) {
      if (!isRecord(choice)) continue;
      const index = typeof choice.index === "number" ? choice.index : position;
      const delta = isRecord(choice.delta) ? choice.delta : undefined;
      const fragments = delta && Array.isArray(delta.tool_calls) ? delta.tool_calls : undefined;
      let current = choice;
      if (delta && fragments) {
        whole = onlyOneFragment(data, choice, delta, fragments);
        const calls = choiceCalls(index);
        for (const fragment of fragments) {
          if (!isRecord(fragment)) continue;
          const fn = isRecord(fragment.function) ? fragment.function : {};
          const held: HeldFragment = whole ? { event, fragment } : { event: sseEvent(chunkLike(data, { index, delta: { tool_calls: [fragment] } })), fragment };
          const completed = calls.sequence.add(Number(fragment.index), { id: fragment.id, name: fn.name, arguments: fn.arguments }, held);
          if (completed) {
            const step = await decide(index, calls, completed);
            out.push(...step.events);
            if (step.stop) return { events: out, stop: step.stop };
          }
        }
        const { tool_calls: _held, ...others } = delta;
        current = { ...choice, delta: others };
      }
      if (choice.finish_reason !== null && choice.finish_reason !== undefined) {
        const calls = choices.get(index);
        const open = calls?.sequence.finish();
        if (calls && open) {
          const step = await decide(index, calls, open);
          out.push(...step.events);
          if (step.stop) return { events: out, stop: step.stop };
        }
        if (calls) {
          const reason = finishReasonAfter(choice.finish_reason, "tool_calls", "stop", calls);
          if (reason !== choice.finish_reason) current = { ...current, finish_reason: reason };
        }
      }
      if (current !== choice) {
        rest ??= [...list];
        rest[position] = current;
      }
    }
    if (whole) return { events: out };
    out.push(rest ? sseEvent({ ...data, choices: rest }, event.name) : event);
    return { events: out };
  }

  return { push, end: finishAll };
}

/**
 * A whole reply's calls (`choices[i].message.tool_calls`), decided in order; the reply without the
 * refused ones (their notices appended to the message content) and what was refused.
 */
export async function authorizeOpenAiReply(
  reply: Record<string, unknown>,
  gate: ToolCallGate,
): Promise<AuthorizedReply> {
  const list = reply.choices;
  const refused: RefusedCall[] = [];
  if (!Array.isArray(list)) return { reply, refused };
  let changed = false;
  const choices: unknown[] = [];
  for (const choice of list) {
    const message = isRecord(choice) && isRecord(choice.message) ? choice.message : undefined;
    if (!isRecord(choice) || !message || !Array.isArray(message.tool_calls)) {
      choices.push(choice);
      continue;
    }
    const kept: unknown[] = [];
    const notices: string[] = [];
    const tally: CallTally = { allowed: 0, refused: 0 };
    const proposed: unknown[] = message.tool_calls;
    for (const entry of proposed) {
      const fn = isRecord(entry) && isRecord(entry.function) ? entry.function : {};
      const call: ProposedCall = {
        id: isRecord(entry) && typeof entry.id === "string" ? entry.id : "",
        name: typeof fn.name === "string" ? fn.name : "",
        arguments: typeof fn.arguments === "string" ? fn.arguments : "",
      };
      const ruling = await gate.decide(call);
      if (ruling.allowed) {
        tally.allowed++;
        kept.push(ruling.arguments === undefined ? entry : { ...(entry as Record<string, unknown>), function: { ...fn, arguments: ruling.arguments } });
        continue;
      }
      if (ruling.refuseReply) throw ruling.error;
      tally.refused++;
      refused.push({ call, code: ruling.error.code });
      notices.push(refusalNotice(call, ruling));
    }
    if (tally.refused === 0) {
      const rewritten = kept.some((entry, i) => entry !== proposed[i]);
      changed ||= rewritten;
      choices.push(rewritten ? { ...choice, message: { ...message, tool_calls: kept } } : choice);
      continue;
    }
    changed = true;
    const { tool_calls: _removed, ...others } = message;
    const content = [typeof message.content === "string" && message.content !== "" ? message.content : undefined, ...notices].filter((t) => t !== undefined).join("\n");
    choices.push({
      ...choice,
      message: { ...others, content, ...(kept.length > 0 ? { tool_calls: kept } : {}) },
      finish_reason: finishReasonAfter(choice.finish_reason, "tool_calls", "stop", tally),
    });
  }
  return { reply: changed ? { ...reply, choices } : reply, refused };
}
