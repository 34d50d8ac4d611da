import { exportJWK, generateKeyPair, SignJWT, type JWK } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { GatewayError } from "../../../worker/errors.ts";
import { verifyAccessToken } from "../../../worker/identity/access-token.ts";
import { createJwksCache, type Fetcher } from "../../../worker/identity/jwks.ts";
import type { Issuer } from "../../../worker/workload/index.ts";

const ISSUER: Issuer = {
  id: "test-idp",
  kind: "oidc",
  issuer: "https://idp.test",
  jwksUri: "https://idp.test/jwks",
  audiences: ["https://gateway.test"],
  algorithms: ["ES256"],
  tokenType: "at+jwt",
  maxTokenAgeSeconds: 3600,
  tenantClaim: "tenant",
};

let signingKey: CryptoKey;
let rsaKey: CryptoKey;
let published: JWK[];
let jwksFetches = 0;

/** Stands in for the identity provider's JWKS endpoint only; verification is the real code path. */
const fetchJwks: Fetcher = async () => {
  jwksFetches++;
  return Response.json({ keys: published });
};

beforeAll(async () => {
  const es = await generateKeyPair("ES256", { extractable: true });
  const rs = await generateKeyPair("RS256", { extractable: true });
  signingKey = es.privateKey;
  rsaKey = rs.privateKey;
  published = [
    { ...(await exportJWK(es.publicKey)), kid: "es-1", alg: "ES256", use: "sig" },
    { ...(await exportJWK(rs.publicKey)), kid: "rs-1", alg: "RS256", use: "sig" },
  ];
});

function token(claims: Record<string, unknown> = {}, header: Record<string, unknown> = {}, key: CryptoKey = signingKey) {
  const now = Math.floor(Date.now() / 1000);
  const payload = { iss: ISSUER.issuer, aud: ISSUER.audiences[0], sub: "alice", iat: now, exp: now + 300, tenant: "acme", ...claims };
  return new SignJWT(payload)
    .setProtectedHeader({ alg: "ES256", typ: "at+jwt", kid: "es-1", ...header } as { alg: string })
    .sign(key);
}

function verifier(cooldownMs = 30_000) {
  const keyFor = createJwksCache({ refetchCooldownMs: cooldownMs, maxAgeMs: 600_000 });
  return (jwt: string) => verifyAccessToken(jwt, [ISSUER], (issuer) => keyFor(issuer, fetchJwks));
}

async function refusal(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(GatewayError);
  expect((error as GatewayError).code).toBe("token_invalid");
  return (error as Error).message;
}

describe("access token verification", () => {
  it("accepts a well-formed token from a trusted issuer", async () => {
    const { claims, issuer } = await verifier()(await token());
    expect(issuer.id).toBe("test-idp");
    expect(claims).toMatchObject({ sub: "alice", tenant: "acme" });
  });

  it("refuses an expired token", async () => {
    const now = Math.floor(Date.now() / 1000);
    expect(await refusal(verifier()(await token({ exp: now - 120, iat: now - 600 })))).toBe("the access token has expired");
  });

  it("tolerates 60 s of clock skew on exp, not more", async () => {
    const now = Math.floor(Date.now() / 1000);
    await expect(verifier()(await token({ exp: now - 30, iat: now - 300 }))).resolves.toBeDefined();
  });

  it("refuses a token issued in the future", async () => {
    const now = Math.floor(Date.now() / 1000);
    expect(await refusal(verifier()(await token({ iat: now + 300, exp: now + 600 })))).toMatch(/iat|future/);
  });

  it("refuses a token older than the issuer's maximum age", async () => {
    const now = Math.floor(Date.now() / 1000);
    expect(await refusal(verifier()(await token({ iat: now - 7200, exp: now + 600 })))).toBe("the access token is older than its issuer allows");
  });

  it("refuses another audience", async () => {
    const jwt = await new SignJWT({ tenant: "acme" })
      .setProtectedHeader({ alg: "ES256", typ: "at+jwt", kid: "es-1" })
      .setIssuer(ISSUER.issuer)
      .setAudience("https://another.test")
      .setSubject("alice")
      .setIssuedAt()
      .setExpirationTime("5m")
      .sign(signingKey);
    expect(await refusal(verifier()(jwt))).toBe('the access token\'s "aud" claim is not acceptable');
  });

  it("refuses an untrusted issuer before fetching any key", async () => {
    const before = jwksFetches;
    expect(await refusal(verifier()(await token({ iss: "https://evil.test" })))).toBe("the access token's issuer is not trusted");
    expect(jwksFetches).toBe(before);
  });

  it("refuses the wrong token type (an ID token is not an access token)", async () => {
    expect(await refusal(verifier()(await token({}, { typ: "JWT" })))).toMatch(/typ/);
  });

  it("refuses an algorithm outside the issuer's allowlist, even with a published key", async () => {
    expect(await refusal(verifier()(await token({}, { alg: "RS256", kid: "rs-1" }, rsaKey)))).toBe(
      "the access token's algorithm is not allowed for its issuer",
    );
  });

  it("refuses header parameters that bring their own key", async () => {
    for (const header of [{ jku: "https://evil.test/jwks" }, { jwk: published[0] }, { x5u: "https://evil.test/cert" }]) {
      expect(await refusal(verifier()(await token({}, header)))).toMatch(/must not carry/);
    }
  });

  it("refuses unsigned and malformed tokens", async () => {
    const [, payload] = (await token()).split(".");
    const none = `${btoa(JSON.stringify({ alg: "none", typ: "at+jwt" })).replace(/=+$/, "")}.${payload}.`;
    expect(await refusal(verifier()(none))).toBe("unsigned tokens are not accepted");
    expect(await refusal(verifier()("not-a-jwt"))).toBe("the access token is not a JWT");
  });

  it("refuses a tampered signature", async () => {
    const jwt = await token();
    const tampered = jwt.slice(0, -4) + (jwt.endsWith("AAAA") ? "BBBB" : "AAAA");
    expect(await refusal(verifier()(tampered))).toMatch(/signature|malformed/);
  });

  it("refetches the JWKS once for an unknown kid, then waits out the cool-down", async () => {
    const verify = verifier(60_000);
    await verify(await token());
    const before = jwksFetches;
    expect(await refusal(verify(await token({}, { kid: "rotated" })))).toBe("the access token was signed by an unknown key");
    expect(jwksFetches).toBe(before);
    const fresh = verifier(0);
    await fresh(await token());
    const base = jwksFetches;
    await refusal(fresh(await token({}, { kid: "rotated" })));
    expect(jwksFetches).toBe(base + 1);
  });
});
