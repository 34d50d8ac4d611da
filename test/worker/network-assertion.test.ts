/**
 * The gateway-signed assertion: the self-hosted backend (eu-confidential, `assertion` in the registry)
 * gets a short-lived EdDSA JWT of the principal and decision, verifiable against the gateway's JWKS,
 * and the mock backend refuses calls without it or with a bad one.
 */
import { env } from "cloudflare:test";
import { createLocalJWKSet, decodeProtectedHeader, exportJWK, generateKeyPair, jwtVerify, SignJWT } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { MOCK_BACKENDS } from "../../dev/config.ts";
import { ASSERTION_HEADER, ASSERTION_TYPE } from "../../worker/network/index.ts";
import { KEY_RING_NAME } from "../../worker/verify/index.ts";
import { auditFor, bearer, chatBody, gatewayFetch, receivedWith } from "../support/gateway.ts";
import { seedKv } from "../support/seed.ts";
import { tokenFor } from "../support/tokens.ts";

const CONFIDENTIAL = MOCK_BACKENDS.find((b) => b.id === "eu-confidential")!;
const MOCK = `http://127.0.0.1:${CONFIDENTIAL.port}`;
const AUDIENCE = CONFIDENTIAL.assertion!.audience;
let alice: string;

beforeAll(async () => {
  await seedKv(env.CONFIG);
  alice = await tokenFor("alice");
});

const confidentialChat = (text: string) =>
  gatewayFetch("/v1/chat/completions", { method: "POST", body: chatBody(text), headers: bearer(alice, { "x-verity-classification": "restricted" }) });

/** Straight to the mock, as something on the network other than the gateway would call it. */
const direct = (headers: Record<string, string>) =>
  fetch(`${MOCK}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${CONFIDENTIAL.apiKey}`, ...headers },
    body: chatBody("hello"),
  });

const codeOf = async (response: Response) => ((await response.json()) as { error: { code: string } }).error.code;

function signByGateway(claims: Record<string, unknown>, typ = ASSERTION_TYPE): Promise<string> {
  const ring = env.KEY_RING.get(env.KEY_RING.idFromName(KEY_RING_NAME)) as unknown as { signJws(p: Record<string, unknown>, t: string): Promise<string> };
  return ring.signJws(claims, typ);
}

function validClaims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const now = Math.floor(Date.now() / 1000);
  return { iss: "https://gateway.verity.local", aud: AUDIENCE, sub: "alice", tenant: "acme", request_id: "r", decision: "allow", iat: now, exp: now + 60, ...overrides };
}

describe("the gateway's assertion to a self-hosted backend", () => {
  it("is sent, verifies against the gateway's JWKS, and says who, what and under which policy", async () => {
    const marker = `assertion-${crypto.randomUUID()}`;
    const response = await confidentialChat(marker);
    expect(response.status).toBe(200);
    expect(await response.text()).toContain("eu-confidential");
    const requestId = response.headers.get("x-request-id")!;
    const [decision] = await auditFor("acme", requestId);

    const assertion = (await receivedWith("eu-confidential", marker))!.headers[ASSERTION_HEADER]!;
    expect(decodeProtectedHeader(assertion)).toMatchObject({ alg: "EdDSA", typ: ASSERTION_TYPE });
    const jwks = createLocalJWKSet((await (await gatewayFetch("/.well-known/jwks.json")).json()) as { keys: [] });
    const { payload } = await jwtVerify(assertion, jwks, { issuer: "https://gateway.verity.local", audience: AUDIENCE, typ: ASSERTION_TYPE, algorithms: ["EdDSA"] });
    expect(payload).toMatchObject({
      sub: (decision!.principal as { id: string }).id,
      tenant: "acme",
      principal_kind: "user",
      request_id: requestId,
      decision: "allow",
      backend: "eu-confidential",
      policy_version: decision!.policyVersion,
      config_version: decision!.configVersion,
      classification: 3,
    });
    expect(payload.exp! - payload.iat!).toBeLessThanOrEqual(60);
    expect(typeof payload.jti).toBe("string");
  });

  it("is not sent to a backend that does not ask for it", async () => {
    const marker = `no-assertion-${crypto.randomUUID()}`;
    const response = await gatewayFetch("/v1/chat/completions", { method: "POST", body: chatBody(marker), headers: bearer(alice) });
    expect(response.status).toBe(200);
    await response.text();
    expect((await receivedWith("eu-public", marker))!.headers).not.toHaveProperty(ASSERTION_HEADER);
  });
});

describe("the self-hosted mock backend", () => {
  it("refuses a call without the assertion (even with the right API key)", async () => {
    const response = await direct({});
    expect(response.status).toBe(401);
    expect(await codeOf(response)).toBe("assertion_missing");
  });

  it("refuses an assertion signed by any other key, even under the gateway's kid", async () => {
    const { kid } = decodeProtectedHeader(await signByGateway(validClaims()));
    const rogue = await generateKeyPair("Ed25519");
    const forged = await new SignJWT(validClaims()).setProtectedHeader({ alg: "EdDSA", typ: ASSERTION_TYPE, kid: kid! }).sign(rogue.privateKey);
    expect(await codeOf(await direct({ [ASSERTION_HEADER]: forged }))).toBe("assertion_invalid");
    // The rogue key's JWK is not on offer either: the mock trusts the gateway's JWKS only.
    expect((await exportJWK(rogue.publicKey)).kty).toBe("OKP");
  });

  it("refuses a gateway-signed assertion for another audience, of another type, expired, or not a JWT", async () => {
    const now = Math.floor(Date.now() / 1000);
    for (const assertion of [
      await signByGateway(validClaims({ aud: "https://another-backend.verity.local" })),
      await signByGateway(validClaims({ iss: "https://someone-else.example" })),
      await signByGateway(validClaims(), "JWT"),
      await signByGateway(validClaims({ iat: now - 600, exp: now - 540 })),
      "not-a-jwt",
    ]) {
      expect(await codeOf(await direct({ [ASSERTION_HEADER]: assertion }))).toBe("assertion_invalid");
    }
  });

  it("accepts a fresh gateway-signed assertion for itself", async () => {
    const response = await direct({ [ASSERTION_HEADER]: await signByGateway(validClaims()) });
    expect(response.status).toBe(200);
    expect(await response.text()).toContain("eu-confidential");
  });
});

describe("a backend whose assertion audience is misconfigured", () => {
  beforeAll(async () => {
    await seedKv(env.CONFIG, (files) => {
      const backends = files.backends as Array<{ id: string; assertion?: { audience: string } }>;
      backends.find((b) => b.id === "eu-confidential")!.assertion = { audience: "https://wrong.verity.local" };
    });
  });

  it("refuses the gateway's request, which the caller sees as an upstream error", async () => {
    const response = await confidentialChat("hello");
    expect(response.status).toBe(502);
    expect(await codeOf(response)).toBe("upstream_error");
  });
});
