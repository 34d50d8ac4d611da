/** Helpers for the data-plane worker tests (data-*.test.ts): posting, reading replies and audit records. */
import { auditFor, bearer, gatewayFetch, type StoredRecord } from "../support/gateway.ts";

export const EMAIL = "jane.doe@example.com";
export const OTHER_EMAIL = "bob.smith@example.org";

export function post(path: string, body: unknown, token: string, headers: Record<string, string> = {}): Promise<Response> {
  return gatewayFetch(path, { method: "POST", body: JSON.stringify(body), headers: bearer(token, headers) });
}

export const marker = (): string => `m-${crypto.randomUUID()}`;

/** The text a reply carries to the caller: whole (either format) or streamed (every text delta, joined). */
export async function replyText(response: Response): Promise<string> {
  const raw = await response.text();
  if (!(response.headers.get("content-type") ?? "").startsWith("text/event-stream")) {
    const reply = JSON.parse(raw) as { choices?: Array<{ message: { content: string } }>; content?: Array<{ type: string; text?: string }> };
    return reply.choices ? reply.choices.map((c) => c.message.content).join("") : (reply.content ?? []).map((b) => b.text ?? "").join("");
  }
  let text = "";
  for (const block of raw.split("\n\n")) {
    const data = block.split("\n").find((line) => line.startsWith("data: "))?.slice(6);
    if (!data || data === "[DONE]") continue;
    const event = JSON.parse(data) as Record<string, any>;
    text += event.choices?.[0]?.delta?.content ?? "";
    if (event.type === "content_block_delta" && event.delta?.type === "text_delta") text += event.delta.text;
    if (event.type === "content_block_start" && event.content_block?.type === "text") text += event.content_block.text ?? "";
  }
  return text;
}

/** The in-stream error of a streamed reply, if it ended with one (either format). */
export function streamError(raw: string): Record<string, any> | undefined {
  for (const block of raw.split("\n\n")) {
    const data = block.split("\n").find((line) => line.startsWith("data: "))?.slice(6);
    if (!data || data === "[DONE]") continue;
    const event = JSON.parse(data) as Record<string, any>;
    if (event.error) return event.error;
  }
  return undefined;
}

/** The request's records, waiting for the completion record (committed after the reply) when asked. */
export async function recordsOf(tenant: string, response: Response, types = ["decision"]): Promise<StoredRecord[]> {
  const requestId = response.headers.get("x-request-id")!;
  let records: StoredRecord[] = [];
  for (let i = 0; i < 60; i++) {
    records = await auditFor(tenant, requestId);
    if (types.every((t) => records.some((r) => r.type === t))) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return records;
}
