/** `POST /ssf/events` refuses what it cannot safely read, before any verification, and audits it. */
import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { MAX_SET_CHARS } from "../../worker/verify/risk/set.ts";
import { auditFor, gatewayFetch } from "../support/gateway.ts";
import { seedKv } from "../support/seed.ts";

beforeAll(() => seedKv(env.CONFIG));

/** A body streamed without Content-Length (chunked), so only the receiver's own counting can bound it. */
function streamOf(bytes: number): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream({
    pull(controller) {
      if (sent >= bytes) return controller.close();
      const chunk = new Uint8Array(Math.min(16 * 1024, bytes - sent)).fill(0x61);
      sent += chunk.byteLength;
      controller.enqueue(chunk);
    },
  });
}

describe("the Shared Signals receiver's input limits", () => {
  it("refuses a chunked SET larger than the limit (400 malformed), audited in the unauthenticated log", async () => {
    const response = await gatewayFetch("/ssf/events", {
      method: "POST",
      headers: { "content-type": "application/secevent+jwt" },
      body: streamOf(MAX_SET_CHARS * 4),
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({ err: "invalid_request", description: "the SET is too large" });
    const [record] = await auditFor("_unauthenticated", response.headers.get("x-request-id")!);
    expect(record).toMatchObject({ action: "receive_security_event", decision: "deny" });
  });

  it("refuses a declared Content-Length above the limit without reading the body", async () => {
    const response = await gatewayFetch("/ssf/events", {
      method: "POST",
      headers: { "content-type": "application/secevent+jwt", "content-length": String(MAX_SET_CHARS + 1) },
      body: "x".repeat(MAX_SET_CHARS + 1),
    });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { description: string }).description).toBe("the SET is too large");
  });
});
