/**
 * Reads a byte stream to its end, but never buffers more than `maxBytes`: past it the stream is
 * cancelled (the connection closes) and `TooLargeError` is thrown. Shared by every place that reads a
 * body it does not control — callers' requests and the replies of issuers, attestation endpoints and
 * model backends — so no peer can make the gateway hold more than the limit its caller chose.
 */
export class TooLargeError extends Error {
  override readonly name = "TooLargeError";
  constructor(readonly maxBytes: number) {
    super(`the body exceeds ${maxBytes} bytes`);
  }
}

export async function readAtMost(body: ReadableStream<Uint8Array> | null, maxBytes: number): Promise<Uint8Array> {
  if (body === null) return new Uint8Array(0);
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw new TooLargeError(maxBytes);
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

/** `readAtMost`, decoded as UTF-8 (replacement characters for invalid sequences, as `Response.text()`). */
export async function readTextAtMost(body: ReadableStream<Uint8Array> | null, maxBytes: number): Promise<string> {
  return new TextDecoder().decode(await readAtMost(body, maxBytes));
}
