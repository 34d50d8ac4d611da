/** node:http plumbing for the mock backends: bounded body reads, JSON replies, paced SSE streams. */
import type { IncomingMessage, ServerResponse } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import { WireError } from "./wire.ts";

/** Far above any test prompt; keeps a runaway client from filling the dev machine's memory. */
const MAX_BODY_BYTES = 8 * 1024 * 1024;

export async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > MAX_BODY_BYTES) throw new WireError(413, `request body exceeds ${MAX_BODY_BYTES} bytes`);
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

export function parseJsonBody(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new WireError(400, "We could not parse the JSON body of your request.");
  }
}

export function sendJson(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  response.end(text);
}

/**
 * Writes the frames as they are due: the first at once (with the headers), the rest spread evenly
 * over `spreadMs`, so a client sees the first chunk long before the last. Rejects with an AbortError
 * when `signal` aborts (the client went away), which also cancels the pending timer.
 */
export async function sendStream(
  response: ServerResponse,
  frames: readonly string[],
  spreadMs: number,
  signal: AbortSignal,
): Promise<void> {
  response.writeHead(200, {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache",
    connection: "keep-alive",
  });
  const gapMs = frames.length > 1 ? spreadMs / (frames.length - 1) : 0;
  for (const [index, frame] of frames.entries()) {
    if (index > 0 && gapMs > 0) await pause(gapMs, signal);
    response.write(frame);
  }
  response.end();
}

export async function pause(ms: number, signal: AbortSignal): Promise<void> {
  if (ms > 0) await sleep(ms, undefined, { signal });
}
