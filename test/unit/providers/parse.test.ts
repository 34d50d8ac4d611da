import { describe, expect, it } from "vitest";
import { GatewayError } from "../../../worker/errors.ts";
import { PROVIDERS } from "../../../worker/providers/index.ts";

const { openai, anthropic } = PROVIDERS;

function refusal(parse: () => unknown): string {
  try {
    parse();
  } catch (error) {
    expect(error).toBeInstanceOf(GatewayError);
    expect((error as GatewayError).code).toBe("invalid_request");
    return (error as Error).message;
  }
  throw new Error("accepted");
}

describe("OpenAI chat completions", () => {
  it("normalizes messages, content parts, tools and limits", () => {
    const request = openai.parse({
      model: "gpt-4o-mini",
      stream: true,
      max_tokens: 100,
      messages: [
        { role: "system", content: "be brief" },
        { role: "user", content: [{ type: "text", text: "hello" }, { type: "image_url", image_url: { url: "x" } }] },
        { role: "assistant", content: null, tool_calls: [{ id: "1", type: "function", function: { name: "f", arguments: "{}" } }] },
      ],
      tools: [{ type: "function", function: { name: "search_documents" } }],
    });
    expect(request).toMatchObject({ format: "openai", model: "gpt-4o-mini", stream: true, maxTokens: 100, tools: ["search_documents"] });
    expect(request.texts[0]).toBe("be brief");
    expect(request.texts[1]).toBe("hello");
    expect(request.texts.join(" ")).toContain('"arguments"');
  });

  it("names the field it refuses", () => {
    expect(refusal(() => openai.parse({ messages: [{ role: "user", content: "x" }] }))).toContain('"model"');
    expect(refusal(() => openai.parse({ model: "m", messages: [{ role: "wizard", content: "x" }] }))).toContain("messages[0]");
    expect(refusal(() => openai.parse({ model: "m", messages: [{ role: "user", content: 3 }] }))).toContain("messages[0].content");
    expect(refusal(() => openai.parse({ model: "m", messages: [{ role: "user", content: "x" }], stream: "yes" }))).toContain('"stream"');
    expect(refusal(() => openai.parse({ model: "m", messages: [{ role: "user", content: "x" }], max_tokens: -1 }))).toContain("max_tokens");
    expect(refusal(() => openai.parse({ model: "m", messages: [{ role: "user", content: "x" }], tools: [{}] }))).toContain("tools[0]");
  });

  it("caps output tokens without raising a lower request", () => {
    expect(openai.capTokens({ max_tokens: 10 }, 100)).toEqual({ max_tokens: 10 });
    expect(openai.capTokens({ max_completion_tokens: 1000 }, 100)).toEqual({ max_completion_tokens: 100 });
    expect(openai.capTokens({}, 100)).toEqual({ max_tokens: 100 });
  });
});

describe("Anthropic messages", () => {
  it("normalizes system prompt, blocks and tools", () => {
    const request = anthropic.parse({
      model: "claude-sonnet-4-5",
      max_tokens: 256,
      system: [{ type: "text", text: "policy" }],
      messages: [
        { role: "user", content: "hi" },
        { role: "assistant", content: [{ type: "tool_use", id: "t", name: "search_documents", input: { query: "q" } }] },
        { role: "user", content: [{ type: "tool_result", tool_use_id: "t", content: [{ type: "text", text: "result" }] }] },
      ],
      tools: [{ name: "search_documents", input_schema: { type: "object" } }],
    });
    expect(request.texts).toEqual(["policy", "hi", '{"query":"q"}', "result"]);
    expect(request.tools).toEqual(["search_documents"]);
  });

  it("requires max_tokens and user/assistant roles", () => {
    expect(refusal(() => anthropic.parse({ model: "m", messages: [{ role: "user", content: "x" }] }))).toContain("max_tokens");
    expect(refusal(() => anthropic.parse({ model: "m", max_tokens: 5, messages: [{ role: "system", content: "x" }] }))).toContain("messages[0]");
  });
});
