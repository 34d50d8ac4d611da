/**
 * What a mock backend answers, independent of the wire format: each format parses its request into a
 * ChatRequest and renders the Outcome planned here, so both formats steer and count tokens alike.
 */
import type { MockBackendSpec } from "../config.ts";
import { parseSteering, type SteeredContent } from "./steering.ts";

/** A chat request as both wire formats reduce it. */
export interface ChatRequest {
  /** The parsed request body, for `#echo`. */
  body: unknown;
  model: string;
  stream: boolean;
  /** OpenAI `stream_options.include_usage`; Anthropic streams always carry usage. */
  includeUsage: boolean;
  /** The text of the last user message (string content, or its text parts joined by newlines). */
  lastUserText: string;
  /** Characters of every message's text (system prompt included), for the token estimate. */
  promptChars: number;
}

export type ReplyContent = { kind: "text"; text: string } | { kind: "tool"; name: string; input: Record<string, unknown> };

export interface Reply {
  model: string;
  content: ReplyContent;
  usage: { inputTokens: number; outputTokens: number };
  /** Spread the stream over this long (or delay a non-streamed reply by it). */
  slowMs: number;
}

export type Outcome =
  | { kind: "reply"; reply: Reply }
  | { kind: "status"; status: number }
  | { kind: "hang" }
  /** `#fail:<id>:reset`: the connection is dropped without an answer. */
  | { kind: "reset" }
  /** `#fail:<id>:cut`: the reply starts (200, a stream's first event) and then the connection drops. */
  | { kind: "cut"; reply: Reply };

/** Throws SteeringError when the message's steering cannot be acted on. */
export function planOutcome(backend: MockBackendSpec, request: ChatRequest): Outcome {
  const steering = parseSteering(request.lastUserText);
  if (steering.hang) return { kind: "hang" };
  const fault = steering.faults.get(backend.id);
  if (fault?.kind === "status") return { kind: "status", status: fault.status };
  if (fault?.kind === "reset") return { kind: "reset" };
  if (steering.status !== undefined) return { kind: "status", status: steering.status };

  const content = replyContent(backend, request, steering.content);
  const reply: Reply = {
    model: steering.model ?? request.model,
    content,
    usage: { inputTokens: estimateTokens(request.promptChars), outputTokens: estimateTokens(contentChars(content)) },
    slowMs: steering.slowMs ?? 0,
  };
  return fault?.kind === "cut" ? { kind: "cut", reply } : { kind: "reply", reply };
}

function replyContent(backend: MockBackendSpec, request: ChatRequest, steered: SteeredContent): ReplyContent {
  switch (steered.kind) {
    case "echo":
      return { kind: "text", text: JSON.stringify(request.body) };
    case "say":
      return { kind: "text", text: steered.text };
    case "tool":
      return { kind: "tool", name: steered.name, input: steered.input };
    case "default":
      return { kind: "text", text: defaultAnswer(backend) };
  }
}

function defaultAnswer(backend: MockBackendSpec): string {
  return `Hello from ${backend.id} (${backend.region}, ${backend.tier}).`;
}

/** The usual rule of thumb for English text: about four characters a token. */
function estimateTokens(chars: number): number {
  return Math.max(1, Math.ceil(chars / 4));
}

function contentChars(content: ReplyContent): number {
  return content.kind === "text" ? content.text.length : content.name.length + JSON.stringify(content.input).length;
}
