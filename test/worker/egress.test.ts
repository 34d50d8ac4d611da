/**
 * The egress firewall: only origins from the registry, and never a redirect, even to an allowed origin.
 */
import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { GatewayError } from "../../worker/errors.ts";
import { createEgress } from "../../worker/network/index.ts";
import { bearer, chatBody, gatewayFetch, receivedWith } from "../support/gateway.ts";
import { seedKv } from "../support/seed.ts";
import { tokenFor } from "../support/tokens.ts";

const egress = createEgress(new Set(["http://127.0.0.1:8791", "http://127.0.0.1:8792"]));

async function refusal(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(GatewayError);
  return (error as GatewayError).code;
}

describe("egress firewall", () => {
  it("refuses an origin that is not on the allowlist", async () => {
    expect(await refusal(egress("http://127.0.0.1:8793/v1/models"))).toBe("egress_denied");
    expect(await refusal(egress("http://169.254.169.254/latest/meta-data/"))).toBe("egress_denied");
    expect(await refusal(egress("not a url"))).toBe("egress_denied");
  });

  it("refuses the same host on another scheme or port", async () => {
    expect(await refusal(egress("https://127.0.0.1:8791/v1/models"))).toBe("egress_denied");
    expect(await refusal(egress("http://127.0.0.1/v1/models"))).toBe("egress_denied");
  });

  it("hands a redirect back instead of following it, even to an allowed origin", async () => {
    const response = await egress("http://127.0.0.1:8791/__mock/redirect/8792/v1/models");
    expect(response.status).toBe(307);
    expect(response.headers.get("location")).toBe("http://127.0.0.1:8792/v1/models");
  });

  it("times out waiting for headers", async () => {
    const slow = egress("http://127.0.0.1:8791/v1/chat/completions", {
      method: "POST",
      headers: { authorization: `Bearer ${env.UPSTREAM_KEY_EU_PUBLIC}`, "content-type": "application/json" },
      body: chatBody("#slow:2000"),
      timeoutMs: 200,
    });
    expect(await refusal(slow)).toBe("upstream_timeout");
  });
});

describe("a backend that redirects", () => {
  beforeAll(async () => {
    await seedKv(env.CONFIG, (files) => {
      const backends = files.backends as Array<{ id: string; baseUrl: string }>;
      backends.find((b) => b.id === "eu-public")!.baseUrl = "http://127.0.0.1:8791/__mock/redirect/8792";
    });
  });

  it("is not followed: the caller gets a 502 and the redirect target never sees the request", async () => {
    const marker = `marker-${crypto.randomUUID()}`;
    const response = await gatewayFetch("/v1/chat/completions", {
      method: "POST",
      body: chatBody(marker),
      headers: bearer(await tokenFor("alice")),
    });
    expect(response.status).toBe(502);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe("upstream_error");
    expect(await receivedWith("us-public", marker)).toBeUndefined();
  });
});
