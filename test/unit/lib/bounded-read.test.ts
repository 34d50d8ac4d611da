import { describe, expect, it } from "vitest";
import { readAtMost, readTextAtMost, TooLargeError } from "../../../worker/lib/bounded-read.ts";

function chunked(sizes: number[]): { stream: ReadableStream<Uint8Array>; pulled: () => number; cancelled: () => boolean } {
  let index = 0;
  let cancelled = false;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      const size = sizes[index++];
      if (size === undefined) return controller.close();
      controller.enqueue(new Uint8Array(size).fill(0x61));
    },
    cancel() {
      cancelled = true;
    },
  });
  return { stream, pulled: () => index, cancelled: () => cancelled };
}

describe("reading a body a peer controls", () => {
  it("reads a body within the limit whole, across chunks", async () => {
    const { stream } = chunked([3, 4, 5]);
    expect(await readAtMost(stream, 12)).toEqual(new Uint8Array(12).fill(0x61));
    expect(await readTextAtMost(new Response("héllo").body, 6)).toBe("héllo");
    expect(await readAtMost(null, 0)).toEqual(new Uint8Array(0));
  });

  it("stops at the first chunk past the limit and cancels the stream, so nothing more is buffered or pulled", async () => {
    const { stream, pulled, cancelled } = chunked([8, 8, 8, 8, 8, 8]);
    const error = await readAtMost(stream, 12).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TooLargeError);
    expect((error as TooLargeError).maxBytes).toBe(12);
    expect(cancelled()).toBe(true);
    expect(pulled()).toBeLessThanOrEqual(3);
  });
});
