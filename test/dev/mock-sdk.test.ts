/**
 * Wire fidelity of the mock backends, judged by the official SDKs: if their parsers (and their
 * stream accumulators, which are strict about chunk order and tool-call fragments) accept the mock,
 * the gateway's adapters are tested against what the real APIs send.
 */
import Anthropic, { APIError as AnthropicError } from "@anthropic-ai/sdk";
import OpenAI, { APIError as OpenAIError } from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MOCK_BACKENDS } from "../../dev/config.ts";
import { LEAKY_UPSTREAM_DETAIL, startMockBackend, type RunningMockBackend } from "../../dev/mock-backend.ts";

const spec = MOCK_BACKENDS.find((candidate) => candidate.id === "us-public")!;
const searchTool = {
  name: "search_documents",
  description: "read-only search in the caller's tenant",
  parameters: { type: "object" as const, properties: { query: { type: "string" } }, required: ["query"] },
};

let backend: RunningMockBackend;
let openai: OpenAI;
let anthropic: Anthropic;

beforeAll(async () => {
  backend = await startMockBackend({ ...spec, port: 0 });
  // No retries: a steered 429/5xx must surface at once, not be retried into a slow test.
  openai = new OpenAI({ apiKey: spec.apiKey, baseURL: `${backend.url}/v1`, maxRetries: 0 });
  anthropic = new Anthropic({ apiKey: spec.apiKey, baseURL: backend.url, maxRetries: 0 });
});

afterAll(async () => {
  await backend.close();
});

describe("the openai SDK", () => {
  const user = (content: string) => [{ role: "user" as const, content }];

  it("reads a completion, its model and usage", async () => {
    const completion = await openai.chat.completions.create({ model: "gpt-4o-mini", messages: user("hi") });
    expect(completion.choices[0]?.message.content).toBe("Hello from us-public (us, public).");
    expect(completion.model).toBe("gpt-4o-mini");
    expect(completion.usage?.total_tokens).toBeGreaterThan(0);
  });

  it("reads a tool call", async () => {
    const completion = await openai.chat.completions.create({
      model: "gpt-4o-mini",
      messages: user('#tool:search_documents {"query": "nda"}'),
      tools: [{ type: "function", function: searchTool }],
    });
    const [call] = completion.choices[0]?.message.tool_calls ?? [];
    expect(completion.choices[0]?.finish_reason).toBe("tool_calls");
    expect(call?.type === "function" && call.function.name).toBe("search_documents");
    expect(call?.type === "function" && JSON.parse(call.function.arguments)).toEqual({ query: "nda" });
  });

  it("accumulates a streamed answer, with the usage chunk", async () => {
    const stream = await openai.chat.completions.create({
      model: "gpt-4o-mini",
      messages: user("#model:gpt-4.1 #say:streamed words arrive in order"),
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = "";
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? "";
      usage ??= chunk.usage;
      expect(chunk.model).toBe("gpt-4.1");
    }
    expect(text).toBe("streamed words arrive in order");
    expect(usage?.completion_tokens).toBeGreaterThan(0);
  });

  it("reassembles a streamed tool call with its stream helper", async () => {
    const stream = openai.chat.completions.stream({
      model: "gpt-4o-mini",
      messages: user('#tool:search_documents {"query": "board minutes 2024"}'),
      tools: [{ type: "function", function: searchTool }],
    });
    const final = await stream.finalChatCompletion();
    const [call] = final.choices[0]?.message.tool_calls ?? [];
    expect(call?.type === "function" && JSON.parse(call.function.arguments)).toEqual({ query: "board minutes 2024" });
  });

  it("raises its typed errors for a wrong key and a steered status", async () => {
    const wrongKey = new OpenAI({ apiKey: "sk-wrong", baseURL: `${backend.url}/v1`, maxRetries: 0 });
    await expect(wrongKey.chat.completions.create({ model: "m", messages: user("hi") })).rejects.toBeInstanceOf(
      OpenAI.AuthenticationError,
    );
    const failure = await openai.chat.completions.create({ model: "m", messages: user("#status:429") }).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(OpenAI.RateLimitError);
    expect((failure as OpenAIError).message).toContain(LEAKY_UPSTREAM_DETAIL);
  });

  it("lists models", async () => {
    const ids = [];
    for await (const model of openai.models.list()) ids.push(model.id);
    expect(ids).toContain("gpt-4o-mini");
  });
});

describe("the anthropic SDK", () => {
  const user = (content: string) => [{ role: "user" as const, content }];
  const tool = { name: searchTool.name, description: searchTool.description, input_schema: searchTool.parameters };

  it("reads a message, its model and usage", async () => {
    const message = await anthropic.messages.create({ model: "claude-haiku-4-5", max_tokens: 64, messages: user("hi") });
    expect(message.content).toEqual([{ type: "text", text: "Hello from us-public (us, public)." }]);
    expect(message.stop_reason).toBe("end_turn");
    expect(message.usage.output_tokens).toBeGreaterThan(0);
  });

  it("reads a tool use block", async () => {
    const message = await anthropic.messages.create({
      model: "claude-haiku-4-5",
      max_tokens: 64,
      messages: user('#tool:search_documents {"query": "nda"}'),
      tools: [tool],
    });
    expect(message.stop_reason).toBe("tool_use");
    expect(message.content[0]).toMatchObject({ type: "tool_use", name: "search_documents", input: { query: "nda" } });
  });

  it("accumulates a streamed answer with its stream helper", async () => {
    const stream = anthropic.messages.stream({
      model: "claude-haiku-4-5",
      max_tokens: 64,
      messages: user("#model:claude-x #say:streamed words arrive in order"),
    });
    const deltas: string[] = [];
    stream.on("text", (delta) => deltas.push(delta));
    const final = await stream.finalMessage();
    expect(final.model).toBe("claude-x");
    expect(final.content).toMatchObject([{ type: "text", text: "streamed words arrive in order" }]);
    expect(deltas.length).toBeGreaterThanOrEqual(3);
  });

  it("reassembles a streamed tool input from its JSON fragments", async () => {
    const stream = anthropic.messages.stream({
      model: "claude-haiku-4-5",
      max_tokens: 64,
      messages: user('#tool:search_documents {"query": "board minutes 2024", "matter": "m-7"}'),
      tools: [tool],
    });
    const final = await stream.finalMessage();
    expect(final.stop_reason).toBe("tool_use");
    expect(final.content[0]).toMatchObject({ type: "tool_use", input: { query: "board minutes 2024", matter: "m-7" } });
  });

  it("raises its typed errors for a wrong key and a steered status", async () => {
    const wrongKey = new Anthropic({ apiKey: "wrong", baseURL: backend.url, maxRetries: 0 });
    await expect(wrongKey.messages.create({ model: "m", max_tokens: 8, messages: user("hi") })).rejects.toBeInstanceOf(
      Anthropic.AuthenticationError,
    );
    const failure = await anthropic.messages
      .create({ model: "m", max_tokens: 8, messages: user("#status:529") })
      .catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(Anthropic.APIError);
    expect((failure as AnthropicError).status).toBe(529);
    expect((failure as AnthropicError).message).toContain(LEAKY_UPSTREAM_DETAIL);
  });

  it("lists models", async () => {
    const ids = [];
    for await (const model of anthropic.models.list()) ids.push(model.id);
    expect(ids).toContain("claude-haiku-4-5");
  });
});
