import type { NormalizedRequest } from "../context.ts";
import type { WireFormat } from "../errors.ts";

/** What the gateway learns from a reply for the completion record. */
export interface UsageReport {
  model?: string;
  inputTokens?: number;
  outputTokens?: number;
}

/** One provider wire format: how to read a request, reach the upstream and read its replies. */
export interface WireProvider {
  format: WireFormat;
  /** Path of the route, on the gateway and on the upstream. */
  path: string;
  parse(body: Record<string, unknown>): NormalizedRequest;
  /** The body with the output-token limit lowered to at most `limit` (an obligation). */
  capTokens(body: Record<string, unknown>, limit: number): Record<string, unknown>;
  /**
   * A new body with `fn` applied to every text `parse` classifies (message contents, text parts, the
   * system prompt, tool-call arguments and tool inputs/results); everything else is kept as it is.
   */
  mapTexts(body: Record<string, unknown>, fn: (text: string) => string): Record<string, unknown>;
  credentials(apiKey: string, caller: Headers): Record<string, string>;
  /** Usage and served model from a whole reply or one stream event. */
  readUsage(event: Record<string, unknown>): UsageReport;
  /** Whether a non-streamed upstream reply has the provider's completion shape. */
  isCompletion(reply: Record<string, unknown>): boolean;
}
