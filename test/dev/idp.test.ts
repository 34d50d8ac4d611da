import { createHash, X509Certificate } from "node:crypto";
import { request } from "node:https";
import {
  calculateJwkThumbprint,
  createRemoteJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  exportJWK,
  generateKeyPair,
  jwtVerify,
  SignJWT,
  type JWTPayload,
} from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import accounts from "../../dev/accounts.json";
import { GATEWAY_AUDIENCE } from "../../dev/config.ts";
import { ACR_MFA, ACR_PASSWORD, startIdp, type RunningIdp } from "../../dev/idp.ts";
import thumbprints from "../../dev/pki/thumbprints.json";
import {
  devCertificate,
  devServerCa,
  fetchWithCertificate,
  mtlsTokenFor,
  type ClientCertificate,
} from "../support/mtls-tokens.ts";
import { dpopProofFor, dpopTokenFor, TokenRequestError, tokenFor } from "../support/tokens.ts";

interface Discovery {
  issuer: string;
  token_endpoint: string;
  jwks_uri: string;
  grant_types_supported: string[];
  dpop_signing_alg_values_supported: string[];
  tls_client_certificate_bound_access_tokens: boolean;
  mtls_endpoint_aliases: { token_endpoint: string };
}

let idp: RunningIdp;
let mtlsOrigin: string;
let discovery: Discovery;

beforeAll(async () => {
  idp = await startIdp({ port: 0, mtlsPort: 0 });
  mtlsOrigin = idp.mtlsOrigin ?? "";
  discovery = (await (await fetch(`${idp.issuer}/.well-known/openid-configuration`)).json()) as Discovery;
});

afterAll(async () => {
  await idp.close();
});

async function verified(token: string): Promise<JWTPayload> {
  const { payload } = await jwtVerify(token, createRemoteJWKSet(new URL(discovery.jwks_uri)), {
    issuer: idp.issuer,
    audience: GATEWAY_AUDIENCE,
    typ: "at+jwt",
    algorithms: ["ES256"],
  });
  return payload;
}

async function verifiedClaims(name: string): Promise<JWTPayload> {
  return verified(await tokenFor(name, idp.issuer));
}

function postToken(fields: Record<string, string>, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(discovery.token_endpoint, { method: "POST", headers, body: new URLSearchParams(fields) });
}

async function thumbprintOf(keyPair: CryptoKeyPair): Promise<string> {
  return calculateJwkThumbprint(await exportJWK(keyPair.publicKey));
}

/** RFC 8705 §3.1: base64url SHA-256 of the certificate's DER, computed here independently of the PKI script. */
function x5tS256(certificate: ClientCertificate): string {
  return createHash("sha256").update(new X509Certificate(certificate.cert).raw).digest("base64url");
}

/** A token request over https to the mutual-TLS listener that presents no client certificate. */
function postWithoutCertificate(body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const outgoing = request(
      `${mtlsOrigin}/token`,
      {
        method: "POST",
        ca: devServerCa(),
        agent: false,
        headers: { "content-type": "application/x-www-form-urlencoded" },
      },
      (incoming) => {
        incoming.resume();
        resolve(incoming.statusCode ?? 0);
      },
    );
    outgoing.on("error", reject);
    outgoing.end(body);
  });
}

const cli = { client_id: accounts.cliClient.id, client_secret: accounts.cliClient.secret };
const alicePassword = { ...cli, grant_type: "password", username: "alice", password: accounts.users.alice.password };

describe("discovery and keys", () => {
  it("publishes an OpenID configuration for its own issuer", () => {
    expect(idp.issuer).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(discovery.issuer).toBe(idp.issuer);
    expect(discovery.token_endpoint).toBe(`${idp.issuer}/token`);
    expect(discovery.jwks_uri).toBe(`${idp.issuer}/jwks`);
    expect(discovery.grant_types_supported).toEqual(expect.arrayContaining(["password", "client_credentials"]));
  });

  it("announces DPoP, certificate-bound tokens and the mutual-TLS token endpoint (RFC 8705 §3.3, §5)", () => {
    expect(mtlsOrigin).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(discovery.dpop_signing_alg_values_supported).toContain("ES256");
    expect(discovery.tls_client_certificate_bound_access_tokens).toBe(true);
    expect(discovery.mtls_endpoint_aliases).toEqual({ token_endpoint: `${mtlsOrigin}/token` });
  });

  it("has no mutual-TLS listener unless asked for one", async () => {
    const plain = await startIdp({ port: 0 });
    try {
      expect(plain.mtlsOrigin).toBeUndefined();
      const metadata = (await (await fetch(`${plain.issuer}/.well-known/openid-configuration`)).json()) as object;
      expect(metadata).not.toHaveProperty("mtls_endpoint_aliases");
    } finally {
      await plain.close();
    }
  });

  it("serves ES256 and RS256 public signing keys, and nothing private", async () => {
    const { keys } = (await (await fetch(discovery.jwks_uri)).json()) as { keys: Record<string, unknown>[] };
    expect(keys.map((key) => key["alg"]).sort()).toEqual(["ES256", "RS256"]);
    for (const key of keys) {
      expect(key).toMatchObject({ use: "sig", kid: expect.any(String) });
      expect(key).not.toHaveProperty("d");
    }
  });
});

describe("users: password grant through verity-cli", () => {
  it("issues alice an RFC 9068 JWT for the gateway with tenant and password-only authentication", async () => {
    const token = await tokenFor("alice", idp.issuer);
    expect(decodeProtectedHeader(token)).toMatchObject({ alg: "ES256", typ: "at+jwt", kid: expect.any(String) });

    const claims = await verifiedClaims("alice");
    expect(claims).toMatchObject({
      iss: idp.issuer,
      sub: "alice",
      aud: GATEWAY_AUDIENCE,
      client_id: "verity-cli",
      scope: "openid profile gateway",
      tenant: "acme",
      acr: ACR_PASSWORD,
      amr: ["pwd"],
    });
    expect(claims.jti).toEqual(expect.any(String));
    expect(claims.auth_time).toBe(claims.iat);
    expect((claims.exp ?? 0) - (claims.iat ?? 0)).toBe(600);
    expect(claims).not.toHaveProperty("cnf");
  });

  it("marks bob, an MFA user, with the MFA acr and both methods", async () => {
    expect(await verifiedClaims("bob")).toMatchObject({ sub: "bob", tenant: "acme", acr: ACR_MFA, amr: ["pwd", "otp"] });
  });

  it("puts each user's own tenant and groups in the token", async () => {
    expect(await verifiedClaims("alice")).toMatchObject({ groups: ["members"] });
    expect(await verifiedClaims("bob")).toMatchObject({ groups: ["members", "auditors"] });
    expect(await verifiedClaims("carol")).toMatchObject({ sub: "carol", tenant: "globex", groups: ["members"] });
    expect(await verifiedClaims("mallory")).toMatchObject({
      sub: "mallory",
      tenant: "acme",
      acr: ACR_PASSWORD,
      groups: ["contractors"],
    });
  });

  it("gives every login its own session id", async () => {
    const [first, second] = await Promise.all([verifiedClaims("alice"), verifiedClaims("alice")]);
    expect(first.sid).toMatch(/^[0-9a-f-]{36}$/);
    expect(second.sid).toMatch(/^[0-9a-f-]{36}$/);
    expect(first.sid).not.toBe(second.sid);
  });

  it("refuses a wrong password and an unknown user alike, with invalid_grant", async () => {
    for (const [username, password] of [["alice", "not-her-password"], ["nobody", "alice-dev-password"]] as const) {
      const response = await postToken({ ...cli, grant_type: "password", username, password });
      expect(response.status).toBe(400);
      expect(await response.json()).toMatchObject({ error: "invalid_grant" });
    }
  });

  it("refuses a missing password as an invalid request", async () => {
    const response = await postToken({ ...cli, grant_type: "password", username: "alice" });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: "invalid_request" });
  });

  it("refuses the password grant to a client with the wrong secret", async () => {
    const response = await postToken({
      ...cli,
      client_secret: "wrong",
      grant_type: "password",
      username: "alice",
      password: accounts.users.alice.password,
    });
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ error: "invalid_client" });
  });

  it("refuses the password grant to a workload's client", async () => {
    const { clientSecret } = accounts.workloads["acme-batch"];
    const response = await postToken({
      client_id: "acme-batch",
      client_secret: clientSecret,
      grant_type: "password",
      username: "alice",
      password: accounts.users.alice.password,
    });
    expect(response.status).toBe(400);
  });

  it("refuses a token for any resource but the gateway", async () => {
    const response = await postToken({
      ...cli,
      grant_type: "password",
      username: "alice",
      password: accounts.users.alice.password,
      resource: "https://elsewhere.example",
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: "invalid_target" });
  });

  it("grants only the requested subset of the gateway's scopes", async () => {
    const response = await postToken({
      ...cli,
      grant_type: "password",
      username: "alice",
      password: accounts.users.alice.password,
      scope: "gateway unknown-scope",
    });
    expect(await response.json()).toMatchObject({ scope: "gateway", token_type: "Bearer", expires_in: 600 });
  });
});

describe("workloads: client credentials", () => {
  it("issues acme-batch a gateway JWT with its client id as subject and its tenant", async () => {
    const claims = await verifiedClaims("acme-batch");
    expect(claims).toMatchObject({
      sub: "acme-batch",
      client_id: "acme-batch",
      aud: GATEWAY_AUDIENCE,
      tenant: "acme",
      scope: "gateway",
    });
    expect(claims).not.toHaveProperty("acr");
    expect(claims).not.toHaveProperty("groups");
    expect(claims).not.toHaveProperty("sid");
    expect(claims).not.toHaveProperty("cnf");
  });

  it("grants a workload that asks for no scope the gateway's scope only", async () => {
    const { clientSecret } = accounts.workloads["acme-batch"];
    const response = await postToken({
      grant_type: "client_credentials",
      client_id: "acme-batch",
      client_secret: clientSecret,
    });
    expect(await response.json()).toMatchObject({ scope: "gateway", token_type: "Bearer" });
  });

  it("refuses a token for any resource but the gateway", async () => {
    const { clientSecret } = accounts.workloads["acme-batch"];
    const response = await postToken({
      grant_type: "client_credentials",
      client_id: "acme-batch",
      client_secret: clientSecret,
      resource: "https://elsewhere.example",
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: "invalid_target" });
  });

  it("refuses a wrong client secret", async () => {
    const response = await postToken({ grant_type: "client_credentials", client_id: "acme-batch", client_secret: "wrong" });
    expect(response.status).toBe(401);
  });
});

describe("tokenFor", () => {
  it("names the known principals when asked for an unknown one", async () => {
    const error = await tokenFor("eve", idp.issuer).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(TokenRequestError);
    expect(error).toMatchObject({ code: "unknown_principal", message: expect.stringContaining("alice, bob, carol") });
  });

  it("says so when the identity provider is unreachable", async () => {
    const gone = await startIdp({ port: 0 });
    await gone.close();
    await expect(tokenFor("alice", gone.issuer)).rejects.toMatchObject({ code: "idp_unreachable" });
  });
});

describe("DPoP-bound tokens (RFC 9449)", () => {
  it("binds alice's token to the proof's key: cnf.jkt, token_type DPoP", async () => {
    const keyPair = await generateKeyPair("ES256");
    const proof = await dpopProofFor({ keyPair, method: "POST", url: discovery.token_endpoint });
    const response = await postToken(alicePassword, { dpop: proof });
    const body = (await response.json()) as { access_token: string; token_type: string };
    expect(body.token_type).toBe("DPoP");

    const claims = await verified(body.access_token);
    expect(claims.cnf).toEqual({ jkt: await thumbprintOf(keyPair) });
    expect(claims).toMatchObject({ sub: "alice", tenant: "acme", acr: ACR_PASSWORD, groups: ["members"] });
  });

  it("binds bob's MFA token and a workload's token the same way", async () => {
    for (const name of ["bob", "acme-batch"]) {
      const { accessToken, keyPair } = await dpopTokenFor(name, { idpOrigin: idp.issuer });
      const claims = await verified(accessToken);
      expect(claims).toMatchObject({ sub: name, cnf: { jkt: await thumbprintOf(keyPair) } });
    }
    expect(decodeJwt((await dpopTokenFor("bob", { idpOrigin: idp.issuer })).accessToken)).toMatchObject({
      acr: ACR_MFA,
      amr: ["pwd", "otp"],
    });
  });

  it("binds to the key it is given, and to a throwaway key with dpop: true", async () => {
    const keyPair = await generateKeyPair("ES256");
    expect(decodeJwt(await tokenFor("alice", { idpOrigin: idp.issuer, dpop: keyPair })).cnf).toEqual({
      jkt: await thumbprintOf(keyPair),
    });
    expect(decodeJwt(await tokenFor("acme-batch", { idpOrigin: idp.issuer, dpop: true })).cnf).toEqual({
      jkt: expect.stringMatching(/^[\w-]{43}$/),
    });
  });

  it("accepts an Ed25519 proof key", async () => {
    const keyPair = await generateKeyPair("EdDSA", { crv: "Ed25519" });
    const { accessToken } = await dpopTokenFor("alice", { idpOrigin: idp.issuer, keyPair });
    expect(decodeJwt(accessToken).cnf).toEqual({ jkt: await thumbprintOf(keyPair) });
  });

  it("refuses a proof for another URL or method", async () => {
    const keyPair = await generateKeyPair("ES256");
    for (const proof of [
      await dpopProofFor({ keyPair, method: "POST", url: `${idp.issuer}/other` }),
      await dpopProofFor({ keyPair, method: "GET", url: discovery.token_endpoint }),
    ]) {
      const response = await postToken(alicePassword, { dpop: proof });
      expect(response.status).toBe(400);
      expect(await response.json()).toMatchObject({ error: "invalid_dpop_proof" });
    }
  });

  it("refuses a replayed proof", async () => {
    const keyPair = await generateKeyPair("ES256");
    const proof = await dpopProofFor({ keyPair, method: "POST", url: discovery.token_endpoint });
    expect((await postToken(alicePassword, { dpop: proof })).status).toBe(200);
    const replay = await postToken(alicePassword, { dpop: proof });
    expect(replay.status).toBe(400);
    // oidc-provider words every invalid_grant alike; a fresh proof for the same request shows the jti was the cause.
    expect(await replay.json()).toMatchObject({ error: "invalid_grant" });
    const fresh = await dpopProofFor({ keyPair, method: "POST", url: discovery.token_endpoint });
    expect((await postToken(alicePassword, { dpop: fresh })).status).toBe(200);
  });

  it("refuses a stale proof, a proof that is no JWT, and an unsigned one", async () => {
    const keyPair = await generateKeyPair("ES256");
    const stale = await dpopProofFor({
      keyPair,
      method: "POST",
      url: discovery.token_endpoint,
      iat: Math.floor(Date.now() / 1000) - 600,
    });
    const signed = await dpopProofFor({ keyPair, method: "POST", url: discovery.token_endpoint });
    const [header, payload] = signed.split(".");
    const noneHeader = Buffer.from(JSON.stringify({ ...decodeProtectedHeader(signed), alg: "none" })).toString(
      "base64url",
    );
    for (const proof of [stale, "not-a-jwt", `${header}.${payload}.`, `${noneHeader}.${payload}.`]) {
      const response = await postToken(alicePassword, { dpop: proof });
      expect(response.status).toBe(400);
      expect(await response.json()).toMatchObject({ error: "invalid_dpop_proof" });
    }
  });

  it("refuses a proof signed by another key than its jwk, or whose jwk is a private key", async () => {
    const holder = await generateKeyPair("ES256", { extractable: true });
    const thief = await generateKeyPair("ES256");
    const claims = { jti: crypto.randomUUID(), htm: "POST", htu: discovery.token_endpoint };
    const foreign = await new SignJWT(claims)
      .setProtectedHeader({ typ: "dpop+jwt", alg: "ES256", jwk: await exportJWK(holder.publicKey) })
      .setIssuedAt()
      .sign(thief.privateKey);
    const privateJwk = await new SignJWT(claims)
      .setProtectedHeader({ typ: "dpop+jwt", alg: "ES256", jwk: await exportJWK(holder.privateKey) })
      .setIssuedAt()
      .sign(holder.privateKey);
    for (const proof of [foreign, privateJwk]) {
      const response = await postToken(alicePassword, { dpop: proof });
      expect(response.status).toBe(400);
      expect(await response.json()).toMatchObject({ error: "invalid_dpop_proof" });
    }
  });

  it("checks the proof before the password", async () => {
    const response = await postToken({ ...alicePassword, password: "wrong" }, { dpop: "not-a-jwt" });
    expect(await response.json()).toMatchObject({ error: "invalid_dpop_proof" });
  });
});

describe("certificate-bound tokens (RFC 8705) from the mutual-TLS listener", () => {
  it("binds alice's token to her device certificate: cnf x5t#S256, token_type Bearer", async () => {
    const certificate = devCertificate("alice-device");
    const claims = await verified(await mtlsTokenFor("alice", certificate, { mtlsOrigin }));
    expect(claims.cnf).toEqual({ "x5t#S256": x5tS256(certificate) });
    expect(x5tS256(certificate)).toBe(thumbprints["alice-device"]);
    // The issuer stays the plain origin: the mutual-TLS listener is an alias of the same provider.
    expect(claims).toMatchObject({ iss: idp.issuer, sub: "alice", acr: ACR_PASSWORD, groups: ["members"] });
  });

  it("binds bob's MFA token to his device and the workload's token to its client certificate", async () => {
    const bob = await verified(await mtlsTokenFor("bob", devCertificate("bob-device"), { mtlsOrigin }));
    expect(bob).toMatchObject({ acr: ACR_MFA, cnf: { "x5t#S256": thumbprints["bob-device"] } });
    const batch = await verified(await mtlsTokenFor("acme-batch", devCertificate("acme-batch-client"), { mtlsOrigin }));
    expect(batch).toMatchObject({
      sub: "acme-batch",
      tenant: "acme",
      cnf: { "x5t#S256": thumbprints["acme-batch-client"] },
    });
  });

  it("answers a certificate-bound token request with token_type Bearer", async () => {
    const response = await fetchWithCertificate(devCertificate("alice-device"))(`${mtlsOrigin}/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(alicePassword),
    });
    expect(await response.json()).toMatchObject({ token_type: "Bearer" });
  });

  it("refuses, in the TLS handshake, a client without a certificate or with one from an unknown CA", async () => {
    await expect(postWithoutCertificate(new URLSearchParams(alicePassword).toString())).rejects.toThrow();
    await expect(mtlsTokenFor("alice", devCertificate("stranger"), { mtlsOrigin })).rejects.toMatchObject({
      code: "idp_unreachable",
    });
  });

  it("refuses a token bound both to a certificate and to a DPoP key", async () => {
    const error = await mtlsTokenFor("alice", devCertificate("alice-device"), { mtlsOrigin, dpop: true }).catch(
      (caught: unknown) => caught,
    );
    expect(error).toMatchObject({ code: "idp_refused", message: expect.stringContaining("invalid_request") });
  });

  it("still authenticates the client and the user", async () => {
    const error = await fetchWithCertificate(devCertificate("alice-device"))(`${mtlsOrigin}/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ ...alicePassword, password: "wrong" }),
    });
    expect(error.status).toBe(400);
    expect(await error.json()).toMatchObject({ error: "invalid_grant" });
  });
});
