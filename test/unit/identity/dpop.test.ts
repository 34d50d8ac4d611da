/** RFC 9449 DPoP proofs: every §4.3 rule accepted when kept and refused, with its code, when broken. */
import { base64url, calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK, SignJWT } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { errorResponse, GatewayError } from "../../../worker/errors.ts";
import {
  accessTokenHash,
  createDpopKeyCache,
  DEFAULT_IAT_WINDOW,
  dpopProof,
  MAX_PROOF_CHARS,
  normalizeHtu,
  verifyDpopProof,
  type DpopVerifyOptions,
} from "../../../worker/identity/dpop.ts";

const NOW_MS = Date.UTC(2026, 10, 26, 8, 0, 0);
const NOW = NOW_MS / 1000;
const URL_ = "https://gateway.test/v1/chat/completions";
const ACCESS_TOKEN = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl";

let es256: CryptoKeyPair;
let es256Jwk: JWK;
let es256Jkt: string;
let other: CryptoKeyPair;

beforeAll(async () => {
  es256 = await generateKeyPair("ES256", { extractable: true });
  other = await generateKeyPair("ES256", { extractable: true });
  es256Jwk = await exportJWK(es256.publicKey);
  es256Jkt = await calculateJwkThumbprint(es256Jwk);
});

let counter = 0;

interface ProofSpec {
  header?: Record<string, unknown>;
  claims?: Record<string, unknown>;
  key?: CryptoKey | Uint8Array;
  /** Public key put in the header; defaults to the ES256 key's. */
  jwk?: JWK;
}

async function proof(spec: ProofSpec = {}): Promise<string> {
  const claims = {
    jti: `jti-${counter++}`,
    htm: "POST",
    htu: URL_,
    iat: NOW,
    ath: await accessTokenHash(ACCESS_TOKEN),
    ...spec.claims,
  };
  for (const [name, value] of Object.entries(claims)) if (value === undefined) delete (claims as Record<string, unknown>)[name];
  const header = { alg: "ES256", typ: "dpop+jwt", jwk: spec.jwk ?? es256Jwk, ...spec.header };
  for (const [name, value] of Object.entries(header)) if (value === undefined) delete (header as Record<string, unknown>)[name];
  return new SignJWT(claims).setProtectedHeader(header as { alg: string }).sign(spec.key ?? es256.privateKey);
}

function verify(value: string, options: Partial<DpopVerifyOptions> = {}) {
  return verifyDpopProof(value, { method: "POST", url: URL_, accessToken: ACCESS_TOKEN, expectedJkt: es256Jkt, now: () => NOW_MS, ...options });
}

async function refusal(promise: Promise<unknown>): Promise<GatewayError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(GatewayError);
    return error as GatewayError;
  }
  throw new Error("expected a refusal");
}

async function expectInvalid(promise: Promise<unknown>, message?: RegExp) {
  const error = await refusal(promise);
  expect(error.code).toBe("dpop_proof_invalid");
  expect(error.status).toBe(401);
  if (message) expect(error.message).toMatch(message);
}

/** Re-encodes a proof's header or payload without re-signing: what a tamperer can do without the key. */
function tamper(value: string, part: 0 | 1, edit: (json: Record<string, unknown>) => void): string {
  const segments = value.split(".");
  const json = JSON.parse(new TextDecoder().decode(base64url.decode(segments[part]!))) as Record<string, unknown>;
  edit(json);
  segments[part] = base64url.encode(JSON.stringify(json));
  return segments.join(".");
}

describe("dpopProof: the one DPoP header", () => {
  it("is undefined when the request has none", () => {
    expect(dpopProof(new Headers())).toBeUndefined();
  });

  it("returns a single compact JWS", async () => {
    const value = await proof();
    expect(dpopProof(new Headers({ DPoP: value }))).toBe(value);
  });

  it("refuses two DPoP headers (400)", async () => {
    const headers = new Headers();
    headers.append("DPoP", await proof());
    headers.append("DPoP", await proof());
    const error = (() => {
      try {
        dpopProof(headers);
      } catch (e) {
        return e as GatewayError;
      }
    })();
    expect(error?.code).toBe("dpop_proof_malformed");
    expect(error?.status).toBe(400);
  });

  it.each([
    ["empty", ""],
    ["not a JWS", "not-a-jws"],
    ["JWE-like, five parts", "a.b.c.d.e"],
    ["JWS JSON serialization", '{"payload":"x","signatures":[]}'],
    ["unsigned (empty signature)", "eyJhbGciOiJub25lIn0.eyJ9."],
    ["padding characters", "YQ==.Yg==.Yw=="],
  ])("refuses a header that is not a compact JWS: %s", (_, value) => {
    expect(() => dpopProof(new Headers({ DPoP: value }))).toThrow(expect.objectContaining({ code: "dpop_proof_malformed" }));
  });

  it("refuses an oversized header", () => {
    const value = `${"a".repeat(MAX_PROOF_CHARS)}.b.c`;
    expect(() => dpopProof(new Headers({ DPoP: value }))).toThrow(expect.objectContaining({ code: "dpop_proof_malformed" }));
  });
});

describe("verifyDpopProof: a proof that keeps every rule", () => {
  it("returns the RFC 7638 thumbprint, jti, iat and when the jti may be forgotten", async () => {
    const value = await proof({ claims: { jti: "unique-1" } });
    expect(await verify(value)).toEqual({ jkt: es256Jkt, jti: "unique-1", iat: NOW, expiresAt: NOW + DEFAULT_IAT_WINDOW.pastSeconds });
  });

  it("accepts RSA (PS256, RS256) and EdDSA keys", async () => {
    for (const alg of ["PS256", "RS256", "EdDSA"] as const) {
      const pair = await generateKeyPair(alg, { extractable: true });
      const jwk = await exportJWK(pair.publicKey);
      const result = await verify(await proof({ header: { alg }, jwk, key: pair.privateKey }), { expectedJkt: await calculateJwkThumbprint(jwk) });
      expect(result.jkt).toBe(await calculateJwkThumbprint(jwk));
    }
  });

  it("reuses a cached proof key for the same header and never for another", async () => {
    const keyCache = createDpopKeyCache(2);
    const first = await proof();
    expect((await verify(first, { keyCache })).jkt).toBe(es256Jkt);
    // Same header, so the cached key verifies a second proof of the same client.
    expect((await verify(await proof(), { keyCache })).jkt).toBe(es256Jkt);
    // Another key has another header: it gets its own entry, and the bound-key check still applies.
    const otherJwk = await exportJWK(other.publicKey);
    await expectInvalid(verify(await proof({ jwk: otherJwk, key: other.privateKey }), { keyCache }), /bound/);
    // A proof reusing the cached header but signed by another key still fails its signature.
    await expectInvalid(verify(await proof({ key: other.privateKey }), { keyCache }), /signature/);
    // Header rules are checked on every proof, cached key or not.
    await expectInvalid(verify(first, { keyCache, algorithms: ["EdDSA"] }), /algorithm/);
  });

  it("needs no ath or jkt when no access token is presented", async () => {
    const value = await proof({ claims: { ath: undefined } });
    expect((await verify(value, { accessToken: undefined, expectedJkt: undefined })).jkt).toBe(es256Jkt);
  });
});

describe("verifyDpopProof: how a refusal reads on the wire", () => {
  it("answers 401 with a DPoP challenge, error invalid_dpop_proof and the accepted algorithms (RFC 9449 §7.1)", async () => {
    const response = errorResponse(await refusal(verify(await proof({ claims: { htm: "GET" } }))), "openai", "req-1");
    expect(response.status).toBe(401);
    expect(response.headers.get("www-authenticate")).toMatch(/^DPoP realm="verity", error="invalid_dpop_proof", error_description="[^"]+", algs="[^"]+"$/);
  });

  it("answers 400 for a malformed header", () => {
    const error = (() => {
      try {
        dpopProof(new Headers({ DPoP: "a.b" }));
      } catch (e) {
        return e as GatewayError;
      }
    })();
    expect(errorResponse(error!, "openai", "req-1").status).toBe(400);
  });
});

describe("verifyDpopProof: header rules", () => {
  it.each([["JWT"], ["at+jwt"], ["application/dpop+jwt"], ["DPOP+JWT"], [undefined]])('refuses typ %s (only "dpop+jwt")', async (typ) => {
    await expectInvalid(verify(await proof({ header: { typ } })), /typ/);
  });

  it("refuses alg none", async () => {
    const unsigned = tamper(await proof(), 0, (h) => (h.alg = "none"));
    await expectInvalid(verify(`${unsigned.split(".").slice(0, 2).join(".")}.`), /algorithm/);
  });

  it("refuses HS256 even when the allowlist names it", async () => {
    const secret = crypto.getRandomValues(new Uint8Array(32));
    const value = await proof({ header: { alg: "HS256" }, key: secret });
    await expectInvalid(verify(value, { algorithms: ["HS256", "ES256"] }), /algorithm/);
  });

  it("refuses an asymmetric alg outside the allowlist", async () => {
    await expectInvalid(verify(await proof(), { algorithms: ["EdDSA"] }), /algorithm/);
  });

  it("refuses a proof without a jwk header", async () => {
    await expectInvalid(verify(await proof({ header: { jwk: undefined } })), /jwk/);
  });

  it("refuses a jwk that carries the private key", async () => {
    const privateJwk = await exportJWK(es256.privateKey);
    await expectInvalid(verify(await proof({ jwk: privateJwk })), /public key/);
  });

  it("refuses a symmetric (oct) jwk", async () => {
    const value = await proof({ header: { alg: "HS256" }, key: new Uint8Array(32), jwk: { kty: "oct", k: "AAAA" } });
    await expectInvalid(verify(value, { algorithms: ["HS256"] }));
  });

  it("refuses a jwk of an unknown key type", async () => {
    await expectInvalid(verify(await proof({ jwk: { ...es256Jwk, kty: "XYZ" } })), /type/);
  });

  it("refuses RSA keys beyond 4096 bits or with an oversized exponent (verification cost)", async () => {
    // The size is checked before any signature work, so the modulus need not be a real one.
    const rsa = await generateKeyPair("PS256", { extractable: true });
    const rsaJwk = await exportJWK(rsa.publicKey);
    const modulus4096 = "A".repeat(683);
    await expectInvalid(verify(await proof({ header: { alg: "PS256" }, jwk: { ...rsaJwk, n: `${modulus4096}A` }, key: rsa.privateKey })), /larger/);
    await expectInvalid(verify(await proof({ header: { alg: "PS256" }, jwk: { ...rsaJwk, n: modulus4096 }, key: rsa.privateKey })), /signature|not valid/);
    await expectInvalid(verify(await proof({ header: { alg: "PS256" }, jwk: { ...rsaJwk, e: "AQAB".repeat(4) }, key: rsa.privateKey })), /larger/);
  });

  it("refuses a jwk whose alg disagrees with the header", async () => {
    await expectInvalid(verify(await proof({ jwk: { ...es256Jwk, alg: "ES384" } })));
  });

  it("refuses an unknown crit header", async () => {
    // jose will not sign one, so the proof is signed by hand (ES256 in WebCrypto is raw r||s, as JWS wants).
    const header = { alg: "ES256", typ: "dpop+jwt", jwk: es256Jwk, crit: ["urn:example:unknown"], "urn:example:unknown": true };
    const claims = { jti: "crit", htm: "POST", htu: URL_, iat: NOW, ath: await accessTokenHash(ACCESS_TOKEN) };
    const input = `${base64url.encode(JSON.stringify(header))}.${base64url.encode(JSON.stringify(claims))}`;
    const signature = await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, es256.privateKey, new TextEncoder().encode(input));
    await expectInvalid(verify(`${input}.${base64url.encode(new Uint8Array(signature))}`), /unsupported/);
  });
});

describe("verifyDpopProof: signature", () => {
  it("refuses a proof signed by a key other than its jwk", async () => {
    await expectInvalid(verify(await proof({ key: other.privateKey })), /signature/);
  });

  it("refuses a payload edited after signing", async () => {
    const edited = tamper(await proof(), 1, (p) => (p.htu = "https://gateway.test/v1/other"));
    await expectInvalid(verify(edited), /signature/);
  });

  it("refuses a header whose jwk was swapped after signing", async () => {
    const swapped = tamper(await proof(), 0, (h) => (h.jwk = { ...es256Jwk, x: base64url.encode(new Uint8Array(32).fill(1)) }));
    await expectInvalid(verify(swapped));
  });
});

describe("verifyDpopProof: claims", () => {
  it("refuses a proof without jti, or with one longer than 256 characters", async () => {
    await expectInvalid(verify(await proof({ claims: { jti: undefined } })), /jti/);
    await expectInvalid(verify(await proof({ claims: { jti: 42 } })), /jti/);
    await expectInvalid(verify(await proof({ claims: { jti: "x".repeat(257) } })), /jti/);
    expect((await verify(await proof({ claims: { jti: "x".repeat(256) } }))).jti).toHaveLength(256);
  });

  it("attack: a proof made for another method is refused", async () => {
    await expectInvalid(verify(await proof({ claims: { htm: "GET" } })), /method/);
    await expectInvalid(verify(await proof({ claims: { htm: "post" } })), /method/);
    await expectInvalid(verify(await proof({ claims: { htm: undefined } })), /method/);
  });

  it("attack: a proof made for another URL is refused", async () => {
    for (const htu of [
      "https://gateway.test/v1/embeddings",
      "https://evil.test/v1/chat/completions",
      "http://gateway.test/v1/chat/completions",
      "https://gateway.test:8443/v1/chat/completions",
      "https://gateway.test/v1/chat/completions/",
      "https://user:pw@gateway.test/v1/chat/completions",
      "/v1/chat/completions",
      undefined,
    ]) {
      await expectInvalid(verify(await proof({ claims: { htu } })), /URL/);
    }
  });

  it("matches htu ignoring query and fragment, with RFC 3986 normalization", async () => {
    for (const htu of [
      "https://gateway.test/v1/chat/completions?stream=true",
      "https://gateway.test/v1/chat/completions#part",
      "HTTPS://Gateway.TEST:443/v1/chat/completions",
      "https://gateway.test/v1/x/../chat/completions",
      "https://gateway.test/v1/ch%61t/completions",
    ]) {
      expect((await verify(await proof({ claims: { htu } }))).jkt).toBe(es256Jkt);
    }
    expect((await verify(await proof(), { url: `${URL_}?model=x` })).jkt).toBe(es256Jkt);
  });

  it("normalizeHtu: percent-encodings uppercase, unreserved decoded, reserved kept", () => {
    expect(normalizeHtu("https://a.test/%7euser/%2f%2F")).toBe("https://a.test/~user/%2F%2F");
    expect(normalizeHtu("https://A.test:443")).toBe("https://a.test/");
    expect(normalizeHtu("http://a.test:80/x?q#f")).toBe("http://a.test/x");
    expect(normalizeHtu("ftp://a.test/x")).toBeUndefined();
    expect(normalizeHtu("not a url")).toBeUndefined();
  });

  it("accepts iat at the edges of the window and refuses it beyond", async () => {
    const { pastSeconds, futureSeconds } = DEFAULT_IAT_WINDOW;
    expect((await verify(await proof({ claims: { iat: NOW - pastSeconds } }))).expiresAt).toBe(NOW);
    expect((await verify(await proof({ claims: { iat: NOW + futureSeconds } }))).iat).toBe(NOW + futureSeconds);
    await expectInvalid(verify(await proof({ claims: { iat: NOW - pastSeconds - 1 } })), /too old/);
    await expectInvalid(verify(await proof({ claims: { iat: NOW + futureSeconds + 1 } })), /future/);
    await expectInvalid(verify(await proof({ claims: { iat: undefined } })), /iat/);
    await expectInvalid(verify(await proof({ claims: { iat: "now" } })));
  });

  it("honours a configured iat window", async () => {
    const iatWindow = { pastSeconds: 10, futureSeconds: 0 };
    expect((await verify(await proof({ claims: { iat: NOW - 10 } }), { iatWindow })).expiresAt).toBe(NOW);
    await expectInvalid(verify(await proof({ claims: { iat: NOW - 11 } }), { iatWindow }), /too old/);
    await expectInvalid(verify(await proof({ claims: { iat: NOW + 1 } }), { iatWindow }), /future/);
  });

  it("refuses a proof whose exp has passed or whose nbf is ahead", async () => {
    await expectInvalid(verify(await proof({ claims: { exp: NOW - 120 } })));
    await expectInvalid(verify(await proof({ claims: { nbf: NOW + 120 } })));
  });

  it("refuses a missing ath when an access token is presented", async () => {
    await expectInvalid(verify(await proof({ claims: { ath: undefined } })), /ath/);
  });

  it("refuses an ath for another access token", async () => {
    const value = await proof({ claims: { ath: await accessTokenHash(`${ACCESS_TOKEN}x`) } });
    await expectInvalid(verify(value), /another access token/);
  });

  it("computes ath as base64url(SHA-256(ASCII token)) — RFC 9449 §7.1 example", async () => {
    const token = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU";
    expect(await accessTokenHash(token)).toBe("fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo");
  });

  it("refuses a proof key other than the token's cnf.jkt", async () => {
    const otherJwk = await exportJWK(other.publicKey);
    await expectInvalid(verify(await proof({ jwk: otherJwk, key: other.privateKey })), /bound/);
  });

  it("computes the RFC 7638 thumbprint — RFC 7638 §3.1 example", async () => {
    const jwk = {
      kty: "RSA",
      n: "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
      e: "AQAB",
    };
    expect(await calculateJwkThumbprint(jwk, "sha256")).toBe("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
  });
});
