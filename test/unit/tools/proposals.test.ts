/**
 * Tool calls proposed in model output (worker/tools/proposals*.ts): calls assembled from fragments cut
 * at every position, several calls, text interleaved (never held back), malformed arguments, refused
 * calls removed with a notice and the finish reason adjusted, in both wire formats, streamed and whole.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { jsonStringContent, TokenVault } from "../../../worker/data/tokens.ts";
import { GatewayError } from "../../../worker/errors.ts";
import { createSseParser, serialise, type EventInspector, type SseEvent } from "../../../worker/providers/sse.ts";
import { anthropicToolCalls, authorizeAnthropicReply } from "../../../worker/tools/proposals-anthropic.ts";
import { authorizeOpenAiReply, openaiToolCalls } from "../../../worker/tools/proposals-openai.ts";
import { CallAssembly, CallSequence, ProposalError, refusalHeader, type CallRuling, type ProposedCall, type ToolCallGate } from "../../../worker/tools/proposals.ts";

/** Allows the tools in `allowed`; records every call it was asked about, in order. */
function gate(allowed: readonly string[], refuseReply = false): ToolCallGate & { asked: ProposedCall[] } {
  const asked: ProposedCall[] = [];
  return {
    asked,
    async decide(call): Promise<CallRuling> {
      asked.push(call);
      if (allowed.includes(call.name)) return { allowed: true };
      return { allowed: false, error: new GatewayError("policy_denied", `calling "${call.name}" is not allowed`), refuseReply };
    },
  };
}

const events = (text: string): SseEvent[] => createSseParser().push(new TextEncoder().encode(text));

/** Pushes events one by one; what came out for each (to check that text is never held), and the end. */
async function run(inspector: EventInspector, input: SseEvent[]) {
  const perEvent: SseEvent[][] = [];
  for (const event of input) {
    const step = await inspector.push(event);
    perEvent.push(step.events);
    if (step.stop) return { perEvent, out: perEvent.flat(), stop: step.stop };
  }
  const last = await inspector.end();
  return { perEvent, out: [...perEvent.flat(), ...last.events], stop: last.stop };
}

/** Cuts `text` at the given positions (sorted, deduplicated, inside the text). */
function cut(text: string, at: number[]): string[] {
  const points = [...new Set(at.map((p) => p % (text.length + 1)))].sort((a, b) => a - b);
  const pieces: string[] = [];
  let from = 0;
  for (const point of points) {
    pieces.push(text.slice(from, point));
    from = point;
  }
  pieces.push(text.slice(from));
  return pieces.filter((piece) => piece !== "");
}

interface Call {
  name: string;
  args: string;
  cuts: number[];
  /** Text deltas sent before this call's first fragment. */
  before: string[];
}

const TOOLS = ["search_documents", "send_email", "delete_everything"];
const ALLOWED = ["search_documents"];
const argsText = fc.oneof(
  fc.dictionary(fc.string({ maxLength: 5 }), fc.oneof(fc.string({ maxLength: 12 }), fc.integer())).map((o) => JSON.stringify(o)),
  fc.string({ maxLength: 20 }), // malformed: passed to the gate as it is
);
const callArb = fc.record({
  name: fc.constantFrom(...TOOLS),
  args: argsText,
  cuts: fc.array(fc.nat(), { maxLength: 6 }),
  before: fc.array(fc.string({ minLength: 1, maxLength: 8 }), { maxLength: 2 }),
});

// ---- OpenAI -----------------------------------------------------------------------------------

const envelope = { id: "chatcmpl-1", object: "chat.completion.chunk", created: 1, model: "gpt-4o-mini", system_fingerprint: "fp" };
const chunk = (delta: Record<string, unknown>, finish: string | null = null) =>
  `data: ${JSON.stringify({ ...envelope, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] })}\n\n`;

function openaiStream(calls: Call[]): string {
  let text = chunk({ role: "assistant", content: null });
  calls.forEach((call, index) => {
    for (const piece of call.before) text += chunk({ content: piece });
    text += chunk({ tool_calls: [{ index, id: `call_${index}`, type: "function", function: { name: call.name, arguments: "" } }] });
    for (const piece of cut(call.args, call.cuts)) text += chunk({ tool_calls: [{ index, function: { arguments: piece } }] });
  });
  return `${text}${chunk({}, calls.length > 0 ? "tool_calls" : "stop")}data: [DONE]\n\n`;
}

/** What an SDK accumulates from the chunks it receives. */
function accumulateOpenAi(out: SseEvent[]) {
  let content = "";
  const calls: Array<{ id: string; name: string; arguments: string }> = [];
  let finish: unknown = null;
  for (const event of out) {
    const choice = (event.data?.choices as Array<Record<string, any>> | undefined)?.[0];
    if (!choice) continue;
    if (typeof choice.delta?.content === "string") content += choice.delta.content;
    for (const fragment of choice.delta?.tool_calls ?? []) {
      const call = (calls[fragment.index] ??= { id: "", name: "", arguments: "" });
      call.id += fragment.id ?? "";
      call.name += fragment.function?.name ?? "";
      call.arguments += fragment.function?.arguments ?? "";
    }
    if (choice.finish_reason) finish = choice.finish_reason;
  }
  return { content, calls, finish };
}

describe("OpenAI streams", () => {
  it("assembles every call from fragments cut anywhere; allowed calls pass exactly, refused ones leave a notice; text is never held", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(callArb, { maxLength: 4 }), async (calls) => {
        const decider = gate(ALLOWED);
        const input = events(openaiStream(calls));
        const { perEvent, out, stop } = await run(openaiToolCalls(decider), input);
        expect(stop).toBeUndefined();
        expect(decider.asked).toEqual(calls.map((c, i) => ({ id: `call_${i}`, name: c.name, arguments: c.args === "" ? "{}" : c.args })));
        // Each text delta leaves in the same step it arrived in, unchanged.
        input.forEach((event, i) => {
          if (typeof (event.data?.choices as any)?.[0]?.delta?.content === "string") expect(perEvent[i]).toContain(event);
        });
        const seen = accumulateOpenAi(out);
        const allowed = calls.filter((c) => ALLOWED.includes(c.name));
        expect(seen.calls.map((c) => c.name)).toEqual(allowed.map((c) => c.name));
        expect(seen.calls.map((c) => c.arguments)).toEqual(allowed.map((c) => c.args));
        const refused = calls.filter((c) => !ALLOWED.includes(c.name));
        for (const call of refused) expect(seen.content).toContain(`[verity: tool call to ${call.name} refused (policy_denied)`);
        // Without the notices, the text is exactly the model's text, in order.
        expect(seen.content.replace(/\[verity: tool call to [^\]]*\]/g, "")).toBe(calls.flatMap((c) => c.before).join(""));
        expect(seen.finish).toBe(calls.length === 0 ? "stop" : allowed.length > 0 ? "tool_calls" : "stop");
        expect(out.at(-1)?.done).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it("releases an allowed call's events unchanged when no index moved", async () => {
    const input = events(openaiStream([{ name: "search_documents", args: '{"query":"q"}', cuts: [3, 7], before: [] }]));
    const { out } = await run(openaiToolCalls(gate(ALLOWED)), input);
    expect(out.map(serialise).join("")).toBe(input.map(serialise).join(""));
    expect(out.every((e) => e.raw !== undefined)).toBe(true);
  });

  it("renumbers the calls after a refused one, so the caller sees 0, 1, … without gaps", async () => {
    const input = events(
      openaiStream([
        { name: "send_email", args: "{}", cuts: [], before: [] },
        { name: "search_documents", args: '{"query":"a"}', cuts: [5], before: [] },
      ]),
    );
    const seen = accumulateOpenAi((await run(openaiToolCalls(gate(ALLOWED)), input)).out);
    expect(seen.calls).toEqual([{ id: "call_1", name: "search_documents", arguments: '{"query":"a"}' }]);
  });

  it("refuses the whole reply when policy says so: nothing of the call, and a stop", async () => {
    const input = events(openaiStream([{ name: "send_email", args: "{}", cuts: [], before: ["hi "] }]));
    const { out, stop } = await run(openaiToolCalls(gate(ALLOWED, true)), input);
    expect(stop?.error.code).toBe("policy_denied");
    expect(out.some((e) => JSON.stringify(e.data ?? {}).includes("tool_calls"))).toBe(false);
  });

  it("refuses a stream whose fragment goes back to a call already decided", async () => {
    const text =
      chunk({ tool_calls: [{ index: 0, id: "a", function: { name: "search_documents", arguments: "{}" } }] }) +
      chunk({ tool_calls: [{ index: 1, id: "b", function: { name: "search_documents", arguments: "{}" } }] }) +
      chunk({ tool_calls: [{ index: 0, function: { arguments: "x" } }] });
    await expect(run(openaiToolCalls(gate(ALLOWED)), events(text))).rejects.toBeInstanceOf(ProposalError);
  });

  it("decides a call still open when the stream ends without finish_reason or [DONE]", async () => {
    const decider = gate(ALLOWED);
    const text = chunk({ tool_calls: [{ index: 0, id: "a", function: { name: "search_documents", arguments: '{"query":"x"}' } }] });
    const { out } = await run(openaiToolCalls(decider), events(text));
    expect(decider.asked).toHaveLength(1);
    expect(accumulateOpenAi(out).calls).toHaveLength(1);
  });

  it("splits a chunk that mixes text and a call fragment: the text goes at once", async () => {
    const text = chunk({ content: "Let me look. ", tool_calls: [{ index: 0, id: "a", type: "function", function: { name: "search_documents", arguments: '{"query":"x"}' } }] });
    const inspector = openaiToolCalls(gate(ALLOWED));
    const [event] = events(text);
    const first = await inspector.push(event!);
    expect(first.events).toHaveLength(1);
    expect((first.events[0]!.data!.choices as any)[0].delta).toEqual({ content: "Let me look. " });
    const last = await inspector.end();
    expect(accumulateOpenAi(last.events).calls).toEqual([{ id: "a", name: "search_documents", arguments: '{"query":"x"}' }]);
  });
});

describe("OpenAI whole replies", () => {
  const reply = (calls: Array<{ name: string; args: string }>) => ({
    id: "chatcmpl-1",
    object: "chat.completion",
    model: "gpt-4o-mini",
    choices: [
      {
        index: 0,
        message: { role: "assistant", content: null, tool_calls: calls.map((c, i) => ({ id: `call_${i}`, type: "function", function: { name: c.name, arguments: c.args } })) },
        finish_reason: "tool_calls",
      },
    ],
  });

  it("keeps allowed calls untouched (the same object)", async () => {
    const whole = reply([{ name: "search_documents", args: '{"query":"x"}' }]);
    const result = await authorizeOpenAiReply(whole, gate(ALLOWED));
    expect(result.reply).toBe(whole);
    expect(result.refused).toEqual([]);
  });

  it("removes refused calls, puts the notice in the content, and says stop when none remains", async () => {
    const result = await authorizeOpenAiReply(reply([{ name: "send_email", args: "{}" }]), gate(ALLOWED));
    const choice = (result.reply.choices as any)[0];
    expect(choice.message.tool_calls).toBeUndefined();
    expect(choice.message.content).toMatch(/^\[verity: tool call to send_email refused \(policy_denied\)/);
    expect(choice.finish_reason).toBe("stop");
    expect(refusalHeader(result.refused)).toBe("send_email=policy_denied");
  });

  it("keeps finish_reason tool_calls while an allowed call remains", async () => {
    const result = await authorizeOpenAiReply(reply([{ name: "send_email", args: "{}" }, { name: "search_documents", args: '{"query":"x"}' }]), gate(ALLOWED));
    const choice = (result.reply.choices as any)[0];
    expect(choice.message.tool_calls.map((c: any) => c.function.name)).toEqual(["search_documents"]);
    expect(choice.finish_reason).toBe("tool_calls");
  });

  it("refuses the whole reply when policy says so", async () => {
    await expect(authorizeOpenAiReply(reply([{ name: "send_email", args: "{}" }]), gate(ALLOWED, true))).rejects.toMatchObject({ code: "policy_denied" });
  });
});

// ---- Anthropic --------------------------------------------------------------------------------

const named = (type: string, fields: Record<string, unknown>) => `event: ${type}\ndata: ${JSON.stringify({ type, ...fields })}\n\n`;

function anthropicStream(calls: Call[]): string {
  let text = named("message_start", { message: { id: "msg_1", type: "message", role: "assistant", model: "claude-haiku-4-5", content: [], usage: { input_tokens: 1, output_tokens: 1 } } });
  let index = 0;
  for (const call of calls) {
    if (call.before.length > 0) {
      text += named("content_block_start", { index, content_block: { type: "text", text: "" } });
      for (const piece of call.before) text += named("content_block_delta", { index, delta: { type: "text_delta", text: piece } });
      text += named("content_block_stop", { index });
      index++;
    }
    text += named("content_block_start", { index, content_block: { type: "tool_use", id: `toolu_${index}`, name: call.name, input: {} } });
    text += named("ping", {});
    for (const piece of cut(call.args, call.cuts)) text += named("content_block_delta", { index, delta: { type: "input_json_delta", partial_json: piece } });
    text += named("content_block_stop", { index });
    index++;
  }
  return text + named("message_delta", { delta: { stop_reason: calls.length > 0 ? "tool_use" : "end_turn" }, usage: { output_tokens: 5 } }) + named("message_stop", {});
}

function accumulateAnthropic(out: SseEvent[]) {
  const blocks: Array<{ type: string; name?: string; text: string }> = [];
  let stopReason: unknown;
  for (const { data } of out) {
    if (data?.type === "content_block_start") {
      const block = data.content_block as Record<string, any>;
      blocks[data.index as number] = { type: block.type, ...(block.name ? { name: block.name } : {}), text: "" };
    }
    if (data?.type === "content_block_delta") {
      const delta = data.delta as Record<string, any>;
      blocks[data.index as number]!.text += delta.text ?? delta.partial_json ?? "";
    }
    if (data?.type === "message_delta") stopReason = (data.delta as Record<string, unknown>).stop_reason;
  }
  return { blocks, stopReason };
}

describe("Anthropic streams", () => {
  it("assembles every tool_use block from input_json_delta fragments cut anywhere; refused blocks become notice text blocks at the same index", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(callArb, { maxLength: 4 }), async (calls) => {
        const decider = gate(ALLOWED);
        const input = events(anthropicStream(calls));
        const { perEvent, out, stop } = await run(anthropicToolCalls(decider), input);
        expect(stop).toBeUndefined();
        expect(decider.asked.map((c) => [c.name, c.arguments])).toEqual(calls.map((c) => [c.name, c.args === "" ? "{}" : c.args]));
        input.forEach((event, i) => {
          if ((event.data?.delta as any)?.type === "text_delta" || event.name === "ping") expect(perEvent[i]).toContain(event);
        });
        const { blocks, stopReason } = accumulateAnthropic(out);
        // Indexes stay dense: every index that was started upstream is started downstream too.
        expect(blocks.every((b) => b !== undefined)).toBe(true);
        const tools = blocks.filter((b) => b.type === "tool_use");
        const allowed = calls.filter((c) => ALLOWED.includes(c.name));
        expect(tools.map((b) => [b.name, b.text])).toEqual(allowed.map((c) => [c.name, c.args]));
        const notices = blocks.filter((b) => b.type === "text" && b.text.startsWith("[verity:"));
        expect(notices).toHaveLength(calls.length - allowed.length);
        expect(stopReason).toBe(calls.length === 0 ? "end_turn" : allowed.length > 0 ? "tool_use" : "end_turn");
        expect(out.at(-1)?.name).toBe("message_stop");
      }),
      { numRuns: 300 },
    );
  });

  it("releases an allowed block's events exactly as they came", async () => {
    const input = events(anthropicStream([{ name: "search_documents", args: '{"query":"q"}', cuts: [2, 9], before: ["Sure. "] }]));
    const { out } = await run(anthropicToolCalls(gate(ALLOWED)), input);
    // The ping inside the tool block is not the block's own event: it passed at once, ahead of the block.
    const withoutPing = (list: SseEvent[]) => list.filter((e) => e.name !== "ping").map(serialise).join("");
    expect(withoutPing(out)).toBe(withoutPing(input));
    expect(out.filter((e) => e.name === "ping")).toHaveLength(1);
  });

  it("refuses the whole reply when policy says so", async () => {
    const { stop, out } = await run(anthropicToolCalls(gate(ALLOWED, true)), events(anthropicStream([{ name: "send_email", args: "{}", cuts: [], before: [] }])));
    expect(stop?.error.code).toBe("policy_denied");
    expect(out.some((e) => e.data?.type === "content_block_start")).toBe(false);
  });
});

describe("Anthropic whole replies", () => {
  const reply = (blocks: unknown[]) => ({ id: "msg_1", type: "message", role: "assistant", model: "claude-haiku-4-5", content: blocks, stop_reason: "tool_use" });

  it("replaces a refused tool_use block by a notice and says end_turn when none remains", async () => {
    const result = await authorizeAnthropicReply(reply([{ type: "text", text: "Sure." }, { type: "tool_use", id: "t", name: "send_email", input: { to: "x" } }]), gate(ALLOWED));
    expect(result.reply.content).toEqual([{ type: "text", text: "Sure." }, { type: "text", text: expect.stringMatching(/^\[verity: tool call to send_email refused/) }]);
    expect(result.reply.stop_reason).toBe("end_turn");
    expect(result.refused.map((r) => r.call.arguments)).toEqual(['{"to":"x"}']);
  });

  it("hands the gate a malformed input as it is, never as an empty object", async () => {
    const decider = gate(["search_documents"]);
    await authorizeAnthropicReply(reply([{ type: "tool_use", id: "t", name: "search_documents", input: "rm -rf /" }]), decider);
    expect(decider.asked[0]?.arguments).toBe('"rm -rf /"');
  });
});

describe("arguments the gate rewrote (the request's tokenized values restored)", () => {
  const vault = new TokenVault("0badc0de");
  // A value that needs escaping inside a JSON string.
  const value = 'Jane "JD" Doe\\';
  const placeholder = vault.placeholder("PERSON", value);
  const proposed = JSON.stringify({ to: placeholder, cc: [placeholder], subject: "hi" });
  const meant = JSON.stringify({ to: value, cc: [value], subject: "hi" });
  /** Allows everything, deciding on (and handing back) the arguments with placeholders restored. */
  const restoring: ToolCallGate & { asked: ProposedCall[] } = {
    asked: [],
    async decide(call) {
      const { text, restored } = vault.restore(call.arguments, jsonStringContent);
      this.asked.push({ ...call, arguments: text });
      return restored > 0 ? { allowed: true, arguments: text } : { allowed: true };
    },
  };

  it("restores values into JSON text as string content", () => {
    expect(JSON.parse(vault.restore(proposed, jsonStringContent).text)).toEqual(JSON.parse(meant));
    expect(vault.restore(`"${placeholder}"`).text).toBe(`"${value}"`);
  });

  it("OpenAI stream: the call, cut anywhere, reaches the caller as one fragment with the values", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.nat(), { maxLength: 6 }), async (cuts) => {
        const input = events(openaiStream([{ name: "send_email", args: proposed, cuts, before: ["Sending. "] }]));
        const { out } = await run(openaiToolCalls(restoring), input);
        const { content, calls, finish } = accumulateOpenAi(out);
        expect(content).toBe("Sending. ");
        expect(calls).toEqual([{ id: "call_0", name: "send_email", arguments: meant }]);
        expect(finish).toBe("tool_calls");
        expect(JSON.stringify(out.map((e) => e.data))).not.toContain("⟦");
      }),
      { numRuns: 50 },
    );
  });

  it("OpenAI whole reply: the call's arguments carry the values, the rest of the call is kept", async () => {
    const whole = {
      choices: [{ index: 0, message: { role: "assistant", content: null, tool_calls: [{ id: "call_0", type: "function", function: { name: "send_email", arguments: proposed } }] }, finish_reason: "tool_calls" }],
    };
    const { reply, refused } = await authorizeOpenAiReply(whole, restoring);
    expect(refused).toEqual([]);
    expect((reply.choices as any)[0].message.tool_calls).toEqual([{ id: "call_0", type: "function", function: { name: "send_email", arguments: meant } }]);
    expect((reply.choices as any)[0].finish_reason).toBe("tool_calls");
  });

  it("Anthropic stream: the block's input, cut anywhere, reaches the caller whole with the values", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.nat(), { maxLength: 6 }), async (cuts) => {
        const input = events(anthropicStream([{ name: "send_email", args: proposed, cuts, before: [] }]));
        const { out } = await run(anthropicToolCalls(restoring), input);
        const { blocks, stopReason } = accumulateAnthropic(out);
        expect(blocks).toEqual([{ type: "tool_use", name: "send_email", text: meant }]);
        expect(stopReason).toBe("tool_use");
        expect(out.filter((e) => e.data?.type === "content_block_stop")).toHaveLength(1);
      }),
      { numRuns: 50 },
    );
  });

  it("Anthropic whole reply: the block's input object carries the values", async () => {
    const whole = { content: [{ type: "tool_use", id: "t", name: "send_email", input: JSON.parse(proposed) }], stop_reason: "tool_use" };
    const { reply } = await authorizeAnthropicReply(whole, restoring);
    expect(reply.content).toEqual([{ type: "tool_use", id: "t", name: "send_email", input: JSON.parse(meant) }]);
  });
});

describe("the core", () => {
  it("bounds the argument text kept for one call just past the gate's limit", () => {
    const assembly = new CallAssembly<string>(0);
    for (let i = 0; i < 100; i++) assembly.add({ arguments: "x".repeat(1024) });
    expect(assembly.complete().arguments.length).toBe(64 * 1024 + 1);
  });

  it("completes a call when the next index starts, and refuses an index without a number", () => {
    const sequence = new CallSequence<string>();
    expect(sequence.add(0, { id: "a", name: "n", arguments: "{" }, "e0")).toBeUndefined();
    expect(sequence.add(0, { arguments: "}" }, "e1")).toBeUndefined();
    const done = sequence.add(1, { id: "b", name: "m" }, "e2");
    expect(done?.complete()).toEqual({ id: "a", name: "n", arguments: "{}" });
    expect(done?.held).toEqual(["e0", "e1"]);
    expect(() => sequence.add(Number.NaN, {})).toThrow(ProposalError);
  });
});
