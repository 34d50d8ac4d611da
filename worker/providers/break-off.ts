import { GatewayError } from "../errors.ts";

/**
 * The upstream body, with a break (the connection dropped mid-reply, or the egress size bound cut it)
 * turned into an end the relay can answer with the provider's error event: an erroring source would
 * otherwise error the caller's stream with nothing said, and look like a caller that went away.
 */
export function endOnBreak(body: ReadableStream<Uint8Array>, broke: (error: GatewayError) => void): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done, value } = await reader.read();
        if (done) controller.close();
        else controller.enqueue(value);
      } catch (cause) {
        broke(cause instanceof GatewayError ? cause : new GatewayError("upstream_error", "the model backend's stream broke off; the reply is incomplete", { cause }));
        controller.close();
      }
    },
    cancel: (reason) => reader.cancel(reason),
  });
}
