import type { NormalizedRequest } from "../context.ts";
import { mapContent, mapJsonStrings, mapJsonText } from "./map-texts.ts";
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

  mapTexts(body, fn) {
    if (!Array.isArray(body.messages)) return body;
    const messages = body.messages.map((message: unknown) => {
      if (!isRecord(message)) return message;
      const mapped: Record<string, unknown> = { ...message, content: mapContent(message.content, fn) };
      if (Array.isArray(message.tool_calls)) {
        mapped.tool_calls = message.tool_calls.map((call: unknown) =>
          isRecord(call) && isRecord(call.function) && typeof call.function.arguments === "string"
            ? { ...call, function: { ...call.function, arguments: mapJsonText(call.function.arguments, fn) } }
            : mapJsonStrings(call, fn),
        );
      }
      return mapped;
    });
    return { ...body, messages };
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

/**
 * A stream chunk made by the gateway in the image of an upstream one (same id, model, fingerprint),
 * carrying only `choice`; `usage` stays null where the upstream announces usage in a last chunk.
 */
export function chunkLike(upstream: Record<string, unknown>, choice: Record<string, unknown>): Record<string, unknown> {
  const chunk: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(upstream)) {
    if (key === "choices") chunk.choices = [{ logprobs: null, finish_reason: null, ...choice }];
    else chunk[key] = key === "usage" ? null : value;
  }
  return chunk;
}
