import { GatewayError } from "../errors.ts";
import { readAtMost, TooLargeError } from "../lib/bounded-read.ts";

export interface JsonBody {
  json: Record<string, unknown>;
  /** Exactly the bytes the caller sent, for digests. */
  bytes: Uint8Array;
}

/**
 * Reads a JSON request body with a hard size limit: a declared Content-Length above it is refused up
 * front, and a body without one is counted while it streams, so no caller can make the gateway
 * buffer more than `maxBytes`.
 */
export async function readJsonBody(request: Request, maxBytes: number): Promise<JsonBody> {
  const type = request.headers.get("content-type") ?? "";
  if (!/^application\/json\s*(;|$)/i.test(type)) {
    throw new GatewayError("unsupported_media_type", "the request body must be application/json");
  }
  const bytes = await readBoundedBody(request, maxBytes);
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes));
  } catch (cause) {
    throw new GatewayError("invalid_json", "the request body is not valid JSON", { cause });
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new GatewayError("invalid_request", "the request body must be a JSON object");
  }
  return { json: parsed as Record<string, unknown>, bytes };
}

/**
 * The request body's bytes, never more than `maxBytes` buffered: a declared Content-Length above it is
 * refused up front (413), and a body without one is counted while it streams. Empty → `invalid_json`.
 */
export async function readBoundedBody(request: Request, maxBytes: number): Promise<Uint8Array> {
  const length = request.headers.get("content-length");
  const declared = length === null ? undefined : Number(length);
  if (declared !== undefined && declared > maxBytes) throw new GatewayError("payload_too_large", `the request body exceeds ${maxBytes} bytes`);
  if (!request.body) throw new GatewayError("invalid_json", "the request body is empty");
  // With a valid declared length the runtime's HTTP framing bounds the body to it, so it is read in
  // one native call; otherwise (chunked) the limit is enforced chunk by chunk.
  const framed = declared !== undefined && Number.isSafeInteger(declared) && declared >= 0;
  if (framed) return new Uint8Array(await request.arrayBuffer());
  try {
    return await readAtMost(request.body, maxBytes);
  } catch (error) {
    if (error instanceof TooLargeError) throw new GatewayError("payload_too_large", `the request body exceeds ${maxBytes} bytes`);
    throw error;
  }
}
