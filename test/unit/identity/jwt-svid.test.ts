import { base64url, exportJWK, generateKeyPair, SignJWT, type JWK } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { GatewayError } from "../../../worker/errors.ts";
import { createKeySets, type Fetcher } from "../../../worker/identity/jwks.ts";
import { jwtSvidKeys, looksLikeJwtSvid, trustDomainKeys, verifyJwtSvid } from "../../../worker/identity/jwt-svid.ts";
import type { Issuer, TrustDomain } from "../../../worker/workload/registry.ts";

const NOW = Date.UTC(2026, 0, 15, 12);
const NOW_S = NOW / 1000;
const AUDIENCE = "https://gateway.test";

const ACME: TrustDomain = {
  id: "acme-spiffe",
  trustDomain: "acme.test",
  tenant: "acme",
  bundleUri: "https://spiffe.acme.test/bundle",
  audiences: [AUDIENCE],
  algorithms: ["ES256", "EdDSA", "HS256"],
  maxTokenAgeSeconds: 3600,
};
const GLOBEX: TrustDomain = { ...ACME, id: "globex-spiffe", trustDomain: "globex.test", tenant: "globex", bundleUri: "https://spiffe.globex.test/bundle" };

const ISSUERS: Issuer[] = [
  { id: "idp", kind: "oidc", issuer: "https://idp.test", audiences: [AUDIENCE], algorithms: ["ES256"], tenants: ["acme"], binding: "optional" },
];

let acmeKey: CryptoKey;
let globexKey: CryptoKey;
let caKey: CryptoKey;
let acmeJwk: JWK;
let bundles: Record<string, unknown>;
let fetched: string[] = [];

const fetchBundle: Fetcher = async (url) => {
  fetched.push(url);
  return url in bundles ? Response.json(bundles[url]) : new Response("not found", { status: 404 });
};

beforeAll(async () => {
  const acme = await generateKeyPair("ES256", { extractable: true });
  const globex = await generateKeyPair("ES256", { extractable: true });
  const ca = await generateKeyPair("ES256", { extractable: true });
  acmeKey = acme.privateKey;
  globexKey = globex.privateKey;
  caKey = ca.privateKey;
  acmeJwk = { ...(await exportJWK(acme.publicKey)), kid: "acme-1", use: "jwt-svid" };
  bundles = {
    [ACME.bundleUri]: {
      spiffe_sequence: 1,
      spiffe_refresh_hint: 300,
      // The X.509 CA's key, published for X.509-SVIDs only, under a kid an attacker might reuse.
      keys: [acmeJwk, { ...(await exportJWK(ca.publicKey)), kid: "ca-1", use: "x509-svid", x5c: ["MIIB"] }],
    },
    [GLOBEX.bundleUri]: { keys: [{ ...(await exportJWK(globex.publicKey)), kid: "globex-1", use: "jwt-svid" }] },
  };
});

type Header = Record<string, unknown> & { alg?: string };

function svid(claims: Record<string, unknown> = {}, header: Header = {}, key: CryptoKey | Uint8Array = acmeKey) {
  return new SignJWT({ sub: "spiffe://acme.test/workload/batch", aud: [AUDIENCE], iat: NOW_S, exp: NOW_S + 300, ...claims })
    .setProtectedHeader({ alg: "ES256", kid: "acme-1", typ: "JWT", ...header } as { alg: string })
    .sign(key);
}

function verifier(trustDomains: readonly TrustDomain[] = [ACME, GLOBEX]) {
  const keyFor = trustDomainKeys(createKeySets({ refetchCooldownMs: 30_000, maxAgeMs: 600_000, now: () => NOW }), { fetch: fetchBundle });
  return (token: string) => verifyJwtSvid(token, trustDomains, keyFor, () => NOW);
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

describe("JWT-SVID verification", () => {
  it("accepts a JWT-SVID from a configured trust domain and returns the workload's SPIFFE ID", async () => {
    fetched = [];
    expect(await verifier()(await svid({ jti: "j-1" }))).toEqual({
      spiffeId: "spiffe://acme.test/workload/batch",
      trustDomain: ACME,
      expiresAt: NOW_S + 300,
      issuedAt: NOW_S,
      tokenId: "j-1",
    });
    expect(fetched).toEqual([ACME.bundleUri]);
  });

  it("accepts typ JOSE, no typ, a string aud and no iat (JWT-SVID §2.3, §3)", async () => {
    await expect(verifier()(await svid({}, { typ: "JOSE" }))).resolves.toBeDefined();
    await expect(verifier()(await svid({}, { typ: undefined }))).resolves.toBeDefined();
    const noAge: TrustDomain = { ...ACME, maxTokenAgeSeconds: undefined };
    await expect(verifier([noAge])(await svid({ aud: AUDIENCE, iat: undefined }))).resolves.toMatchObject({ spiffeId: "spiffe://acme.test/workload/batch" });
  });

  it("refuses another typ (an access token is not a JWT-SVID)", async () => {
    expect(await refusal(verifier()(await svid({}, { typ: "at+jwt" })))).toBe("the JWT-SVID's type (typ) is not acceptable");
  });

  it("refuses any header parameter the standard does not list (JWT-SVID §2)", async () => {
    expect(await refusal(verifier()(await svid({}, { cty: "JWT" })))).toBe('the JWT-SVID\'s header must not carry "cty"');
    expect(await refusal(verifier()(await svid({}, { jku: "https://evil.test/keys" })))).toBe('the JWT-SVID\'s header must not carry "jku"');
    expect(await refusal(verifier()(await svid({}, { jwk: acmeJwk })))).toBe('the JWT-SVID\'s header must not carry "jwk"');
  });

  it("accepts the compact serialization only", async () => {
    const [header, payload, signature] = (await svid()).split(".");
    const json = JSON.stringify({ protected: header, payload, signature });
    expect(await refusal(verifier()(json))).toBe("the JWT-SVID is not a compact JWS");
  });

  it("refuses a subject that is not a workload SPIFFE ID", async () => {
    for (const sub of ["acme-batch", "spiffe://acme.test", "spiffe://acme.test/", "spiffe://ACME.test/w", "spiffe://acme.test/../w", "https://acme.test/w", undefined]) {
      expect(await refusal(verifier()(await svid({ sub })))).toBe("the JWT-SVID's subject is not a workload SPIFFE ID");
    }
  });

  it("refuses a trust domain that is not configured, without fetching anything", async () => {
    fetched = [];
    expect(await refusal(verifier()(await svid({ sub: "spiffe://initech.test/workload/x" })))).toBe("the JWT-SVID's trust domain is not trusted");
    expect(fetched).toEqual([]);
  });

  it("never merges bundles: globex's key cannot vouch for an acme workload", async () => {
    fetched = [];
    expect(await refusal(verifier()(await svid({}, { kid: "globex-1" }, globexKey)))).toBe("the JWT-SVID was signed by an unknown key");
    expect(fetched.every((url) => url === ACME.bundleUri)).toBe(true);
    // The same key is fine for globex's own workloads.
    await expect(verifier()(await svid({ sub: "spiffe://globex.test/workload/etl" }, { kid: "globex-1" }, globexKey))).resolves.toMatchObject({
      trustDomain: GLOBEX,
    });
  });

  it("never verifies with the bundle's x509-svid CA keys", async () => {
    expect(await refusal(verifier()(await svid({}, { kid: "ca-1" }, caKey)))).toBe("the JWT-SVID was signed by an unknown key");
  });

  it("requires aud, and one of the trust domain's audiences (JWT-SVID §3.2)", async () => {
    expect(await refusal(verifier()(await svid({ aud: undefined })))).toMatch(/"aud" claim/);
    expect(await refusal(verifier()(await svid({ aud: ["https://other.test"] })))).toBe('the JWT-SVID\'s "aud" claim is not acceptable');
  });

  it("requires exp (JWT-SVID §3.3), and refuses expired, premature and too old SVIDs", async () => {
    expect(await refusal(verifier()(await svid({ exp: undefined })))).toMatch(/"exp" claim/);
    expect(await refusal(verifier()(await svid({ exp: NOW_S - 61, iat: NOW_S - 400 })))).toBe("the JWT-SVID has expired");
    expect(await refusal(verifier()(await svid({ nbf: NOW_S + 120 })))).toBe('the JWT-SVID\'s "nbf" claim is not acceptable');
    expect(await refusal(verifier()(await svid({ iat: NOW_S - 7200, exp: NOW_S + 60 })))).toBe("the JWT-SVID is older than its issuer allows");
    const noAge: TrustDomain = { ...ACME, maxTokenAgeSeconds: undefined };
    expect(await refusal(verifier([noAge])(await svid({ iat: NOW_S + 120, exp: NOW_S + 600 })))).toBe("the JWT-SVID was issued in the future");
  });

  it("refuses alg none, HMAC and algorithms outside JWT-SVID §2.1, whatever the trust domain lists", async () => {
    const none = `${base64url.encode(JSON.stringify({ alg: "none" }))}.${(await svid()).split(".")[1]}.c2ln`;
    expect(await refusal(verifier()(none))).toBe("unsigned tokens are not accepted");
    expect(await refusal(verifier()(await svid({}, { alg: "HS256" }, new TextEncoder().encode(JSON.stringify(acmeJwk)))))).toBe(
      "the JWT-SVID's algorithm is not allowed",
    );
    const ed = await generateKeyPair("Ed25519");
    expect(await refusal(verifier()(await svid({}, { alg: "EdDSA" }, ed.privateKey)))).toBe("the JWT-SVID's algorithm is not allowed");
  });

  it("refuses a tampered signature", async () => {
    const [header, payload] = (await svid()).split(".");
    const signature = (await svid({ sub: "spiffe://acme.test/workload/other" })).split(".")[2];
    expect(await refusal(verifier()(`${header}.${payload}.${signature}`))).toBe("the JWT-SVID's signature is invalid");
  });
});

describe("JWT-SVID recognition and bundle keys", () => {
  it("recognizes a JWT-SVID by its spiffe:// subject and an iss no configured issuer has", async () => {
    expect(looksLikeJwtSvid(await svid(), ISSUERS)).toBe(true);
    expect(looksLikeJwtSvid(await svid({ iss: "https://spire.acme.test" }), ISSUERS)).toBe(true);
    expect(looksLikeJwtSvid(await svid({ iss: "https://idp.test" }), ISSUERS)).toBe(false);
    expect(looksLikeJwtSvid(await svid({ sub: "alice" }), ISSUERS)).toBe(false);
    expect(looksLikeJwtSvid("not-a-jwt", ISSUERS)).toBe(false);
  });

  it("uses only jwt-svid entries, as signature keys", () => {
    expect(jwtSvidKeys({ kty: "EC", kid: "a", use: "jwt-svid" })).toEqual({ kty: "EC", kid: "a" });
    expect(jwtSvidKeys({ kty: "EC", use: "x509-svid", x5c: ["MIIB"] })).toBeUndefined();
    expect(jwtSvidKeys({ kty: "EC", kid: "b", use: "sig" })).toBeUndefined();
    expect(jwtSvidKeys({ kty: "EC", kid: "c" })).toBeUndefined();
  });
});
