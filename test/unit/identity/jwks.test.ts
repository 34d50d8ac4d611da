import { exportJWK, generateKeyPair, SignJWT, type JWK } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { GatewayError } from "../../../worker/errors.ts";
import { DiscoveryError, discoveryUrl, knownJwksUri, parseDiscovery } from "../../../worker/identity/discovery.ts";
import { createKeySets, KeySetError, parseKeySet, type Fetcher, type KeyFilter, type KeySetOptions } from "../../../worker/identity/jwks.ts";
import { verifyJws } from "../../../worker/identity/jws.ts";
import { sha256Hex } from "../../../worker/lib/encoding.ts";
import type { Issuer } from "../../../worker/workload/index.ts";

const NOW = Date.UTC(2026, 0, 15, 12);
const JWKS_URI = "https://idp.test/jwks";

let signer: CryptoKey;
let publicJwk: JWK;
let rsaJwk: JWK;
let rotated: CryptoKeyPair;

beforeAll(async () => {
  const pair = await generateKeyPair("ES256", { extractable: true });
  signer = pair.privateKey;
  publicJwk = { ...(await exportJWK(pair.publicKey)), kid: "k1", alg: "ES256", use: "sig" };
  rsaJwk = { ...(await exportJWK((await generateKeyPair("RS256", { extractable: true })).publicKey)), kid: "r1", alg: "RS256" };
  rotated = await generateKeyPair("ES256", { extractable: true });
});

function jws(kid = "k1", key: CryptoKey = signer) {
  return new SignJWT({ sub: "alice" }).setProtectedHeader({ alg: "ES256", kid }).sign(key);
}

/** An issuer endpoint whose documents and failures the test controls; it records every URL fetched. */
function endpoint(documents: Record<string, unknown>) {
  const fetched: string[] = [];
  let failing = false;
  const fetch: Fetcher = async (url) => {
    fetched.push(url);
    if (failing) throw new TypeError("network down");
    return url in documents ? Response.json(documents[url]) : new Response("not found", { status: 404 });
  };
  return { fetch, fetched, documents, fail: (value: boolean) => (failing = value) };
}

/** A KV stand-in that records writes and can be told to fail; a test below also uses the real binding. */
function memoryKv(options: { failReads?: boolean; failWrites?: boolean } = {}) {
  const store = new Map<string, string>();
  const puts: { key: string; value: string; options: unknown }[] = [];
  const kv = {
    async get(key: string, type?: string) {
      if (options.failReads) throw new Error("KV read failed");
      const value = store.get(key);
      if (value === undefined) return null;
      return type === "json" ? JSON.parse(value) : value;
    },
    async put(key: string, value: string, putOptions?: unknown) {
      if (options.failWrites) throw new Error("KV write failed");
      puts.push({ key, value, options: putOptions });
      store.set(key, value);
    },
  } as unknown as KVNamespace;
  return { kv, store, puts };
}

function keySets(overrides: Partial<KeySetOptions> = {}) {
  return createKeySets({ refetchCooldownMs: 30_000, maxAgeMs: 600_000, now: () => NOW, ...overrides });
}

const RULES = { what: "token", algorithms: ["ES256"] };

async function refusal(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(GatewayError);
  expect((error as GatewayError).code).toBe("token_invalid");
  return (error as Error).message;
}

describe("parseKeySet: what an issuer publishes is validated like any input", () => {
  it("refuses documents that are not key sets", () => {
    for (const document of [null, "keys", [], {}, { keys: "k" }, { keys: [null] }, { keys: [[1]] }]) {
      expect(() => parseKeySet(document)).toThrow(KeySetError);
    }
  });

  it("refuses a whole set that publishes private or symmetric key material", () => {
    expect(() => parseKeySet({ keys: [publicJwk, { ...publicJwk, kid: "k2", d: "secret" }] })).toThrow(/private or symmetric/);
    expect(() => parseKeySet({ keys: [{ kty: "oct", k: "c2VjcmV0", kid: "h1" }] })).toThrow(/private or symmetric/);
  });

  it("refuses an absurdly large set", () => {
    expect(() => parseKeySet({ keys: Array.from({ length: 101 }, (_, i) => ({ ...publicJwk, kid: `k${i}` })) })).toThrow(/too many/);
  });

  it("drops entries it cannot use: no kty, a non-string kid, weak RSA keys", () => {
    const shortModulus = { ...rsaJwk, kid: "short", n: rsaJwk.n!.slice(0, 171) };
    const keys = parseKeySet({
      keys: [publicJwk, rsaJwk, { kid: "x" }, { ...publicJwk, kid: 7 }, { ...rsaJwk, kid: "e1", e: "AQ" }, { ...rsaJwk, kid: "even", e: "AQAA" }, shortModulus],
    });
    expect(keys.map((k) => k.kid)).toEqual(["k1", "r1"]);
  });

  it("drops every entry of an ambiguous kid, and keeps kid-less bundle entries", () => {
    const ca = { kty: "EC", crv: "P-256", x: publicJwk.x, y: publicJwk.y, use: "x509-svid", x5c: ["MIIB"] };
    const keys = parseKeySet({ keys: [publicJwk, { ...publicJwk }, rsaJwk, ca] });
    expect(keys).toEqual([rsaJwk, ca]);
  });
});

describe("key sets: memory tier", () => {
  it("fetches once and then serves from isolate memory", async () => {
    const idp = endpoint({ [JWKS_URI]: { keys: [publicJwk] } });
    const sets = keySets();
    for (let i = 0; i < 3; i++) await verifyJws(await jws(), sets.resolver(JWKS_URI, { fetch: idp.fetch }), RULES);
    expect(idp.fetched).toEqual([JWKS_URI]);
  });

  it("shares one fetch among concurrent cold requests", async () => {
    const idp = endpoint({ [JWKS_URI]: { keys: [publicJwk] } });
    const resolve = keySets().resolver(JWKS_URI, { fetch: idp.fetch });
    const token = await jws();
    await Promise.all(Array.from({ length: 20 }, () => verifyJws(token, resolve, RULES)));
    expect(idp.fetched).toHaveLength(1);
  });

  it("refreshes after the maximum age, so a rotation is seen without an unknown kid", async () => {
    let clock = NOW;
    const idp = endpoint({ [JWKS_URI]: { keys: [publicJwk] } });
    const resolve = keySets({ now: () => clock, maxAgeMs: 60_000 }).resolver(JWKS_URI, { fetch: idp.fetch });
    await verifyJws(await jws(), resolve, RULES);
    clock += 61_000;
    await verifyJws(await jws(), resolve, RULES);
    expect(idp.fetched).toHaveLength(2);
  });

  it("refetches once for an unknown kid, finds a rotated key, and cools down for forged kids", async () => {
    let clock = NOW;
    const idp = endpoint({ [JWKS_URI]: { keys: [publicJwk] } });
    const resolve = keySets({ now: () => clock, refetchCooldownMs: 30_000 }).resolver(JWKS_URI, { fetch: idp.fetch });
    await verifyJws(await jws(), resolve, RULES);
    clock += 31_000;
    idp.documents[JWKS_URI] = { keys: [publicJwk, { ...(await exportJWK(rotated.publicKey)), kid: "k2", alg: "ES256" }] };
    await verifyJws(await jws("k2", rotated.privateKey), resolve, RULES);
    expect(idp.fetched).toHaveLength(2);
    for (const kid of ["forged-1", "forged-2", "forged-3"]) {
      expect(await refusal(verifyJws(await jws(kid), resolve, RULES))).toBe("the token was signed by an unknown key");
    }
    expect(idp.fetched).toHaveLength(2);
  });

  it("keeps cooling down after a failed refetch, so an unreachable issuer is not hammered", async () => {
    let clock = NOW;
    const idp = endpoint({ [JWKS_URI]: { keys: [publicJwk] } });
    const resolve = keySets({ now: () => clock, refetchCooldownMs: 30_000 }).resolver(JWKS_URI, { fetch: idp.fetch });
    await verifyJws(await jws(), resolve, RULES);
    clock += 31_000;
    idp.fail(true);
    expect(await refusal(verifyJws(await jws("forged"), resolve, RULES))).toBe("the token's signing keys are unavailable");
    expect(await refusal(verifyJws(await jws("forged"), resolve, RULES))).toBe("the token was signed by an unknown key");
    expect(idp.fetched).toHaveLength(2);
    // Known keys keep working from memory meanwhile.
    await verifyJws(await jws(), resolve, RULES);
  });

  it("refuses when the key set cannot be had or read", async () => {
    const cases: [Fetcher, RegExp][] = [
      [async () => new Response("nope", { status: 503 }), /unavailable/],
      [async () => { throw new TypeError("connection refused"); }, /unavailable/],
      [async () => new Response("<html>"), /could not be read/],
      [async () => Response.json({ keys: [{ ...publicJwk, d: "leaked" }] }), /could not be read/],
      [async () => new Response(JSON.stringify({ keys: [publicJwk], pad: "x".repeat(300 * 1024) })), /could not be read/],
    ];
    for (const [fetch, message] of cases) {
      expect(await refusal(verifyJws(await jws(), keySets().resolver(JWKS_URI, { fetch }), RULES))).toMatch(message);
    }
  });
});

describe("key sets: KV tier", () => {
  it("writes {fetchedAt, keys} under jwks/<sha256(uri) hex> with a TTL of at least 60 s", async () => {
    const idp = endpoint({ [JWKS_URI]: { keys: [publicJwk] } });
    const { kv, puts } = memoryKv();
    await verifyJws(await jws(), keySets({ maxAgeMs: 10_000 }).resolver(JWKS_URI, { fetch: idp.fetch, cache: kv }), RULES);
    expect(puts).toEqual([{ key: `jwks/${await sha256Hex(JWKS_URI)}`, value: JSON.stringify({ fetchedAt: NOW, keys: [publicJwk] }), options: { expirationTtl: 60 } }]);
  });

  it("lets a cold isolate verify from KV without calling the issuer", async () => {
    const idp = endpoint({ [JWKS_URI]: { keys: [publicJwk] } });
    const { kv } = memoryKv();
    await verifyJws(await jws(), keySets().resolver(JWKS_URI, { fetch: idp.fetch, cache: kv }), RULES);
    const cold = keySets({ now: () => NOW + 5_000 });
    await verifyJws(await jws(), cold.resolver(JWKS_URI, { fetch: idp.fetch, cache: kv }), RULES);
    expect(idp.fetched).toHaveLength(1);
  });

  it("treats unreadable, invalid, stale or future KV entries as misses and fetches instead", async () => {
    const key = `jwks/${await sha256Hex(JWKS_URI)}`;
    const entries = [
      "not json",
      JSON.stringify({ keys: [publicJwk] }),
      JSON.stringify({ fetchedAt: "yesterday", keys: [publicJwk] }),
      JSON.stringify({ fetchedAt: NOW, keys: [{ ...publicJwk, d: "leaked" }] }),
      JSON.stringify({ fetchedAt: NOW, keys: "none" }),
      JSON.stringify({ fetchedAt: NOW - 700_000, keys: [publicJwk] }),
      JSON.stringify({ fetchedAt: NOW + 3_600_000, keys: [publicJwk] }),
    ];
    for (const entry of entries) {
      const idp = endpoint({ [JWKS_URI]: { keys: [publicJwk] } });
      const { kv, store } = memoryKv();
      store.set(key, entry);
      await verifyJws(await jws(), keySets().resolver(JWKS_URI, { fetch: idp.fetch, cache: kv }), RULES);
      expect(idp.fetched, entry).toEqual([JWKS_URI]);
    }
  });

  it("does not let poisoned KV keys verify a forged token", async () => {
    const forger = await generateKeyPair("ES256", { extractable: true });
    const idp = endpoint({ [JWKS_URI]: { keys: [publicJwk] } });
    const { kv, store } = memoryKv();
    // A KV entry is only as trusted as the issuer it came from; one that fails validation is ignored.
    store.set(`jwks/${await sha256Hex(JWKS_URI)}`, JSON.stringify({ fetchedAt: NOW, keys: [{ ...(await exportJWK(forger.privateKey)), kid: "k1" }] }));
    expect(await refusal(verifyJws(await jws("k1", forger.privateKey), keySets().resolver(JWKS_URI, { fetch: idp.fetch, cache: kv }), RULES))).toBe(
      "the token's signature is invalid",
    );
  });

  it("works when KV reads or writes fail", async () => {
    for (const failure of [{ failReads: true }, { failWrites: true }]) {
      const idp = endpoint({ [JWKS_URI]: { keys: [publicJwk] } });
      await verifyJws(await jws(), keySets().resolver(JWKS_URI, { fetch: idp.fetch, cache: memoryKv(failure).kv }), RULES);
      expect(idp.fetched).toEqual([JWKS_URI]);
    }
  });

  it("round-trips through the real CACHE binding with an expiration set", async () => {
    // Imported here so that only this test needs the whole Worker's bindings.
    const { env } = await import("cloudflare:test");
    const uri = "https://real-kv.test/jwks";
    const idp = endpoint({ [uri]: { keys: [publicJwk] } });
    await verifyJws(await jws(), createKeySets({ refetchCooldownMs: 0, maxAgeMs: 600_000 }).resolver(uri, { fetch: idp.fetch, cache: env.CACHE }), RULES);
    const cold = createKeySets({ refetchCooldownMs: 0, maxAgeMs: 600_000 });
    await verifyJws(await jws(), cold.resolver(uri, { fetch: idp.fetch, cache: env.CACHE }), RULES);
    expect(idp.fetched).toEqual([uri]);
    const listed = await env.CACHE.list({ prefix: `jwks/${await sha256Hex(uri)}` });
    expect(listed.keys).toHaveLength(1);
    expect(listed.keys[0]!.expiration).toBeGreaterThan(Date.now() / 1000 + 500);
  });
});

describe("raw key sets and filters (SPIFFE bundles)", () => {
  const BUNDLE_URI = "https://spiffe.test/bundle";

  it("returns the validated raw entries, x509-svid CAs included", async () => {
    const ca = { kty: "EC", crv: "P-256", x: publicJwk.x, y: publicJwk.y, use: "x509-svid", x5c: ["MIIBkTCB+wIJ"] };
    const bundle = { spiffe_sequence: 3, spiffe_refresh_hint: 300, keys: [ca, { ...publicJwk, use: "jwt-svid" }] };
    const idp = endpoint({ [BUNDLE_URI]: bundle });
    expect((await keySets().keySet(BUNDLE_URI, { fetch: idp.fetch })).keys).toEqual(bundle.keys);
  });

  it("resolves only through the filter it is given", async () => {
    const idp = endpoint({ [BUNDLE_URI]: { keys: [{ ...publicJwk, use: "jwt-svid" }] } });
    const sets = keySets();
    // By default only signature keys are used: a `jwt-svid` entry is not one until a filter says so.
    expect(await refusal(verifyJws(await jws(), sets.resolver(BUNDLE_URI, { fetch: idp.fetch }), RULES))).toBe("the token was signed by an unknown key");
    const jwtSvid: KeyFilter = (jwk) => (jwk.use === "jwt-svid" ? { ...jwk, use: "sig" } : undefined);
    await verifyJws(await jws(), sets.resolver(BUNDLE_URI, { fetch: idp.fetch }, jwtSvid), RULES);
    expect(idp.fetched).toHaveLength(1);
  });
});

describe("issuer keys: configured, Cloudflare Access and discovered", () => {
  const ISSUER: Issuer = {
    id: "idp",
    kind: "oidc",
    issuer: "https://idp.test",
    audiences: ["https://gateway.test"],
    algorithms: ["ES256"],
    tenants: ["acme"],
    binding: "optional",
  };
  const DISCOVERY = "https://idp.test/.well-known/openid-configuration";

  it("knows where Cloudflare Access and configured issuers publish their keys", () => {
    expect(knownJwksUri({ ...ISSUER, jwksUri: "https://idp.test/keys" })).toBe("https://idp.test/keys");
    expect(knownJwksUri({ ...ISSUER, kind: "cloudflare-access", issuer: "https://acme.cloudflareaccess.com" })).toBe(
      "https://acme.cloudflareaccess.com/cdn-cgi/access/certs",
    );
    expect(knownJwksUri(ISSUER)).toBeUndefined();
    expect(discoveryUrl("https://idp.test/")).toBe(DISCOVERY);
    expect(discoveryUrl("https://idp.test/tenant-a")).toBe("https://idp.test/tenant-a/.well-known/openid-configuration");
  });

  it("discovers jwks_uri, caches it with the keys, and lets a cold isolate start from KV alone", async () => {
    const idp = endpoint({ [DISCOVERY]: { issuer: ISSUER.issuer, jwks_uri: "https://idp.test/oauth/jwks" }, "https://idp.test/oauth/jwks": { keys: [publicJwk] } });
    const { kv, store } = memoryKv();
    const warm = keySets();
    await verifyJws(await jws(), warm.issuerKeys(ISSUER, { fetch: idp.fetch, cache: kv }), RULES);
    await verifyJws(await jws(), warm.issuerKeys(ISSUER, { fetch: idp.fetch, cache: kv }), RULES);
    expect(idp.fetched).toEqual([DISCOVERY, "https://idp.test/oauth/jwks"]);
    expect([...store.keys()].sort()).toEqual([`discovery/${await sha256Hex(DISCOVERY)}`, `jwks/${await sha256Hex("https://idp.test/oauth/jwks")}`].sort());
    await verifyJws(await jws(), keySets().issuerKeys(ISSUER, { fetch: idp.fetch, cache: kv }), RULES);
    expect(idp.fetched).toHaveLength(2);
  });

  it("refuses a discovery document that names another issuer or sends keys elsewhere", async () => {
    for (const document of [
      { issuer: "https://evil.test", jwks_uri: "https://idp.test/jwks" },
      { issuer: ISSUER.issuer, jwks_uri: "https://evil.test/jwks" },
    ]) {
      const idp = endpoint({ [DISCOVERY]: document, "https://evil.test/jwks": { keys: [publicJwk] }, "https://idp.test/jwks": { keys: [publicJwk] } });
      expect(await refusal(verifyJws(await jws(), keySets().issuerKeys(ISSUER, { fetch: idp.fetch }), RULES))).toBe("the token's signing keys could not be read");
      expect(idp.fetched).toEqual([DISCOVERY]);
    }
  });

  it("parseDiscovery: exact issuer, https (or loopback http) on the issuer's origin", () => {
    expect(parseDiscovery("https://idp.test", { issuer: "https://idp.test", jwks_uri: "https://idp.test/jwks" })).toEqual({ issuer: "https://idp.test", jwks_uri: "https://idp.test/jwks" });
    expect(parseDiscovery("http://127.0.0.1:8788", { issuer: "http://127.0.0.1:8788", jwks_uri: "http://127.0.0.1:8788/jwks" }).jwks_uri).toBe("http://127.0.0.1:8788/jwks");
    const refused: [string, unknown][] = [
      ["https://idp.test", null],
      ["https://idp.test", ["https://idp.test"]],
      ["https://idp.test", { issuer: "https://idp.test/", jwks_uri: "https://idp.test/jwks" }],
      ["https://idp.test", { issuer: "https://IDP.test", jwks_uri: "https://idp.test/jwks" }],
      ["https://idp.test", { issuer: "https://idp.test" }],
      ["https://idp.test", { issuer: "https://idp.test", jwks_uri: "/jwks" }],
      ["https://idp.test", { issuer: "https://idp.test", jwks_uri: "https://idp.test.evil.test/jwks" }],
      ["https://idp.test", { issuer: "https://idp.test", jwks_uri: "https://idp.test:8443/jwks" }],
      ["https://idp.test", { issuer: "https://idp.test", jwks_uri: "http://idp.test/jwks" }],
      ["https://idp.test", { issuer: "https://idp.test", jwks_uri: "https://user:pw@idp.test/jwks" }],
      ["http://idp.test", { issuer: "http://idp.test", jwks_uri: "http://idp.test/jwks" }],
    ];
    for (const [issuer, document] of refused) expect(() => parseDiscovery(issuer, document), JSON.stringify(document)).toThrow(DiscoveryError);
  });
});
