/** Model pinning (worker/providers/model-pin.ts): whole replies and streams, both wire formats. */
import { describe, expect, it } from "vitest";
import { checkClaim, claimOf, createStreamPinGuard, MAX_UNVERIFIED_BYTES, type ModelPin } from "../../../worker/providers/model-pin.ts";
import { createSseParser, serialise, type EventInspector, type InspectStep } from "../../../worker/providers/sse.ts";

const pin: ModelPin = { backendId: "b", requested: "gpt-4o-mini", models: ["gpt-4o-mini", "gpt-4.1"] };
const encode = (text: string) => new TextEncoder().encode(text);

describe("whole replies", () => {
  it("accepts the requested model and its dated snapshots", () => {
    expect(checkClaim("openai", pin, { model: "gpt-4o-mini" })).toBeUndefined();
    expect(checkClaim("openai", pin, { model: "gpt-4o-mini-2024-07-18" })).toBeUndefined();
    const claude: ModelPin = { backendId: "b", requested: "claude-sonnet-4-5", models: ["claude-sonnet-4-5"] };
    expect(checkClaim("anthropic", claude, { model: "claude-sonnet-4-5-20250929" })).toBeUndefined();
  });

  it("refuses another model, even one the backend is pinned to, and a model that only starts like it", () => {
    expect(checkClaim("openai", pin, { model: "gpt-4.1" })?.reason).toBe("unpinned_model");
    expect(checkClaim("openai", pin, { model: "evil-model" })).toMatchObject({ reason: "unpinned_model", claimed: "evil-model", backend: "b" });
    expect(checkClaim("openai", pin, { model: "gpt-4o-mini-evil" })?.reason).toBe("unpinned_model");
  });

  it("refuses a reply that names no model", () => {
    expect(checkClaim("openai", pin, claimOf("openai", { choices: [] }))?.reason).toBe("no_model_named");
    expect(checkClaim("anthropic", pin, claimOf("anthropic", { type: "message", content: [] }))?.reason).toBe("no_model_named");
  });

  it("checks the OpenAI system fingerprint against the allowlist when there is one", () => {
    const fingerprinted = { ...pin, systemFingerprints: ["fp_ok"] };
    expect(checkClaim("openai", fingerprinted, claimOf("openai", { model: "gpt-4o-mini", system_fingerprint: "fp_ok" }))).toBeUndefined();
    expect(checkClaim("openai", fingerprinted, claimOf("openai", { model: "gpt-4o-mini", system_fingerprint: "fp_other" }))?.reason).toBe("unlisted_fingerprint");
    expect(checkClaim("openai", fingerprinted, claimOf("openai", { model: "gpt-4o-mini", system_fingerprint: null }))?.reason).toBe("unlisted_fingerprint");
    // Anthropic replies carry no fingerprint: the allowlist does not apply to them.
    expect(checkClaim("anthropic", fingerprinted, claimOf("anthropic", { type: "message", model: "gpt-4o-mini" }))).toBeUndefined();
  });
});

const openaiChunk = (model: string, content: string) => `data: ${JSON.stringify({ object: "chat.completion.chunk", model, choices: [{ delta: { content } }] })}\n\n`;
const anthropicStart = (model: string) => `event: message_start\ndata: ${JSON.stringify({ type: "message_start", message: { type: "message", model, content: [] } })}\n\n`;

/** Feeds stream text to the guard event by event, as the relay does; what it passed on, as text, and its stop. */
function feeder(guard: EventInspector) {
  const parser = createSseParser();
  const collect = async (steps: Array<InspectStep | Promise<InspectStep>>) => {
    let forward = "";
    for (const pending of steps) {
      const step = await pending;
      forward += step.events.map(serialise).join("");
      if (step.stop) return { forward, stop: step.stop };
    }
    return { forward };
  };
  return {
    push: (text: string) => collect(parser.push(encode(text)).map((event) => guard.push(event))),
    end: () => collect([guard.end()]),
  };
}

describe("streams", () => {
  it("holds back the events before the first one that names the pinned model, then passes everything through unchanged", async () => {
    const guard = feeder(createStreamPinGuard("openai", pin));
    const first = openaiChunk("gpt-4o-mini", "Hel");
    expect(await guard.push(": keep-alive\n\n")).toEqual({ forward: "" });
    expect(await guard.push(first.slice(0, 20))).toEqual({ forward: "" });
    expect(await guard.push(first.slice(20))).toEqual({ forward: `: keep-alive\n\n${first}` });
    const next = openaiChunk("gpt-4o-mini", "lo");
    expect(await guard.push(next)).toEqual({ forward: next });
    expect(await guard.end()).toEqual({ forward: "" });
  });

  it("stops an OpenAI stream whose first chunk names another model, forwarding nothing", async () => {
    const step = await feeder(createStreamPinGuard("openai", pin)).push(openaiChunk("evil-model", "secret answer"));
    expect(step.forward).toBe("");
    expect(step.stop?.error.code).toBe("model_pin_violation");
    expect(step.stop?.pinViolation).toMatchObject({ reason: "unpinned_model", claimed: "evil-model" });
  });

  it("stops an OpenAI stream that switches model mid-stream", async () => {
    const guard = feeder(createStreamPinGuard("openai", pin));
    expect((await guard.push(openaiChunk("gpt-4o-mini", "a"))).forward).not.toBe("");
    expect((await guard.push(openaiChunk("other", "b"))).stop?.pinViolation?.reason).toBe("unpinned_model");
  });

  it("stops an Anthropic stream whose message_start names another model", async () => {
    const guard = feeder(createStreamPinGuard("anthropic", { ...pin, requested: "claude-haiku-4-5", models: ["claude-haiku-4-5"] }));
    const step = await guard.push(anthropicStart("evil-model"));
    expect(step.forward).toBe("");
    expect(step.stop?.pinViolation).toMatchObject({ reason: "unpinned_model", claimed: "evil-model" });
  });

  it("passes an Anthropic stream whose message_start names the pinned model", async () => {
    const guard = feeder(createStreamPinGuard("anthropic", { ...pin, requested: "claude-haiku-4-5", models: ["claude-haiku-4-5"] }));
    expect((await guard.push(anthropicStart("claude-haiku-4-5"))).forward).toContain("message_start");
    expect((await guard.push('event: ping\ndata: {"type":"ping"}\n\n')).forward).toContain("ping");
  });

  it("refuses a stream that never names its model, at the end or past the hold-back bound", async () => {
    const short = feeder(createStreamPinGuard("openai", pin));
    expect(await short.push("data: [DONE]\n\n")).toEqual({ forward: "" });
    expect((await short.end()).stop?.pinViolation?.reason).toBe("no_model_named");
    const long = feeder(createStreamPinGuard("openai", pin));
    const keepAlives = `: ${"x".repeat(1000)}\n\n`.repeat(Math.ceil(MAX_UNVERIFIED_BYTES / 1000) + 1);
    expect((await long.push(keepAlives)).stop?.pinViolation?.reason).toBe("no_model_named");
  });
});
