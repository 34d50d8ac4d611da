import { base64url, exportJWK, generateKeyPair, SignJWT, type JWK } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { GatewayError } from "../../../worker/errors.ts";
import { principalFromClaims, verifyAccessToken, type VerifiedToken } from "../../../worker/identity/access-token.ts";
import { createKeySets, type Fetcher } from "../../../worker/identity/jwks.ts";
import type { Issuer, Registry } from "../../../worker/workload/index.ts";

/** Frozen time: 2026-01-15T12:00:00Z. */
const NOW = Date.UTC(2026, 0, 15, 12);
const NOW_S = NOW / 1000;

const ISSUER: Issuer = {
  id: "test-idp",
  kind: "oidc",
  issuer: "https://idp.test",
  jwksUri: "https://idp.test/jwks",
  audiences: ["https://gateway.test"],
  algorithms: ["ES256"],
  tokenType: "at+jwt",
  maxTokenAgeSeconds: 3600,
  tenants: ["acme", "globex"],
  tenantClaim: "tenant",
  groupsClaim: "groups",
  attributeClaims: { department: "dept" },
  authorizedParties: ["verity-cli"],
  binding: "optional",
};

/** A second issuer, trusted for globex only. */
const GLOBEX_ISSUER: Issuer = {
  ...ISSUER,
  id: "globex-idp",
  issuer: "https://globex-idp.test",
  jwksUri: "https://globex-idp.test/jwks",
  tenants: ["globex"],
  tenantClaim: undefined,
};

const ACCESS: Issuer = {
  id: "access",
  kind: "cloudflare-access",
  issuer: "https://acme.cloudflareaccess.com",
  audiences: ["32eafc7626e974616deaf0dc3ce63d7bcbed58a2731e84d06bc3cdf1b53c4228"],
  algorithms: ["RS256"],
  tenants: ["acme"],
  binding: "optional",
};

const TENANTS = new Map([
  ["acme", { id: "acme", name: "Acme", residency: "eu", jurisdiction: "eu" }],
  ["globex", { id: "globex", name: "Globex", residency: "us", jurisdiction: "us" }],
]);
const REGISTRY: Pick<Registry, "tenants"> = { tenants: TENANTS };

let esKey: CryptoKey;
let esPublic: JWK;
let rsKey: CryptoKey;
let accessKey: CryptoKey;
let attacker: CryptoKeyPair;
let published: Record<string, JWK[]>;
let fetched: string[] = [];

/** Stands in for the issuers' key endpoints only; verification is the real code path. */
const fetchKeys: Fetcher = async (url) => {
  fetched.push(url);
  const keys = published[url];
  return keys ? Response.json({ keys }) : new Response("not found", { status: 404 });
};

beforeAll(async () => {
  const es = await generateKeyPair("ES256", { extractable: true });
  const rs = await generateKeyPair("RS256", { extractable: true });
  const access = await generateKeyPair("RS256", { extractable: true });
  attacker = await generateKeyPair("ES256", { extractable: true });
  esKey = es.privateKey;
  rsKey = rs.privateKey;
  accessKey = access.privateKey;
  esPublic = { ...(await exportJWK(es.publicKey)), kid: "es-1", alg: "ES256", use: "sig" };
  const rsPublic = { ...(await exportJWK(rs.publicKey)), kid: "rs-1", alg: "RS256", use: "sig" };
  published = {
    "https://idp.test/jwks": [esPublic, rsPublic],
    "https://globex-idp.test/jwks": [{ ...esPublic, kid: "globex-1" }],
    // Cloudflare Access publishes its team keys at a fixed path of the team domain.
    "https://acme.cloudflareaccess.com/cdn-cgi/access/certs": [{ ...(await exportJWK(access.publicKey)), kid: "access-1", alg: "RS256", use: "sig" }],
  };
});

type Header = Record<string, unknown> & { alg?: string };

function sign(claims: Record<string, unknown>, header: Header = {}, key: CryptoKey | Uint8Array = esKey) {
  return new SignJWT(claims).setProtectedHeader({ alg: "ES256", typ: "at+jwt", kid: "es-1", ...header } as { alg: string }).sign(key);
}

function token(claims: Record<string, unknown> = {}, header: Header = {}, key?: CryptoKey | Uint8Array) {
  return sign({ iss: ISSUER.issuer, aud: ISSUER.audiences[0], sub: "alice", iat: NOW_S, exp: NOW_S + 300, tenant: "acme", ...claims }, header, key);
}

function verifier(cooldownMs = 30_000, issuers: readonly Issuer[] = [ISSUER, GLOBEX_ISSUER, ACCESS]) {
  const keySets = createKeySets({ refetchCooldownMs: cooldownMs, maxAgeMs: 600_000, now: () => NOW });
  return (jwt: string) => verifyAccessToken(jwt, issuers, (issuer) => keySets.issuerKeys(issuer, { fetch: fetchKeys }), () => NOW);
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

/** A compact JWS from raw parts, for headers and signatures no library would produce. */
function compact(header: Record<string, unknown>, payload: Record<string, unknown>, signature: string) {
  const part = (value: unknown) => base64url.encode(JSON.stringify(value));
  return `${part(header)}.${part(payload)}.${signature}`;
}

/** Signs with the issuer's real key, whatever the header says (jose would refuse to sign an unknown crit). */
async function signedRaw(header: Record<string, unknown>, claims: Record<string, unknown>) {
  const unsigned = compact(header, claims, "x").slice(0, -2);
  const signature = await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, esKey, new TextEncoder().encode(unsigned));
  return `${unsigned}.${base64url.encode(new Uint8Array(signature))}`;
}

function payload(claims: Record<string, unknown> = {}) {
  return { iss: ISSUER.issuer, aud: ISSUER.audiences[0], sub: "alice", iat: NOW_S, exp: NOW_S + 300, tenant: "acme", ...claims };
}

describe("access token verification: accepted", () => {
  it("accepts a well-formed token from a trusted issuer", async () => {
    const { claims, issuer } = await verifier()(await token());
    expect(issuer.id).toBe("test-idp");
    expect(claims).toMatchObject({ sub: "alice", tenant: "acme" });
  });

  it("compares typ case-insensitively, with the application/ prefix optional (RFC 8725 §3.11)", async () => {
    for (const typ of ["AT+JWT", "application/at+jwt", "Application/AT+JWT"]) {
      await expect(verifier()(await token({}, { typ }))).resolves.toBeDefined();
    }
  });

  it("tolerates 60 s of clock skew on exp, nbf and iat", async () => {
    await expect(verifier()(await token({ exp: NOW_S - 59, iat: NOW_S - 300 }))).resolves.toBeDefined();
    await expect(verifier()(await token({ nbf: NOW_S + 59 }))).resolves.toBeDefined();
    await expect(verifier()(await token({ iat: NOW_S + 59 }))).resolves.toBeDefined();
  });

  it("accepts several audiences when azp names an authorized party", async () => {
    await expect(verifier()(await token({ aud: [ISSUER.audiences[0], "https://other.test"], azp: "verity-cli" }))).resolves.toBeDefined();
  });

  it("accepts a Cloudflare Access token from the team's certs endpoint (typ JWT, RS256)", async () => {
    const jwt = await sign(
      { iss: ACCESS.issuer, aud: ACCESS.audiences, sub: "7335d417-61da-459d-899c-0a01c76a2f94", email: "alice@acme.test", type: "app", iat: NOW_S, nbf: NOW_S, exp: NOW_S + 60 },
      { alg: "RS256", typ: "JWT", kid: "access-1" },
      accessKey,
    );
    fetched = [];
    const verified = await verifier()(jwt);
    expect(verified.issuer.id).toBe("access");
    expect(fetched).toEqual(["https://acme.cloudflareaccess.com/cdn-cgi/access/certs"]);
  });
});

describe("access token verification: attacks, each refused", () => {
  it("alg: none, with or without a signature segment", async () => {
    const claims = payload();
    expect(await refusal(verifier()(compact({ alg: "none", typ: "at+jwt" }, claims, "")))).toBe("the access token is not a compact JWS");
    expect(await refusal(verifier()(compact({ alg: "none", typ: "at+jwt" }, claims, "c2ln")))).toBe("unsigned tokens are not accepted");
    expect(await refusal(verifier()(compact({ alg: "NONE", typ: "at+jwt" }, claims, "c2ln")))).toBe("unsigned tokens are not accepted");
  });

  it("HS256 signed with the issuer's public key (algorithm confusion), even if the issuer lists HS256", async () => {
    const secret = new TextEncoder().encode(JSON.stringify(esPublic));
    const jwt = await token({}, { alg: "HS256" }, secret);
    expect(await refusal(verifier()(jwt))).toBe("the access token's algorithm is not allowed");
    const careless: Issuer = { ...ISSUER, algorithms: ["ES256", "HS256"] };
    expect(await refusal(verifier(30_000, [careless])(jwt))).toBe("the access token's algorithm is not allowed");
  });

  it("an embedded jwk naming the attacker's own key", async () => {
    const jwk = { ...(await exportJWK(attacker.publicKey)), kid: "es-1" };
    expect(await refusal(verifier()(await token({}, { jwk }, attacker.privateKey))) ).toBe('the access token\'s header must not carry "jwk"');
  });

  it("jku, x5u and x5c pointing at a foreign host are refused and never fetched", async () => {
    fetched = [];
    for (const header of [{ jku: "https://evil.test/jwks" }, { x5u: "https://evil.test/cert.pem" }, { x5c: ["MIIB"] }]) {
      expect(await refusal(verifier()(await token({}, header, attacker.privateKey)))).toMatch(/must not carry "(jku|x5u|x5c)"/);
    }
    expect(fetched).toEqual([]);
  });

  it("kid injection: path traversal, SQL and URLs only fail to match a trusted key", async () => {
    for (const kid of ["../../etc/passwd", "' OR '1'='1", "https://evil.test/key.json", "es-1\u0000"]) {
      fetched = [];
      expect(await refusal(verifier(0)(await token({}, { kid }, attacker.privateKey)))).toBe("the access token was signed by an unknown key");
      expect(fetched.every((url) => url === ISSUER.jwksUri)).toBe(true);
    }
  });

  it("a token signed by an untrusted key under a trusted kid fails its signature", async () => {
    expect(await refusal(verifier()(await token({}, {}, attacker.privateKey)))).toBe("the access token's signature is invalid");
  });

  it("unknown crit (and b64), which the gateway does not understand", async () => {
    const header = { alg: "ES256", typ: "at+jwt", kid: "es-1" };
    await expect(verifier()(await signedRaw(header, payload()))).resolves.toBeDefined();
    for (const extension of [{ crit: ["x-verity"], "x-verity": true }, { crit: ["exp"], exp: NOW_S + 300 }, { crit: ["b64"], b64: false }, { b64: true }]) {
      expect(await refusal(verifier()(await signedRaw({ ...header, ...extension }, payload())))).toMatch(/extension the gateway does not support/);
    }
  });

  it("expired", async () => {
    expect(await refusal(verifier()(await token({ exp: NOW_S - 61, iat: NOW_S - 600 })))).toBe("the access token has expired");
  });

  it("not yet valid (nbf beyond the skew)", async () => {
    expect(await refusal(verifier()(await token({ nbf: NOW_S + 120 })))).toBe('the access token\'s "nbf" claim is not acceptable');
  });

  it("issued in the future", async () => {
    expect(await refusal(verifier()(await token({ iat: NOW_S + 120, exp: NOW_S + 600 })))).toMatch(/"iat" claim|issued in the future/);
    const noMaxAge: Issuer = { ...ISSUER, maxTokenAgeSeconds: undefined };
    expect(await refusal(verifier(30_000, [noMaxAge])(await token({ iat: NOW_S + 120, exp: NOW_S + 600 })))).toBe("the access token was issued in the future");
  });

  it("older than the issuer's maximum token age", async () => {
    expect(await refusal(verifier()(await token({ iat: NOW_S - 7200, exp: NOW_S + 600 })))).toBe("the access token is older than its issuer allows");
  });

  it("wrong aud", async () => {
    expect(await refusal(verifier()(await token({ aud: "https://another.test" })))).toBe('the access token\'s "aud" claim is not acceptable');
    expect(await refusal(verifier()(await token({ aud: undefined })))).toMatch(/"aud" claim/);
  });

  it("wrong iss: an untrusted issuer is refused before any key is fetched", async () => {
    fetched = [];
    expect(await refusal(verifier()(await token({ iss: "https://evil.test" })))).toBe("the access token's issuer is not trusted");
    expect(await refusal(verifier()(await token({ iss: "https://idp.test/" })))).toBe("the access token's issuer is not trusted");
    expect(fetched).toEqual([]);
  });

  it("an ID token used as an access token (typ JWT or no typ where at+jwt is required)", async () => {
    expect(await refusal(verifier()(await token({ nonce: "n-0S6_WzA2Mj" }, { typ: "JWT" })))).toBe('the access token\'s "typ" claim is not acceptable');
    expect(await refusal(verifier()(await token({}, { typ: undefined })))).toMatch(/"typ"/);
  });

  it("a Cloudflare Access token must carry typ JWT", async () => {
    const jwt = await sign({ iss: ACCESS.issuer, aud: ACCESS.audiences, sub: "u", iat: NOW_S, exp: NOW_S + 60 }, { alg: "RS256", typ: "at+jwt", kid: "access-1" }, accessKey);
    expect(await refusal(verifier()(jwt))).toMatch(/"typ"/);
  });

  it("several audiences without azp, or with an azp that is not an authorized party", async () => {
    const aud = [ISSUER.audiences[0], "https://other.test"];
    expect(await refusal(verifier()(await token({ aud })))).toBe("the access token has several audiences and no authorized party");
    expect(await refusal(verifier()(await token({ aud, azp: "mallory-app" })))).toBe('the access token\'s "azp" claim is not acceptable');
  });

  it("an algorithm outside the issuer's allowlist, even with a published key", async () => {
    expect(await refusal(verifier()(await token({}, { alg: "RS256", kid: "rs-1" }, rsKey)))).toBe("the access token's algorithm is not allowed");
  });

  it("missing exp or iat", async () => {
    expect(await refusal(verifier()(await token({ exp: undefined })))).toMatch(/"exp" claim/);
    const noMaxAge: Issuer = { ...ISSUER, maxTokenAgeSeconds: undefined };
    expect(await refusal(verifier(30_000, [noMaxAge])(await token({ iat: undefined })))).toMatch(/"iat" claim/);
  });

  it("tampered signatures, malformed and oversized tokens", async () => {
    const jwt = await token();
    const [head, body] = jwt.split(".");
    const otherSignature = (await token({ sub: "bob" })).split(".")[2];
    expect(await refusal(verifier()(`${head}.${body}.${otherSignature}`))).toBe("the access token's signature is invalid");
    expect(await refusal(verifier()("not-a-jwt"))).toBe("the access token is not a compact JWS");
    expect(await refusal(verifier()(`${jwt}.extra`))).toBe("the access token is not a compact JWS");
    expect(await refusal(verifier()(` ${jwt}`))).toBe("the access token is not a compact JWS");
    expect(await refusal(verifier()(await token({ padding: "x".repeat(20_000) })))).toBe("the access token is not a compact JWS");
  });

  it("refetches the key set once for an unknown kid, then waits out the cool-down", async () => {
    const verify = verifier(60_000);
    await verify(await token());
    fetched = [];
    expect(await refusal(verify(await token({}, { kid: "rotated" })))).toBe("the access token was signed by an unknown key");
    expect(fetched).toEqual([]);
    const fresh = verifier(0);
    await fresh(await token());
    fetched = [];
    await refusal(fresh(await token({}, { kid: "rotated" })));
    expect(fetched).toEqual([ISSUER.jwksUri]);
  });
});

describe("principalFromClaims", () => {
  const verified = (claims: Record<string, unknown>, issuer: Issuer = ISSUER): VerifiedToken => ({
    issuer,
    claims: { iss: issuer.issuer, aud: issuer.audiences[0], iat: NOW_S, exp: NOW_S + 300, ...claims },
  });

  it("maps a user token's claims: tenant, groups, attributes, session, acr/amr, auth_time, jti", () => {
    const facts = principalFromClaims(
      verified({
        sub: "bob",
        tenant: "acme",
        client_id: "verity-cli",
        groups: ["members", "auditors", 7],
        dept: "finance",
        sid: "s-1",
        acr: "urn:verity:acr:mfa",
        amr: ["pwd", "otp"],
        auth_time: NOW_S - 60,
        jti: "t-1",
      }),
      REGISTRY,
    );
    expect(facts).toEqual({
      kind: "user",
      id: "bob",
      tenant: "acme",
      clientId: "verity-cli",
      groups: ["members", "auditors"],
      attributes: { department: "finance" },
      sessionId: "s-1",
      acr: "urn:verity:acr:mfa",
      amr: ["pwd", "otp"],
      authTime: NOW_S - 60,
      tokenId: "t-1",
      issuedAt: NOW_S,
      expiresAt: NOW_S + 300,
    });
  });

  it("treats a client-credentials token (sub = client_id) as a workload", () => {
    expect(principalFromClaims(verified({ sub: "acme-batch", client_id: "acme-batch", tenant: "acme" }), REGISTRY)).toMatchObject({
      kind: "workload",
      id: "acme-batch",
      clientId: "acme-batch",
      acr: "",
      amr: [],
      groups: [],
    });
  });

  it("uses the issuer's subject claim", () => {
    expect(principalFromClaims(verified({ sub: "00u1", email: "alice@acme.test", tenant: "acme" }, { ...ISSUER, subjectClaim: "email" }), REGISTRY).id).toBe(
      "alice@acme.test",
    );
  });

  it("refuses a token that names no subject", () => {
    expect(() => principalFromClaims(verified({ tenant: "acme" }), REGISTRY)).toThrow(/names no subject/);
    expect(() => principalFromClaims(verified({ sub: "", tenant: "acme" }), REGISTRY)).toThrow(/names no subject/);
  });

  it("turns nested act into the current actor and the delegation chain (RFC 8693 §4.1)", () => {
    const facts = principalFromClaims(
      verified({ sub: "alice", tenant: "acme", act: { sub: "agent-7", client_id: "agent-app", act: { sub: "orchestrator" } } }),
      REGISTRY,
    );
    expect(facts.kind).toBe("user");
    expect(facts.id).toBe("alice");
    expect(facts.actor).toEqual({ sub: "agent-7", clientId: "agent-app" });
    expect(facts.delegation).toEqual([{ sub: "agent-7", clientId: "agent-app" }, { sub: "orchestrator" }]);
  });

  it("refuses a malformed or endless act chain", () => {
    for (const act of ["agent-7", { client_id: "x" }, { sub: "a", act: null }, [{ sub: "a" }]]) {
      expect(() => principalFromClaims(verified({ sub: "alice", tenant: "acme", act }), REGISTRY)).toThrow(GatewayError);
    }
    let deep: Record<string, unknown> = { sub: "a0" };
    for (let i = 1; i <= 10; i++) deep = { sub: `a${i}`, act: deep };
    expect(() => principalFromClaims(verified({ sub: "alice", tenant: "acme", act: deep }), REGISTRY)).toThrow(/too long/);
  });

  it("reports the confirmation (cnf) a bound token carries", () => {
    const facts = principalFromClaims(verified({ sub: "alice", tenant: "acme", cnf: { jkt: "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I" } }), REGISTRY);
    expect(facts.confirmation).toEqual({ jkt: "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I" });
    expect(principalFromClaims(verified({ sub: "w", tenant: "acme", cnf: { "x5t#S256": "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2" } }), REGISTRY).confirmation).toEqual({
      x5tS256: "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2",
    });
  });

  it("refuses a confirmation method it cannot check, rather than treating the token as bearer", () => {
    expect(() => principalFromClaims(verified({ sub: "alice", tenant: "acme", cnf: { jwk: esPublic } }), REGISTRY)).toThrow(/method the gateway does not support/);
    for (const cnf of [{}, "x", { jkt: 5 }, { jkt: "" }]) {
      expect(() => principalFromClaims(verified({ sub: "alice", tenant: "acme", cnf }), REGISTRY)).toThrow(GatewayError);
    }
  });

  it("a token from another tenant's issuer: an issuer for globex cannot mint acme principals", async () => {
    const jwt = await sign({ iss: GLOBEX_ISSUER.issuer, aud: GLOBEX_ISSUER.audiences[0], sub: "eve", tenant: "acme", iat: NOW_S, exp: NOW_S + 300 }, { kid: "globex-1" });
    const proven = await verifier()(jwt);
    expect(proven.issuer.id).toBe("globex-idp");
    // Without a tenant claim the issuer speaks for its single tenant, whatever the token says.
    expect(principalFromClaims(proven, REGISTRY).tenant).toBe("globex");
    const claiming: Issuer = { ...GLOBEX_ISSUER, tenantClaim: "tenant" };
    expect(() => principalFromClaims({ issuer: claiming, claims: proven.claims }, REGISTRY)).toThrow(/no tenant its issuer may speak for/);
  });

  it("refuses a tenant the issuer may serve but the gateway does not, and a missing tenant claim", () => {
    const wide: Issuer = { ...ISSUER, tenants: ["acme", "initech"] };
    expect(() => principalFromClaims(verified({ sub: "eve", tenant: "initech" }, wide), REGISTRY)).toThrow(/no tenant/);
    expect(() => principalFromClaims(verified({ sub: "eve" }), REGISTRY)).toThrow(/no tenant/);
    expect(() => principalFromClaims(verified({ sub: "eve", tenant: ["acme"] }), REGISTRY)).toThrow(/no tenant/);
  });

  it("maps a Cloudflare Access service token (empty sub, common_name) to a workload", async () => {
    const jwt = await sign(
      { iss: ACCESS.issuer, aud: ACCESS.audiences, sub: "", common_name: "88bf3b6d86161464f6509f7219099e57.access", type: "app", iat: NOW_S, exp: NOW_S + 60 },
      { alg: "RS256", typ: "JWT", kid: "access-1" },
      accessKey,
    );
    expect(principalFromClaims(await verifier()(jwt), REGISTRY)).toMatchObject({
      kind: "workload",
      id: "88bf3b6d86161464f6509f7219099e57.access",
      clientId: "88bf3b6d86161464f6509f7219099e57.access",
      tenant: "acme",
    });
  });

  it("maps a Cloudflare Access user token to a user", async () => {
    const jwt = await sign(
      { iss: ACCESS.issuer, aud: ACCESS.audiences, sub: "7335d417", email: "alice@acme.test", type: "app", iat: NOW_S, exp: NOW_S + 60 },
      { alg: "RS256", typ: "JWT", kid: "access-1" },
      accessKey,
    );
    expect(principalFromClaims(await verifier()(jwt), REGISTRY)).toMatchObject({ kind: "user", id: "7335d417", tenant: "acme" });
  });
});
