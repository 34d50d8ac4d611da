/** Model pinning (worker/providers/model-pin.ts): whole replies and streams, both wire formats. */
import { describe, expect, it } from "vitest";
import { checkClaim, claimOf, createStreamPinGuard, MAX_UNVERIFIED_BYTES, type ModelPin } from "../../../worker/providers/model-pin.ts";

const pin: ModelPin = { backendId: "b", requested: "gpt-4o-mini", models: ["gpt-4o-mini", "gpt-4.1"] };
const encode = (text: string) => new TextEncoder().encode(text);
const decode = (chunks: Uint8Array[]) => chunks.map((c) => new TextDecoder().decode(c)).join("");

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

describe("streams", () => {
  it("holds back the first event until it names the pinned model, then passes everything through", () => {
    const guard = createStreamPinGuard("openai", pin);
    const first = openaiChunk("gpt-4o-mini", "Hel");
    const a = guard.push(encode(first.slice(0, 20)));
    expect(a.forward).toEqual([]);
    const b = guard.push(encode(first.slice(20)));
    expect(decode(b.forward)).toBe(first);
    const c = guard.push(encode(openaiChunk("gpt-4o-mini", "lo")));
    expect(c.forward).toHaveLength(1);
    expect(guard.end()).toEqual({ forward: [] });
  });

  it("stops an OpenAI stream whose first chunk names another model, forwarding nothing", () => {
    const guard = createStreamPinGuard("openai", pin);
    const step = guard.push(encode(openaiChunk("evil-model", "secret answer")));
    expect(step.forward).toEqual([]);
    expect(step.violation).toMatchObject({ reason: "unpinned_model", claimed: "evil-model" });
  });

  it("stops an OpenAI stream that switches model mid-stream", () => {
    const guard = createStreamPinGuard("openai", pin);
    expect(guard.push(encode(openaiChunk("gpt-4o-mini", "a"))).forward).toHaveLength(1);
    expect(guard.push(encode(openaiChunk("other", "b"))).violation?.reason).toBe("unpinned_model");
  });

  it("stops an Anthropic stream whose message_start names another model", () => {
    const guard = createStreamPinGuard("anthropic", { ...pin, requested: "claude-haiku-4-5", models: ["claude-haiku-4-5"] });
    const step = guard.push(encode(anthropicStart("evil-model")));
    expect(step).toMatchObject({ forward: [], violation: { reason: "unpinned_model", claimed: "evil-model" } });
  });

  it("passes an Anthropic stream whose message_start names the pinned model", () => {
    const guard = createStreamPinGuard("anthropic", { ...pin, requested: "claude-haiku-4-5", models: ["claude-haiku-4-5"] });
    expect(decode(guard.push(encode(anthropicStart("claude-haiku-4-5"))).forward)).toContain("message_start");
    expect(guard.push(encode('event: ping\ndata: {"type":"ping"}\n\n')).forward).toHaveLength(1);
  });

  it("refuses a stream that never names its model, at the end or past the hold-back bound", () => {
    const short = createStreamPinGuard("openai", pin);
    expect(short.push(encode("data: [DONE]\n\n")).forward).toEqual([]);
    expect(short.end().violation?.reason).toBe("no_model_named");
    const long = createStreamPinGuard("openai", pin);
    expect(long.push(encode(`: ${"x".repeat(MAX_UNVERIFIED_BYTES + 1)}\n`)).violation?.reason).toBe("no_model_named");
  });
});
