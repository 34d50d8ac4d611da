/**
 * The last requests a mock backend received, for `GET /__mock/requests`: the gateway's tests read it
 * to prove which headers and body left the gateway (upstream key injected, caller's token stripped,
 * secrets redacted from the prompt).
 */
import type { IncomingMessage } from "node:http";

export interface RecordedRequest {
  method: string;
  /** Path and query, as received. */
  path: string;
  /** Lowercased names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  /** The parsed JSON body; the raw text when it is not JSON; null when empty. */
  body: unknown;
  /** The client went away before the reply was complete. */
  aborted: boolean;
  /** ISO 8601, when the body had been read. */
  time: string;
}

/** Enough for any one test's traffic, small enough that a long `npm start` session stays flat. */
const CAPACITY = 50;

export class RequestLog {
  #entries: RecordedRequest[] = [];

  record(request: IncomingMessage, bodyText: string): RecordedRequest {
    const entry: RecordedRequest = {
      method: request.method ?? "",
      path: request.url ?? "",
      headers: flattenHeaders(request),
      body: bodyForLog(bodyText),
      aborted: false,
      time: new Date().toISOString(),
    };
    this.#entries.push(entry);
    if (this.#entries.length > CAPACITY) this.#entries.shift();
    return entry;
  }

  list(): readonly RecordedRequest[] {
    return this.#entries;
  }

  clear(): void {
    this.#entries = [];
  }
}

function flattenHeaders(request: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headersDistinct)) {
    if (value !== undefined) headers[name] = value.join(", ");
  }
  return headers;
}

function bodyForLog(text: string): unknown {
  if (text === "") return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
