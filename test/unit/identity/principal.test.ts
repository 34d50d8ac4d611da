import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { GatewayError } from "../../../worker/errors.ts";
import { createIdentity, type Fetcher, type IdentityIo, type IdentityRequest } from "../../../worker/identity/index.ts";
import { parseRegistry, type Registry } from "../../../worker/workload/index.ts";

const ISSUER = "https://idp.test";
let key: CryptoKey;
let jwksFetches = 0;
let fetchJwks: Fetcher;

function registry(): Registry {
  return parseRegistry({
    tenants: { acme: { name: "Acme", residency: "eu", jurisdiction: "eu" } },
    issuers: [
      {
        id: "test",
        kind: "oidc",
        issuer: ISSUER,
        jwksUri: `${ISSUER}/jwks`,
        audiences: ["https://gateway.test"],
        algorithms: ["ES256"],
        tokenType: "at+jwt",
        maxTokenAgeSeconds: 3600,
        tenants: ["acme"],
        tenantClaim: "tenant",
      },
    ],
    backends: [
      {
        id: "b",
        wireFormats: ["openai"],
        baseUrl: "https://models.test",
        region: "eu",
        jurisdiction: "eu",
        tier: "public",
        models: ["m"],
        secret: "UPSTREAM_KEY_B",
        timeoutMs: 1000,
        preference: 1,
      },
    ],
    tools: [],
  });
}

beforeAll(async () => {
  const pair = await generateKeyPair("ES256", { extractable: true });
  key = pair.privateKey;
  const jwk = { ...(await exportJWK(pair.publicKey)), kid: "k1", alg: "ES256" };
  fetchJwks = async () => {
    jwksFetches++;
    return Response.json({ keys: [jwk] });
  };
});

function token(claims: Record<string, unknown>, nowSeconds: number) {
  return new SignJWT({ iss: ISSUER, aud: "https://gateway.test", iat: nowSeconds, exp: nowSeconds + 300, tenant: "acme", ...claims })
    .setProtectedHeader({ alg: "ES256", typ: "at+jwt", kid: "k1" })
    .sign(key);
}

function request(jwt: string): IdentityRequest {
  return { headers: new Headers({ authorization: `Bearer ${jwt}` }), method: "POST", url: "https://gateway.test/v1/chat/completions", cf: {} };
}

function io(): IdentityIo {
  return { fetch: fetchJwks, replay: env.REPLAY_CACHE };
}

describe("principal from a verified token", () => {
  it("makes the subject the principal and an agent only the actor", async () => {
    const now = Date.now();
    const authenticate = createIdentity({ now: () => now });
    const jwt = await token({ sub: "alice", client_id: "agent-app", act: { sub: "agent-7", client_id: "agent-app" }, acr: "urn:verity:acr:mfa", amr: ["pwd", "otp"] }, now / 1000);
    const principal = await authenticate(request(jwt), registry(), io());
    expect(principal).toMatchObject({ kind: "user", id: "alice", tenant: "acme", actor: { sub: "agent-7" }, authn: { mfa: true } });
  });

  it("treats a client-credentials token (sub = client_id) as a workload", async () => {
    const now = Date.now();
    const jwt = await token({ sub: "acme-batch", client_id: "acme-batch" }, now / 1000);
    expect(await createIdentity({ now: () => now })(request(jwt), registry(), io())).toMatchObject({ kind: "workload", id: "acme-batch" });
  });

  it("refuses a token whose tenant this gateway does not serve", async () => {
    const now = Date.now();
    const jwt = await token({ sub: "eve", tenant: "initech" }, now / 1000);
    const error = await createIdentity({ now: () => now })(request(jwt), registry(), io()).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "token_invalid" });
  });
});

describe("verified-token cache", () => {
  it("serves a token again without re-verifying, but still ends it at exp (+60 s skew)", async () => {
    let clock = Date.now();
    const authenticate = createIdentity({ now: () => clock });
    const config = registry();
    const jwt = await token({ sub: "alice" }, clock / 1000);
    const first = await authenticate(request(jwt), config, io());
    const fetches = jwksFetches;
    expect(await authenticate(request(jwt), config, io())).toBe(first);
    expect(jwksFetches).toBe(fetches);

    clock += (300 + 59) * 1000;
    expect(await authenticate(request(jwt), config, io())).toBe(first);
    clock += 2000;
    const error = await authenticate(request(jwt), config, io()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GatewayError);
    expect((error as GatewayError).message).toBe("the access token has expired");
  });

  it("starts over with a new configuration", async () => {
    const now = Date.now();
    const authenticate = createIdentity({ now: () => now });
    const jwt = await token({ sub: "alice" }, now / 1000);
    const first = await authenticate(request(jwt), registry(), io());
    expect(await authenticate(request(jwt), registry(), io())).not.toBe(first);
  });
});
