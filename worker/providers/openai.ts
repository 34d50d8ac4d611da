import type { NormalizedRequest } from "../context.ts";
import type { WireProvider } from "./types.ts";
import { bad, contentTexts, isRecord, optionalBoolean, optionalPositiveInteger, requireArray, requireString } from "./validate.ts";

const ROLES = new Set(["system", "developer", "user", "assistant", "tool", "function"]);

/** OpenAI chat completions (`POST /v1/chat/completions`). */
export const openai: WireProvider = {
  format: "openai",
  path: "/v1/chat/completions",

  parse(body): NormalizedRequest {
    const model = requireString(body, "model");
    const messages = requireArray(body, "messages", { nonEmpty: true });
    const texts: string[] = [];
    messages.forEach((message, i) => {
      if (!isRecord(message) || typeof message.role !== "string" || !ROLES.has(message.role)) {
        throw bad(`"messages[${i}]" must be an object with a valid "role"`);
      }
      texts.push(...contentTexts(message.content, `messages[${i}]`));
      if (Array.isArray(message.tool_calls)) texts.push(JSON.stringify(message.tool_calls));
    });
    const tools = (body.tools === undefined ? [] : requireArray(body, "tools", { nonEmpty: false })).map((tool, i) => {
      const name = isRecord(tool) && isRecord(tool.function) ? tool.function.name : undefined;
      if (typeof name !== "string" || name.length === 0) throw bad(`"tools[${i}].function.name" must be a string`);
      return name;
    });
    const maxTokens = optionalPositiveInteger(body, "max_completion_tokens") ?? optionalPositiveInteger(body, "max_tokens");
    return {
      format: "openai",
      model,
      stream: optionalBoolean(body, "stream"),
      texts,
      tools,
      ...(maxTokens !== undefined ? { maxTokens } : {}),
      body,
    };
  },

  capTokens(body, limit) {
    const field = body.max_completion_tokens !== undefined ? "max_completion_tokens" : "max_tokens";
    const current = body[field];
    return { ...body, [field]: typeof current === "number" ? Math.min(current, limit) : limit };
  },

  credentials(apiKey) {
    return { authorization: `Bearer ${apiKey}` };
  },

  readUsage(event) {
    const usage = isRecord(event.usage) ? event.usage : undefined;
    return {
      ...(typeof event.model === "string" ? { model: event.model } : {}),
      ...(typeof usage?.prompt_tokens === "number" ? { inputTokens: usage.prompt_tokens } : {}),
      ...(typeof usage?.completion_tokens === "number" ? { outputTokens: usage.completion_tokens } : {}),
    };
  },

  isCompletion(reply) {
    return Array.isArray(reply.choices) && typeof reply.model === "string";
  },
};
