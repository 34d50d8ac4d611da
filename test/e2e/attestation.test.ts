/**
 * End to end (issue 7): restricted data is served by the attested confidential mock through the
 * running stack with the official OpenAI client; when the mock's attestation is made invalid, the
 * same request is denied with a clear error and no backend receives the prompt.
 *
 * The gateway relies on a verified attestation until the earlier of its `exp` and `iat + maxAgeSeconds`
 * (per isolate). The test has the mock issue one-second tokens, so "made invalid" takes effect once
 * the cached one has run out, as it would in production at the token's expiry.
 */
import OpenAI, { APIError } from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GATEWAY_ORIGIN, MOCK_BACKENDS } from "../../dev/config.ts";
import { DEFAULT_TOKEN_TTL_SECONDS } from "../../dev/mock/attestation.ts";
import { tokenFor } from "../support/tokens.ts";

const CONFIDENTIAL = MOCK_BACKENDS.find((b) => b.id === "eu-confidential")!;
const MOCK = `http://127.0.0.1:${CONFIDENTIAL.port}`;

let alice: string;

beforeAll(async () => {
  alice = await tokenFor("alice");
});

afterAll(async () => {
  await setAttestation("valid", DEFAULT_TOKEN_TTL_SECONDS);
});

async function setAttestation(mode: string, ttlSeconds: number): Promise<void> {
  const response = await fetch(`${MOCK}/__mock/attestation`, { method: "POST", body: JSON.stringify({ mode, ttlSeconds }) });
  expect(response.status).toBe(200);
}

interface Received {
  path: string;
  body: unknown;
  time: string;
}

async function received(port: number): Promise<Received[]> {
  return (await (await fetch(`http://127.0.0.1:${port}/__mock/requests`)).json()) as Received[];
}

const client = () => new OpenAI({ apiKey: alice, baseURL: `${GATEWAY_ORIGIN}/v1`, maxRetries: 0 });

/** A restricted request: the caller's label can raise the classification (never lower it). */
function ask(text: string) {
  return client().chat.completions.create(
    { model: "gpt-4o-mini", messages: [{ role: "user", content: text }] },
    { headers: { "x-verity-classification": "restricted" } },
  );
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("attested confidential backend, end to end", () => {
  it("serves restricted data from eu-confidential, then denies it once the attestation is invalid, sending nothing", { timeout: 90_000 }, async () => {
    // Let any attestation cached earlier in this run expire: poll while the mock presents a bad one.
    await setAttestation("bad-measurement", 1);
    for (let i = 0; i < DEFAULT_TOKEN_TTL_SECONDS + 5; i++) {
      const denied = await ask("warm-up").then(
        () => false,
        (error: unknown) => error instanceof APIError && error.status === 502,
      );
      if (denied) break;
      await sleep(1000);
    }

    await setAttestation("valid", 1);
    const served = await ask(`restricted question ${crypto.randomUUID()}`);
    expect(served.choices[0]?.message.content).toContain("eu-confidential");

    await setAttestation("bad-measurement", 1);
    await sleep(1500); // the one-second attestation the gateway verified has run out
    const marker = `restricted-${crypto.randomUUID()}`;
    const since = new Date().toISOString();
    const error = await ask(`restricted question ${marker}`).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(APIError);
    expect((error as APIError).status).toBe(502);
    expect((error as APIError).code).toBe("attestation_failed");
    expect((error as APIError).message).toMatch(/attestation failed/);

    for (const backend of MOCK_BACKENDS) {
      const fresh = (await received(backend.port)).filter((r) => r.time >= since);
      expect(JSON.stringify(fresh), backend.id).not.toContain(marker);
      // The only thing any backend received: eu-confidential was asked for an attestation (a nonce).
      for (const request of fresh) {
        expect(request.path, backend.id).toBe("/attestation");
        expect(Object.keys(request.body as object)).toEqual(["nonce"]);
      }
    }
  });
});
