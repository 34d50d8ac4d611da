/**
 * The one interface both provider wire formats implement (OpenAI chat completions, Anthropic
 * messages), so the server, steering and streaming are written once.
 */
import type { IncomingHttpHeaders } from "node:http";
import type { ChatRequest, Reply } from "./reply.ts";

/** A request the provider would refuse; rendered in that provider's error shape. */
export class WireError extends Error {
  override readonly name = "WireError";

  constructor(
    readonly status: number,
    message: string,
    readonly details: { code?: string; param?: string } = {},
  ) {
    super(message);
  }
}

/** Identity of one response: ids derive from the backend and a per-backend sequence number. */
export interface ResponseIdentity {
  backendId: string;
  seq: number;
  /** Unix seconds. */
  created: number;
}

export interface WireFormat {
  readonly name: "openai" | "anthropic";
  /** Throws WireError (401) unless the backend's API key is presented the way this provider wants. */
  checkAuth(headers: IncomingHttpHeaders, apiKey: string): void;
  /** Throws WireError (400) for a body the provider would refuse. */
  parseRequest(body: unknown): ChatRequest;
  completion(reply: Reply, id: ResponseIdentity): unknown;
  /** Complete SSE frames (`…\n\n`), in order. */
  streamFrames(reply: Reply, request: ChatRequest, id: ResponseIdentity): string[];
  errorBody(error: WireError): unknown;
  modelList(models: readonly string[], backendId: string): unknown;
}

/** The token of an `Authorization: Bearer <token>` header, if that is what was sent. */
export function bearerToken(headers: IncomingHttpHeaders): string | undefined {
  return /^Bearer\s+(\S+)$/i.exec(headers.authorization ?? "")?.[1];
}

export function sseData(data: unknown): string {
  return `data: ${JSON.stringify(data)}\n\n`;
}

/**
 * Stream pieces of a text: its words (each with its trailing space), or, for text with fewer than
 * `minPieces` words (JSON, say), even fragments, so that a stream has several chunks when it can.
 */
export function textPieces(text: string, minPieces: number): string[] {
  const words = text.match(/\s*\S+\s*/g) ?? [];
  return words.length >= minPieces ? words : fragments(text, minPieces);
}

/** Split text into `count` (or fewer, if shorter) contiguous fragments that concatenate back to it. */
export function fragments(text: string, count: number): string[] {
  const size = Math.max(1, Math.ceil(text.length / count));
  const out: string[] = [];
  for (let start = 0; start < text.length; start += size) out.push(text.slice(start, start + size));
  return out;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The text of a message's content: a string, or the `text` of its `{type:"text"}` parts. */
function contentText(content: unknown): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  const isText = (part: unknown): part is { type: "text"; text: string } =>
    isRecord(part) && part["type"] === "text" && typeof part["text"] === "string";
  return content
    .filter(isText)
    .map((part) => part.text)
    .join("\n");
}

export function lastUserText(messages: readonly Record<string, unknown>[]): string {
  const last = messages.findLast((message) => message["role"] === "user");
  return last === undefined ? "" : contentText(last["content"]);
}

export function promptChars(messages: readonly Record<string, unknown>[], system: unknown = undefined): number {
  return messages.reduce((sum, message) => sum + contentText(message["content"]).length, contentText(system).length);
}

export function requireMessages(body: Record<string, unknown>): Record<string, unknown>[] {
  const messages = body["messages"];
  if (!Array.isArray(messages) || messages.length === 0) {
    throw new WireError(400, "messages: a non-empty array is required", { param: "messages" });
  }
  if (!messages.every((message) => isRecord(message) && typeof message["role"] === "string")) {
    throw new WireError(400, "messages: each message must be an object with a role", { param: "messages" });
  }
  return messages as Record<string, unknown>[];
}

export function requireModel(body: Record<string, unknown>): string {
  const model = body["model"];
  if (typeof model !== "string" || model === "") {
    throw new WireError(400, "model: a model name is required", { param: "model" });
  }
  return model;
}

export function optionalBoolean(body: Record<string, unknown>, name: string): boolean {
  const value = body[name];
  if (value === undefined || value === null) return false;
  if (typeof value !== "boolean") throw new WireError(400, `${name}: must be a boolean`, { param: name });
  return value;
}
