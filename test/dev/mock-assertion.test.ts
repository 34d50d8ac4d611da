/**
 * The self-hosted mock backend verifies the gateway-signed assertion as a real backend would: the
 * gateway's JWKS (fetched), audience, issuer, type, algorithm and age; without it or with a bad one
 * it refuses with its own code. Ports are 0 (the mock and a stand-in JWKS server).
 */
import { createServer, type Server } from "node:http";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startMockBackend, type RunningMockBackend } from "../../dev/mock-backend.ts";

const ISSUER = "https://gateway.verity.local";
const AUDIENCE = "https://self-hosted.verity.local";
let gatewayKey: CryptoKeyPair;
let jwksServer: Server;
let backend: RunningMockBackend;

beforeAll(async () => {
  gatewayKey = await generateKeyPair("Ed25519", { extractable: true });
  const jwks = { keys: [{ ...(await exportJWK(gatewayKey.publicKey)), kid: "gw-1", alg: "EdDSA", use: "sig" }] };
  jwksServer = createServer((_request, response) => response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(jwks)));
  await new Promise<void>((resolve) => jwksServer.listen(0, "127.0.0.1", resolve));
  const { port } = jwksServer.address() as { port: number };
  backend = await startMockBackend({
    id: "self-hosted",
    port: 0,
    region: "eu",
    tier: "self-hosted",
    apiKey: "k",
    secret: "S",
    assertion: { audience: AUDIENCE, issuer: ISSUER, jwksUri: `http://127.0.0.1:${port}/jwks` },
  });
});

afterAll(async () => {
  await backend.close();
  await new Promise((resolve) => jwksServer.close(resolve));
});

function sign(claims: Record<string, unknown> = {}, key: CryptoKey = gatewayKey.privateKey, typ = "verity-assertion+jwt"): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ iss: ISSUER, aud: AUDIENCE, iat: now, exp: now + 60, sub: "alice", tenant: "acme", request_id: "r-1", decision: "allow", ...claims })
    .setProtectedHeader({ alg: "EdDSA", typ, kid: "gw-1" })
    .sign(key);
}

async function call(assertion?: string): Promise<{ status: number; code?: string }> {
  const response = await fetch(`${backend.url}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: "Bearer k", "content-type": "application/json", ...(assertion ? { "x-verity-assertion": assertion } : {}) },
    body: JSON.stringify({ model: "m", messages: [{ role: "user", content: "hi" }] }),
  });
  const body = (await response.json()) as { error?: { code?: string } };
  return { status: response.status, ...(body.error?.code ? { code: body.error.code } : {}) };
}

describe("the gateway-signed assertion at a self-hosted backend", () => {
  it("is required", async () => {
    expect(await call()).toEqual({ status: 401, code: "assertion_missing" });
  });

  it("is accepted when the gateway's key signed it for this backend", async () => {
    expect((await call(await sign())).status).toBe(200);
  });

  it("is refused for another audience or issuer, another type, another key, or when stale", async () => {
    const rogue = await generateKeyPair("Ed25519");
    const now = Math.floor(Date.now() / 1000);
    for (const assertion of [
      await sign({ aud: "https://other.verity.local" }),
      await sign({ iss: "https://evil.example" }),
      await sign({}, gatewayKey.privateKey, "JWT"),
      await sign({}, rogue.privateKey),
      await sign({ iat: now - 300, exp: now - 240 }),
    ]) {
      expect(await call(assertion)).toEqual({ status: 401, code: "assertion_invalid" });
    }
  });

  it("trusts more keys only through its test-only admin route, public keys only", async () => {
    const extra = await generateKeyPair("Ed25519", { extractable: true });
    const jwk = { ...(await exportJWK(extra.publicKey)), kid: "gw-test", alg: "EdDSA" };
    const now = Math.floor(Date.now() / 1000);
    const token = await new SignJWT({ sub: "alice", tenant: "acme", request_id: "r", decision: "allow" })
      .setProtectedHeader({ alg: "EdDSA", typ: "verity-assertion+jwt", kid: "gw-test" })
      .setIssuer(ISSUER).setAudience(AUDIENCE).setIssuedAt(now).setExpirationTime(now + 60)
      .sign(extra.privateKey);
    expect((await call(token)).code).toBe("assertion_invalid");
    const privateRefused = await fetch(`${backend.url}/__mock/assertion-keys`, { method: "POST", body: JSON.stringify({ keys: [await exportJWK(extra.privateKey)] }) });
    expect(privateRefused.status).toBe(400);
    const registered = await fetch(`${backend.url}/__mock/assertion-keys`, { method: "POST", body: JSON.stringify({ keys: [jwk] }) });
    expect(registered.status).toBe(200);
    expect((await call(token)).status).toBe(200);
  });
});
