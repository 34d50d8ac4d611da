import type { NormalizedRequest } from "../context.ts";
import { mapContent } from "./map-texts.ts";
import type { WireProvider } from "./types.ts";
import { bad, contentTexts, isRecord, optionalBoolean, optionalPositiveInteger, requireArray, requireString } from "./validate.ts";

const ROLES = new Set(["user", "assistant"]);
/** The API version sent upstream when the caller names none. */
const DEFAULT_VERSION = "2023-06-01";

/** Anthropic messages (`POST /v1/messages`). */
export const anthropic: WireProvider = {
  format: "anthropic",
  path: "/v1/messages",

  parse(body): NormalizedRequest {
    const model = requireString(body, "model");
    const maxTokens = optionalPositiveInteger(body, "max_tokens");
    if (maxTokens === undefined) throw bad('"max_tokens" is required');
    const texts = body.system === undefined ? [] : contentTexts(body.system, "system");
    requireArray(body, "messages", { nonEmpty: true }).forEach((message, i) => {
      if (!isRecord(message) || typeof message.role !== "string" || !ROLES.has(message.role)) {
        throw bad(`"messages[${i}]" must be an object with role "user" or "assistant"`);
      }
      texts.push(...contentTexts(message.content, `messages[${i}]`));
    });
    const tools = (body.tools === undefined ? [] : requireArray(body, "tools", { nonEmpty: false })).map((tool, i) => {
      const name = isRecord(tool) ? tool.name : undefined;
      if (typeof name !== "string" || name.length === 0) throw bad(`"tools[${i}].name" must be a string`);
      return name;
    });
    return { format: "anthropic", model, stream: optionalBoolean(body, "stream"), texts, tools, maxTokens, body };
  },

  capTokens(body, limit) {
    const current = body.max_tokens;
    return { ...body, max_tokens: typeof current === "number" ? Math.min(current, limit) : limit };
  },

  mapTexts(body, fn) {
    const messages = Array.isArray(body.messages)
      ? body.messages.map((message: unknown) => (isRecord(message) ? { ...message, content: mapContent(message.content, fn) } : message))
      : body.messages;
    return { ...body, ...(body.system === undefined ? {} : { system: mapContent(body.system, fn) }), messages };
  },

  credentials(apiKey, caller) {
    return { "x-api-key": apiKey, "anthropic-version": caller.get("anthropic-version") ?? DEFAULT_VERSION };
  },

  readUsage(event) {
    const message = isRecord(event.message) ? event.message : event;
    const usage = isRecord(message.usage) ? message.usage : isRecord(event.usage) ? event.usage : undefined;
    return {
      ...(typeof message.model === "string" ? { model: message.model } : {}),
      ...(typeof usage?.input_tokens === "number" ? { inputTokens: usage.input_tokens } : {}),
      ...(typeof usage?.output_tokens === "number" ? { outputTokens: usage.output_tokens } : {}),
    };
  },

  isCompletion(reply) {
    return reply.type === "message" && Array.isArray(reply.content) && typeof reply.model === "string";
  },
};
