/**
 * The identity plane through the whole Worker (POST /v1/chat/completions inside workerd, real KV and
 * Durable Objects, the dev identity provider and SPIFFE issuer over loopback): every attack class is
 * refused with its own code, status and `WWW-Authenticate` challenge, and the refusal is in the
 * `_unauthenticated` audit log with its reason; every kind of credential the gateway accepts is served
 * and its decision record says how the caller was proven (method, binding).
 *
 * Tokens whose one defect sits behind the signature check (expiry, audience, type, tenant…) cannot be
 * made by the dev identity provider, so they are signed by a local "forge" issuer that this file adds
 * to the registry, its JWKS placed in the gateway's key cache (KV `CACHE`) so nothing is fetched: a
 * token from it with no defect is served (the control), so each refusal below is caused by its one
 * defect and nothing else.
 */
import { env } from "cloudflare:test";
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT, type JWK } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { GATEWAY_AUDIENCE, IDP_ORIGIN, SPIFFE_ORIGIN } from "../../dev/config.ts";
import accounts from "../../dev/accounts.json";
import { sha256Hex } from "../../worker/lib/encoding.ts";
import { auditFor, chatBody, GATEWAY, gatewayFetch, type StoredRecord } from "../support/gateway.ts";
import type { SeedFiles } from "../../dev/seed-entries.ts";
import { seedKv } from "../support/seed.ts";
import { dpopProofFor, dpopTokenFor, tokenFor, type DpopBoundToken } from "../support/tokens.ts";
import { cfWith, THUMBPRINTS } from "../unit/identity/pki-fixtures.ts";

const CHAT_PATH = "/v1/chat/completions";
/** The URL the Worker sees, hence every DPoP proof's `htu`. */
const CHAT_URL = `${GATEWAY}${CHAT_PATH}`;
const UNAUTHENTICATED = "_unauthenticated";

/** A local issuer trusted for acme and globex (tenant from the `tenant` claim), keys in the cache only. */
const FORGE = { issuer: "https://forge.verity.test", jwksUri: "https://forge.verity.test/jwks" };
/** Another tenant's issuer: trusted for globex only. */
const GLOBEX = { issuer: "https://globex-idp.verity.test", jwksUri: "https://globex-idp.verity.test/jwks" };
/** A Cloudflare Access team for acme: its keys at Access's fixed certs path, its audience the application's AUD tag. */
const ACCESS = { issuer: "https://acme.cloudflareaccess.com", certs: "https://acme.cloudflareaccess.com/cdn-cgi/access/certs", aud: "4714c1358e65fe4b408ad6d432a5f878f08194bdb4752441fd56faefa9b2b6f2" };

interface LocalKey {
  privateKey: CryptoKey;
  kid: string;
}

let forgeKey: LocalKey;
let globexKey: LocalKey;
let accessKey: LocalKey;
let alice: string;
let dpopAlice: DpopBoundToken;

async function localKey(): Promise<{ key: LocalKey; jwk: JWK }> {
  const { privateKey, publicKey } = await generateKeyPair("ES256", { extractable: true });
  const jwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(jwk);
  return { key: { privateKey, kid }, jwk: { ...jwk, kid, alg: "ES256", use: "sig" } };
}

/** Puts a key set where the gateway's JWKS cache looks first (KV `jwks/<sha256(url)>`), as if just fetched. */
async function cacheKeySet(url: string, keys: JWK[]): Promise<void> {
  await env.CACHE.put(`jwks/${await sha256Hex(url)}`, JSON.stringify({ fetchedAt: Date.now(), keys }));
}

/** The seeded registry plus the two local issuers. */
function withLocalIssuers(files: SeedFiles): void {
  const common = { kind: "oidc", audiences: [GATEWAY_AUDIENCE], algorithms: ["ES256"], tokenType: "at+jwt", maxTokenAgeSeconds: 3600, groupsClaim: "groups" };
  (files.issuers as unknown[]).push(
    { ...common, id: "forge", ...FORGE, tenants: ["acme", "globex"], tenantClaim: "tenant" },
    { ...common, id: "globex-idp", ...GLOBEX, tenants: ["globex"], tenantClaim: "tenant" },
    // No jwksUri: Access publishes its keys at <issuer>/cdn-cgi/access/certs. One tenant, so no tenant claim.
    { id: "acme-access", kind: "cloudflare-access", issuer: ACCESS.issuer, audiences: [ACCESS.aud], algorithms: ["RS256"], tenants: ["acme"] },
  );
}

beforeAll(async () => {
  const forge = await localKey();
  const globex = await localKey();
  const access = await generateKeyPair("RS256", { extractable: true });
  const accessJwk = await exportJWK(access.publicKey);
  forgeKey = forge.key;
  globexKey = globex.key;
  accessKey = { privateKey: access.privateKey, kid: await calculateJwkThumbprint(accessJwk) };
  await cacheKeySet(FORGE.jwksUri, [forge.jwk]);
  await cacheKeySet(GLOBEX.jwksUri, [globex.jwk]);
  await cacheKeySet(ACCESS.certs, [{ ...accessJwk, kid: accessKey.kid, alg: "RS256", use: "sig" }]);
  await seedKv(env.CONFIG, withLocalIssuers);
  [alice, dpopAlice] = await Promise.all([tokenFor("alice"), dpopTokenFor("alice")]);
});

// --- building tokens by hand -------------------------------------------------------------------

const encoder = new TextEncoder();

function b64url(bytes: Uint8Array | string): string {
  const data = typeof bytes === "string" ? encoder.encode(bytes) : bytes;
  return btoa(String.fromCharCode(...data)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

/** Claims of a good access token for alice from the forge issuer; a test overrides the one it breaks. */
function claims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const now = nowSeconds();
  return {
    iss: FORGE.issuer,
    aud: GATEWAY_AUDIENCE,
    sub: "alice",
    tenant: "acme",
    groups: ["members"],
    client_id: "verity-cli",
    jti: crypto.randomUUID(),
    iat: now,
    exp: now + 600,
    ...overrides,
  };
}

/**
 * A compact JWS signed by hand (ES256 with `key`, or HMAC with `hmacSecret`), so any header can be
 * written, including those jose itself refuses to produce (`crit` it does not know).
 */
async function sign(header: Record<string, unknown>, payload: Record<string, unknown>, key: { privateKey?: CryptoKey; hmacSecret?: Uint8Array }): Promise<string> {
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
  let signature: ArrayBuffer;
  if (key.hmacSecret) {
    const hmac = await crypto.subtle.importKey("raw", key.hmacSecret, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    signature = await crypto.subtle.sign("HMAC", hmac, encoder.encode(input));
  } else {
    // WebCrypto's ECDSA signature is r || s, which is the JWS ES256 form (RFC 7518 §3.4).
    signature = await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, key.privateKey!, encoder.encode(input));
  }
  return `${input}.${b64url(new Uint8Array(signature))}`;
}

/** A forge-issuer access token: good unless the test changes its header or claims. */
function forged(overrides: Record<string, unknown> = {}, header: Record<string, unknown> = {}, key: LocalKey = forgeKey): Promise<string> {
  return sign({ alg: "ES256", typ: "at+jwt", kid: key.kid, ...header }, claims(overrides), key);
}

// --- driving the Worker ----------------------------------------------------------------------

interface ChatCall {
  headers?: Record<string, string>;
  cf?: unknown;
  path?: string;
}

function chat({ headers = {}, cf, path = CHAT_PATH }: ChatCall = {}): Promise<Response> {
  // `cf` in RequestInit is how workerd lets a caller stand in for the edge (request.cf.tlsClientAuth).
  const init = {
    method: "POST",
    body: chatBody(`identity test ${crypto.randomUUID()}`),
    headers: { "content-type": "application/json", ...headers },
    ...(cf === undefined ? {} : { cf }),
  };
  return gatewayFetch(path, init as RequestInit);
}

const bearerAuth = (token: string) => ({ authorization: `Bearer ${token}` });
const dpopAuth = (token: string, proof?: string) => ({ authorization: `DPoP ${token}`, ...(proof === undefined ? {} : { dpop: proof }) });

function proof(bound: DpopBoundToken, overrides: { method?: string; url?: string; jti?: string } = {}): Promise<string> {
  return dpopProofFor({
    keyPair: bound.keyPair,
    method: overrides.method ?? "POST",
    url: overrides.url ?? CHAT_URL,
    accessToken: bound.accessToken,
    ...(overrides.jti === undefined ? {} : { jti: overrides.jti }),
  });
}

interface ExpectedRefusal {
  code: string;
  /** What the caller is told, and what the audit record gives as the reason. */
  reason: RegExp;
  status?: number;
  /** The challenge's scheme and `error` (RFC 6750 §3, RFC 9449 §7.1). */
  scheme?: "Bearer" | "DPoP";
  error?: string;
}

/**
 * The refusal as the caller sees it (status, OpenAI error shape, `WWW-Authenticate`) and as the audit
 * log keeps it (a deny of `authenticate` in the `_unauthenticated` log, same code and reason).
 */
async function expectRefused(response: Response, expected: ExpectedRefusal): Promise<StoredRecord> {
  const { code, reason, status = 401, scheme = "Bearer", error = "invalid_token" } = expected;
  const body = (await response.json()) as { error: { code: string; type: string; message: string } };
  expect(response.status, JSON.stringify(body)).toBe(status);
  expect(body.error.code).toBe(code);
  expect(body.error.type).toBe(status === 401 ? "authentication_error" : "invalid_request_error");
  expect(body.error.message).toMatch(reason);

  expectChallenge(response.headers.get("www-authenticate") ?? "", { scheme, error, message: body.error.message });

  const requestId = response.headers.get("x-request-id")!;
  const records = await auditFor(UNAUTHENTICATED, requestId);
  expect(records).toHaveLength(1);
  const [record] = records;
  expect(record).toMatchObject({
    type: "decision",
    tenant: UNAUTHENTICATED,
    action: "authenticate",
    decision: "deny",
    code,
    reason: body.error.message,
    principal: null,
  });
  return record!;
}

function expectChallenge(challenge: string, expected: { scheme: string; error: string; message: string }): void {
  expect(challenge.startsWith(`${expected.scheme} realm="verity"`), challenge).toBe(true);
  expect(challenge).toContain(`error="${expected.error}"`);
  expect(challenge).toContain(`error_description="${expected.message.replace(/["\\]/g, "")}"`);
  if (expected.scheme === "DPoP") expect(challenge).toMatch(/algs="[^"]*ES256[^"]*"/);
}

/** A served request, and its allow decision in the principal's tenant log. */
async function expectServed(response: Response, tenant = "acme"): Promise<StoredRecord> {
  const text = await response.text();
  expect(response.status, text).toBe(200);
  expect((JSON.parse(text) as { object: string }).object).toBe("chat.completion");
  const records = await auditFor(tenant, response.headers.get("x-request-id")!);
  const decision = records.find((r) => r.type === "decision");
  expect(decision).toMatchObject({ decision: "allow", action: "invoke_model" });
  return decision!;
}

// --- the tests -----------------------------------------------------------------------------------

describe("access tokens: the control", () => {
  it("serves a good token from the forge issuer (so each refusal below is its one defect)", async () => {
    const record = await expectServed(await chat({ headers: bearerAuth(await forged()) }));
    expect(record.principal).toMatchObject({ kind: "user", id: "alice", method: "oidc", issuer: FORGE.issuer, binding: "none" });
  });

  it("serves a plain bearer token from the dev identity provider", async () => {
    const record = await expectServed(await chat({ headers: bearerAuth(alice) }));
    expect(record.principal).toMatchObject({ kind: "user", id: "alice", method: "oidc", issuer: IDP_ORIGIN, binding: "none" });
  });
});

describe("access tokens: each attack class refused, with its reason audited", () => {
  it("alg none: no signature, and alg none with a signature left on", async () => {
    const header = (alg: string) => b64url(JSON.stringify({ alg, typ: "at+jwt", kid: forgeKey.kid }));
    const payload = b64url(JSON.stringify(claims()));
    await expectRefused(await chat({ headers: bearerAuth(`${header("none")}.${payload}.`) }), {
      code: "token_invalid",
      reason: /not a compact JWS/,
    });
    for (const alg of ["none", "None", "NONE"]) {
      const good = (await forged()).split(".")[2];
      await expectRefused(await chat({ headers: bearerAuth(`${header(alg)}.${payload}.${good}`) }), {
        code: "token_invalid",
        reason: /unsigned tokens are not accepted/,
      });
    }
  });

  it("HS256 signed with the dev identity provider's public key (algorithm confusion)", async () => {
    const { keys } = (await (await fetch(`${IDP_ORIGIN}/jwks`)).json()) as { keys: JWK[] };
    expect(keys.length).toBeGreaterThan(0);
    for (const jwk of keys) {
      // The "secret" an attacker has: the issuer's published key, as JSON (and, for RSA, its modulus bytes).
      for (const secret of [encoder.encode(JSON.stringify(jwk)), encoder.encode(jwk.n ?? jwk.x ?? "")]) {
        const token = await sign({ alg: "HS256", typ: "at+jwt", kid: jwk.kid }, claims({ iss: IDP_ORIGIN }), { hmacSecret: secret });
        await expectRefused(await chat({ headers: bearerAuth(token) }), { code: "token_invalid", reason: /algorithm is not allowed/ });
      }
    }
  });

  it("embedded jwk: the token brings its own (otherwise matching) key", async () => {
    const { publicKey } = await generateKeyPair("ES256", { extractable: true });
    for (const jwk of [await exportJWK(publicKey), { kty: "EC", crv: "P-256", kid: forgeKey.kid }]) {
      await expectRefused(await chat({ headers: bearerAuth(await forged({}, { jwk })) }), {
        code: "token_invalid",
        reason: /must not carry "jwk"/,
      });
    }
  });

  it("jku and x5u pointing at a foreign host, and an embedded x5c chain", async () => {
    for (const [name, value] of [
      ["jku", "https://attacker.example/jwks.json"],
      ["x5u", "https://attacker.example/cert.pem"],
      ["jku", FORGE.jwksUri],
      ["x5c", ["MIIBszCCAVmgAwIBAgIU"]],
    ] as const) {
      await expectRefused(await chat({ headers: bearerAuth(await forged({}, { [name]: value })) }), {
        code: "token_invalid",
        reason: new RegExp(`must not carry "${name}"`),
      });
    }
  });

  it("kid injection: path, SQL and URL kids, and a trusted key of another issuer named by its kid", async () => {
    for (const kid of ["../../../../dev/null", "' OR '1'='1", "https://attacker.example/key.pem", ""]) {
      await expectRefused(await chat({ headers: bearerAuth(await forged({ iss: IDP_ORIGIN }, { kid })) }), {
        code: "token_invalid",
        reason: /signed by an unknown key|does not name its key/,
      });
    }
    // The forge key is in the gateway's key cache, but for the forge issuer: a dev-IdP token cannot pick it.
    await expectRefused(await chat({ headers: bearerAuth(await forged({ iss: IDP_ORIGIN })) }), {
      code: "token_invalid",
      reason: /signed by an unknown key/,
    });
    // …and the globex issuer's key cannot sign for the forge issuer, even named by its own kid. (An
    // unknown kid makes the gateway refetch the forge key set once its 30 s cool-down is over, which
    // fails, there being no such host: either answer means the key was not used.)
    await expectRefused(await chat({ headers: bearerAuth(await forged({}, {}, globexKey)) }), {
      code: "token_invalid",
      reason: /signed by an unknown key|signing keys are unavailable/,
    });
  });

  it("unknown crit: an extension the gateway does not implement", async () => {
    await expectRefused(await chat({ headers: bearerAuth(await forged({}, { crit: ["urn:example:policy"], "urn:example:policy": "x" })) }), {
      code: "token_invalid",
      reason: /demands an extension the gateway does not support/,
    });
    await expectRefused(await chat({ headers: bearerAuth(await forged({}, { crit: ["b64"], b64: false })) }), {
      code: "token_invalid",
      reason: /demands an extension/,
    });
  });

  it("expired (beyond the 60 s skew)", async () => {
    const now = nowSeconds();
    await expectRefused(await chat({ headers: bearerAuth(await forged({ iat: now - 1800, exp: now - 120 })) }), {
      code: "token_invalid",
      reason: /access token has expired/,
    });
  });

  it("older than the issuer's maximum token age, though not expired", async () => {
    const now = nowSeconds();
    await expectRefused(await chat({ headers: bearerAuth(await forged({ iat: now - 7200, exp: now + 600 })) }), {
      code: "token_invalid",
      reason: /older than its issuer allows/,
    });
  });

  it("not yet valid (nbf beyond the skew), and issued in the future", async () => {
    const now = nowSeconds();
    await expectRefused(await chat({ headers: bearerAuth(await forged({ nbf: now + 600, exp: now + 1200 })) }), {
      code: "token_invalid",
      reason: /"nbf" claim is not acceptable/,
    });
    await expectRefused(await chat({ headers: bearerAuth(await forged({ iat: now + 600, exp: now + 1200 })) }), {
      code: "token_invalid",
      reason: /"iat" claim is not acceptable|issued in the future/,
    });
  });

  it("wrong aud (another resource server), and no aud at all", async () => {
    await expectRefused(await chat({ headers: bearerAuth(await forged({ aud: "https://other-api.example" })) }), {
      code: "token_invalid",
      reason: /"aud" claim is not acceptable/,
    });
    await expectRefused(await chat({ headers: bearerAuth(await forged({ aud: undefined })) }), {
      code: "token_invalid",
      reason: /"aud" claim is not acceptable/,
    });
  });

  it("wrong iss: an unknown issuer, and the trusted one spelled differently", async () => {
    for (const iss of ["https://attacker.example", `${FORGE.issuer}/`, FORGE.issuer.toUpperCase(), undefined]) {
      await expectRefused(await chat({ headers: bearerAuth(await forged({ iss })) }), {
        code: "token_invalid",
        reason: /issuer is not trusted/,
      });
    }
  });

  it("an ID token used as an access token (typ JWT or none instead of at+jwt)", async () => {
    // Shaped as the issuer's ID token: same keys and audience, `typ: JWT`, nonce and at_hash.
    const idClaims = { nonce: "n-0S6_WzA2Mj", at_hash: "77QmUPtjPfzWtF2AnpK9RQ", auth_time: nowSeconds() };
    await expectRefused(await chat({ headers: bearerAuth(await forged(idClaims, { typ: "JWT" })) }), {
      code: "token_invalid",
      reason: /"typ" claim is not acceptable/,
    });
    const untyped = await sign({ alg: "ES256", kid: forgeKey.kid }, claims(idClaims), forgeKey);
    await expectRefused(await chat({ headers: bearerAuth(untyped) }), { code: "token_invalid", reason: /"typ" claim is not acceptable/ });
  });

  it("a token from another tenant's issuer: the globex issuer cannot mint acme principals", async () => {
    // The control: the globex issuer's own tenant is served (carol, globex, US backend).
    const control = await forged({ iss: GLOBEX.issuer, sub: "carol", tenant: "globex" }, {}, globexKey);
    const served = await expectServed(await chat({ headers: bearerAuth(control) }), "globex");
    expect(served.principal).toMatchObject({ id: "carol", issuer: GLOBEX.issuer });

    const intruder = await forged({ iss: GLOBEX.issuer, sub: "alice", tenant: "acme" }, {}, globexKey);
    await expectRefused(await chat({ headers: bearerAuth(intruder) }), {
      code: "token_invalid",
      reason: /names no tenant its issuer may speak for/,
    });
    // A tenant the gateway does not serve at all is refused the same way, whatever the issuer.
    await expectRefused(await chat({ headers: bearerAuth(await forged({ tenant: "initech" })) }), {
      code: "token_invalid",
      reason: /names no tenant its issuer may speak for/,
    });
  });

  it("a token with a bad signature (tampered claims)", async () => {
    const [header, , signature] = (await forged()).split(".");
    const tampered = `${header}.${b64url(JSON.stringify(claims({ sub: "bob" })))}.${signature}`;
    await expectRefused(await chat({ headers: bearerAuth(tampered) }), { code: "token_invalid", reason: /signature is invalid/ });
  });

  it("no credential at all: token_missing, both schemes offered", async () => {
    const response = await chat();
    const body = (await response.json()) as { error: { code: string } };
    expect(response.status).toBe(401);
    expect(body.error.code).toBe("token_missing");
    const challenge = response.headers.get("www-authenticate")!;
    expect(challenge).toMatch(/^Bearer realm="verity"/);
    expect(challenge).toMatch(/DPoP realm="verity", algs="/);
    expect(challenge).not.toContain("error=");
    const [record] = await auditFor(UNAUTHENTICATED, response.headers.get("x-request-id")!);
    expect(record).toMatchObject({ decision: "deny", code: "token_missing" });
  });
});

describe("DPoP (RFC 9449) through the whole Worker", () => {
  it("serves a DPoP-bound token with a valid proof: method oidc, binding dpop", async () => {
    const record = await expectServed(await chat({ headers: dpopAuth(dpopAlice.accessToken, await proof(dpopAlice)) }));
    expect(record.principal).toMatchObject({ kind: "user", id: "alice", method: "oidc", binding: "dpop" });
  });

  it("refuses a replayed proof: the first use is served, the second is dpop_proof_replayed", async () => {
    const once = await proof(dpopAlice);
    await expectServed(await chat({ headers: dpopAuth(dpopAlice.accessToken, once) }));
    await expectRefused(await chat({ headers: dpopAuth(dpopAlice.accessToken, once) }), {
      code: "dpop_proof_replayed",
      reason: /used before/,
      scheme: "DPoP",
      error: "invalid_dpop_proof",
    });
    // A new proof reusing the jti is a replay too.
    const jti = crypto.randomUUID();
    await expectServed(await chat({ headers: dpopAuth(dpopAlice.accessToken, await proof(dpopAlice, { jti })) }));
    await expectRefused(await chat({ headers: dpopAuth(dpopAlice.accessToken, await proof(dpopAlice, { jti })) }), {
      code: "dpop_proof_replayed",
      reason: /used before/,
      scheme: "DPoP",
      error: "invalid_dpop_proof",
    });
  });

  it("refuses a proof made for another URL", async () => {
    for (const url of [`${GATEWAY}/v1/messages`, `https://evil.example${CHAT_PATH}`, `http://gateway.test${CHAT_PATH}`]) {
      await expectRefused(await chat({ headers: dpopAuth(dpopAlice.accessToken, await proof(dpopAlice, { url })) }), {
        code: "dpop_proof_invalid",
        reason: /made for another URL/,
        scheme: "DPoP",
        error: "invalid_dpop_proof",
      });
    }
  });

  it("refuses a proof made for another method", async () => {
    for (const method of ["GET", "PUT", "PATCH"]) {
      await expectRefused(await chat({ headers: dpopAuth(dpopAlice.accessToken, await proof(dpopAlice, { method })) }), {
        code: "dpop_proof_invalid",
        reason: /another HTTP method/,
        scheme: "DPoP",
        error: "invalid_dpop_proof",
      });
    }
  });

  it("refuses a proof signed by another key than the token is bound to", async () => {
    const other = await dpopTokenFor("alice");
    const wrongKey = await dpopProofFor({ keyPair: other.keyPair, method: "POST", url: CHAT_URL, accessToken: dpopAlice.accessToken });
    await expectRefused(await chat({ headers: dpopAuth(dpopAlice.accessToken, wrongKey) }), {
      code: "dpop_proof_invalid",
      reason: /not the key the access token is bound to/,
      scheme: "DPoP",
      error: "invalid_dpop_proof",
    });
  });

  it("refuses a DPoP-bound token sent as a Bearer token (with or without a proof)", async () => {
    for (const headers of [bearerAuth(dpopAlice.accessToken), { ...bearerAuth(dpopAlice.accessToken), dpop: await proof(dpopAlice) }]) {
      await expectRefused(await chat({ headers }), {
        code: "proof_missing",
        reason: /bound to a DPoP key: send it with the DPoP scheme/,
        scheme: "DPoP",
      });
    }
  });

  it("refuses a DPoP-bound token without its proof", async () => {
    await expectRefused(await chat({ headers: dpopAuth(dpopAlice.accessToken) }), {
      code: "proof_missing",
      reason: /carries no DPoP proof/,
      scheme: "DPoP",
    });
  });

  it("refuses two DPoP proofs in one request as malformed: 400 dpop_proof_malformed, audited", async () => {
    const twice = `${await proof(dpopAlice)}, ${await proof(dpopAlice)}`;
    await expectRefused(await chat({ headers: dpopAuth(dpopAlice.accessToken, twice) }), {
      status: 400,
      code: "dpop_proof_malformed",
      reason: /at most one DPoP proof/,
      scheme: "DPoP",
      error: "invalid_dpop_proof",
    });
  });

  it("refuses an unbound token sent with the DPoP scheme, challenged in the DPoP scheme", async () => {
    await expectRefused(await chat({ headers: dpopAuth(alice, await dpopProofFor({ keyPair: dpopAlice.keyPair, method: "POST", url: CHAT_URL, accessToken: alice })) }), {
      code: "token_invalid",
      reason: /not bound to a DPoP key/,
      scheme: "DPoP",
    });
  });
});

describe("certificate-bound tokens (RFC 8705) through the whole Worker", () => {
  const boundToAliceDevice = () => forged({ cnf: { "x5t#S256": THUMBPRINTS["alice-device"] } });

  it("serves the token with its certificate: method oidc, binding mtls", async () => {
    const record = await expectServed(await chat({ headers: bearerAuth(await boundToAliceDevice()), cf: cfWith("alice-device") }));
    expect(record.principal).toMatchObject({ kind: "user", id: "alice", method: "oidc", binding: "mtls" });
  });

  it("refuses the token without the certificate", async () => {
    await expectRefused(await chat({ headers: bearerAuth(await boundToAliceDevice()) }), {
      code: "proof_missing",
      reason: /bound to a client certificate this request did not present/,
    });
  });

  it("refuses the token with another (registered, verified) certificate", async () => {
    for (const other of ["bob-device", "acme-batch-client"] as const) {
      await expectRefused(await chat({ headers: bearerAuth(await boundToAliceDevice()), cf: cfWith(other) }), {
        code: "proof_missing",
        reason: /bound to a client certificate this request did not present/,
      });
    }
  });

  it("refuses the token with its certificate when the edge did not verify it", async () => {
    await expectRefused(
      await chat({ headers: bearerAuth(await boundToAliceDevice()), cf: cfWith("alice-device", { certVerified: "FAILED:self signed certificate" }) }),
      { code: "certificate_invalid", reason: /not verified/ },
    );
  });

  it("refuses a confirmation method the gateway cannot check", async () => {
    await expectRefused(await chat({ headers: bearerAuth(await forged({ cnf: { "x5t": "abc" } })), cf: cfWith("alice-device") }), {
      code: "token_invalid",
      reason: /bound by a method the gateway does not support/,
    });
  });
});

describe("client certificates and X.509-SVIDs (request.cf.tlsClientAuth) through the whole Worker", () => {
  it("serves a registered client certificate alone as workload acme-batch: method mtls, binding mtls", async () => {
    const record = await expectServed(await chat({ cf: cfWith("acme-batch-client") }));
    expect(record.principal).toMatchObject({ kind: "workload", id: "acme-batch", method: "mtls", binding: "mtls" });
  });

  it("serves the acme-batch X.509-SVID alone: method spiffe-x509, binding mtls", async () => {
    const record = await expectServed(await chat({ cf: cfWith("acme-batch-svid") }));
    expect(record.principal).toMatchObject({
      kind: "workload",
      id: "acme-batch",
      method: "spiffe-x509",
      issuer: "spiffe://acme.verity.local",
      binding: "mtls",
    });
  });

  it("refuses a certificate presented but not verified by the edge (certVerified FAILED or NONE)", async () => {
    for (const certVerified of ["FAILED:self signed certificate", "FAILED:unable to get local issuer certificate", "NONE", "success"]) {
      await expectRefused(await chat({ cf: cfWith("acme-batch-client", { certVerified }) }), {
        code: "certificate_invalid",
        reason: /not verified/,
      });
    }
  });

  it("refuses a revoked certificate (certRevoked 1), registered or not", async () => {
    for (const name of ["revoked-client", "acme-batch-client"] as const) {
      await expectRefused(await chat({ cf: cfWith(name, { certRevoked: "1" }) }), { code: "certificate_invalid", reason: /revoked/ });
    }
  });

  it("refuses a verified client certificate that no workload registered", async () => {
    for (const name of ["unregistered-client", "alice-device"] as const) {
      await expectRefused(await chat({ cf: cfWith(name) }), { code: "certificate_invalid", reason: /not registered for any workload/ });
    }
  });

  it("refuses an X.509-SVID with two URI SANs", async () => {
    await expectRefused(await chat({ cf: cfWith("bad-svid-two-uris") }), { code: "certificate_invalid", reason: /exactly one URI name/ });
  });

  it("refuses an X.509-SVID issued by a CA outside its trust domain's bundle", async () => {
    await expectRefused(await chat({ cf: cfWith("forged-svid") }), { code: "certificate_invalid", reason: /not issued by its trust domain/ });
  });

  it("refuses a certificate whose leaf the edge could not forward (too large)", async () => {
    await expectRefused(await chat({ cf: cfWith("acme-batch-client", { certRFC9440: "", certRFC9440TooLarge: true }) }), {
      code: "certificate_invalid",
      reason: /too large/,
    });
  });
});

describe("JWT-SVIDs through the whole Worker", () => {
  async function jwtSvid(audience: string = GATEWAY_AUDIENCE): Promise<string> {
    const response = await fetch(`${SPIFFE_ORIGIN}/jwt-svid`, {
      method: "POST",
      headers: {
        authorization: `Basic ${btoa(`acme-batch:${accounts.workloads["acme-batch"].clientSecret}`)}`,
        "content-type": "application/x-www-form-urlencoded",
      },
      body: new URLSearchParams({ audience }).toString(),
    });
    expect(response.status).toBe(200);
    return ((await response.json()) as { svid: string }).svid;
  }

  it("serves a JWT-SVID from the SPIFFE issuer as workload acme-batch: method spiffe-jwt, binding none", async () => {
    const record = await expectServed(await chat({ headers: bearerAuth(await jwtSvid()) }));
    expect(record.principal).toMatchObject({
      kind: "workload",
      id: "acme-batch",
      method: "spiffe-jwt",
      issuer: "spiffe://acme.verity.local",
      binding: "none",
    });
  });

  it("refuses a JWT-SVID for another audience", async () => {
    await expectRefused(await chat({ headers: bearerAuth(await jwtSvid("https://other-api.example")) }), {
      code: "token_invalid",
      reason: /"aud" claim is not acceptable/,
    });
  });

  it("refuses a JWT-SVID signed by a key outside the trust domain's bundle (the forge key)", async () => {
    const now = nowSeconds();
    const token = await sign(
      { alg: "ES256", typ: "JWT", kid: forgeKey.kid },
      { sub: "spiffe://acme.verity.local/workload/acme-batch", aud: [GATEWAY_AUDIENCE], iat: now, exp: now + 300 },
      forgeKey,
    );
    await expectRefused(await chat({ headers: bearerAuth(token) }), { code: "token_invalid", reason: /signed by an unknown key/ });
  });
});

describe("MFA and step-up through the whole Worker", () => {
  it("puts acr and mfa into the decision's facts: bob (MFA) and alice (password)", async () => {
    const bob = await tokenFor("bob");
    const bobRecord = await expectServed(await chat({ headers: bearerAuth(bob) }));
    expect(bobRecord.facts).toMatchObject({ authn: { method: "oidc", mfa: true, acr: "urn:verity:acr:mfa" } });
    const aliceRecord = await expectServed(await chat({ headers: bearerAuth(alice) }));
    expect(aliceRecord.facts).toMatchObject({ authn: { method: "oidc", mfa: false, acr: "urn:verity:acr:pwd" } });
  });

  it("asks alice to step up (401 insufficient_user_authentication, acr_values, max_age) where policy demands MFA; serves bob", async () => {
    // No seeded policy demands MFA for a model call, so this test publishes one (storage is per test).
    await seedKv(env.CONFIG, (files) => {
      withLocalIssuers(files);
      files.policies["step-up-test.cedar"] = [
        '@id("test.model-step-up")',
        '@obligation("step_up:acr=urn:verity:acr:mfa,max_age=300")',
        'forbid (principal is User, action == Action::"invoke_model", resource is Backend)',
        "when { !context.authn.mfa };",
      ].join("\n");
    });
    try {
      await stepUpFor(alice);
      await expectServed(await chat({ headers: bearerAuth(await tokenFor("bob")) }));
    } finally {
      await seedKv(env.CONFIG, withLocalIssuers);
    }
  });

  async function stepUpFor(token: string): Promise<void> {
    const response = await chat({ headers: bearerAuth(token) });
    const body = (await response.json()) as { error: { code: string } };
    expect(response.status).toBe(401);
    expect(body.error.code).toBe("insufficient_user_authentication");
    const challenge = response.headers.get("www-authenticate")!;
    expect(challenge).toMatch(/^Bearer realm="verity"/);
    expect(challenge).toContain('error="insufficient_user_authentication"');
    expect(challenge).toContain('acr_values="urn:verity:acr:mfa"');
    expect(challenge).toContain("max_age=300");
    // The deny is a policy decision about an authenticated caller: recorded in acme's log, with the facts.
    const [record] = await auditFor("acme", response.headers.get("x-request-id")!);
    expect(record).toMatchObject({
      decision: "deny",
      code: "insufficient_user_authentication",
      principal: { id: "alice" },
      facts: { authn: { mfa: false } },
    });
  }
});

describe("Cloudflare Access application tokens (Cf-Access-Jwt-Assertion) through the whole Worker", () => {
  /** An Access token as Access shapes it: RS256, `typ: JWT`, the AUD tag, `email`, `type: app`. */
  function accessToken(payload: Record<string, unknown>): Promise<string> {
    const now = nowSeconds();
    return new SignJWT({ iss: ACCESS.issuer, aud: [ACCESS.aud], iat: now, nbf: now, exp: now + 600, type: "app", identity_nonce: "n", ...payload })
      .setProtectedHeader({ alg: "RS256", typ: "JWT", kid: accessKey.kid })
      .sign(accessKey.privateKey);
  }

  it("serves a user's Access token: method cloudflare-access, the issuer's one tenant", async () => {
    const token = await accessToken({ sub: "alice", email: "alice@acme.example", country: "DE" });
    const record = await expectServed(await chat({ headers: { "cf-access-jwt-assertion": token } }));
    expect(record.principal).toMatchObject({ kind: "user", id: "alice", method: "cloudflare-access", issuer: ACCESS.issuer, binding: "none" });
  });

  it("serves an Access service token (empty sub, common_name) as the workload it names", async () => {
    const token = await accessToken({ sub: "", common_name: "acme-batch" });
    const record = await expectServed(await chat({ headers: { "cf-access-jwt-assertion": token } }));
    expect(record.principal).toMatchObject({ kind: "workload", id: "acme-batch", method: "cloudflare-access" });
  });

  it("refuses an Access token presented as a Bearer token: Access tokens come only in Access's header", async () => {
    const token = await accessToken({ sub: "alice" });
    await expectRefused(await chat({ headers: bearerAuth(token) }), { code: "token_invalid", reason: /issuer is not trusted/ });
  });

  it("refuses an OIDC token presented in the Access header", async () => {
    await expectRefused(await chat({ headers: { "cf-access-jwt-assertion": alice } }), { code: "token_invalid", reason: /issuer is not trusted/ });
  });

  it("refuses a request that carries both an Authorization token and an Access assertion", async () => {
    const token = await accessToken({ sub: "alice" });
    await expectRefused(await chat({ headers: { ...bearerAuth(alice), "cf-access-jwt-assertion": token } }), {
      code: "token_invalid",
      reason: /either an Authorization token or an Access assertion/,
      error: "invalid_request",
    });
  });

  it("refuses an Access token for another application (AUD tag)", async () => {
    const token = await accessToken({ sub: "alice", aud: ["another-application-aud-tag"] });
    await expectRefused(await chat({ headers: { "cf-access-jwt-assertion": token } }), { code: "token_invalid", reason: /"aud" claim/ });
  });
});

describe("an issuer that requires sender-constrained tokens", () => {
  async function requireBinding(): Promise<void> {
    await seedKv(env.CONFIG, (files) => {
      withLocalIssuers(files);
      for (const issuer of files.issuers as Array<{ id: string; binding?: string }>) if (issuer.id === "forge") issuer.binding = "required";
    });
  }

  it("refuses its plain bearer token (token_unbound), serves its certificate-bound token with the certificate", async () => {
    await requireBinding();
    try {
      await expectRefused(await chat({ headers: bearerAuth(await forged()) }), { code: "token_unbound", reason: /must be sender-constrained/ });
      const bound = await forged({ cnf: { "x5t#S256": THUMBPRINTS["alice-device"] } });
      const record = await expectServed(await chat({ headers: bearerAuth(bound), cf: cfWith("alice-device") }));
      expect(record.principal).toMatchObject({ id: "alice", binding: "mtls" });
      // Other issuers keep their own setting: the dev identity provider's bearer tokens are still served.
      await expectServed(await chat({ headers: bearerAuth(alice) }));
    } finally {
      await seedKv(env.CONFIG, withLocalIssuers);
    }
  });
});
