import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify, type JWTPayload } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import accounts from "../../dev/accounts.json";
import { GATEWAY_AUDIENCE } from "../../dev/config.ts";
import { ACR_MFA, ACR_PASSWORD, startIdp, type RunningIdp } from "../../dev/idp.ts";
import { TokenRequestError, tokenFor } from "../support/tokens.ts";

interface Discovery {
  issuer: string;
  token_endpoint: string;
  jwks_uri: string;
  grant_types_supported: string[];
}

let idp: RunningIdp;
let discovery: Discovery;

beforeAll(async () => {
  idp = await startIdp({ port: 0 });
  discovery = (await (await fetch(`${idp.issuer}/.well-known/openid-configuration`)).json()) as Discovery;
});

afterAll(async () => {
  await idp.close();
});

async function verifiedClaims(name: string): Promise<JWTPayload> {
  const token = await tokenFor(name, idp.issuer);
  const { payload } = await jwtVerify(token, createRemoteJWKSet(new URL(discovery.jwks_uri)), {
    issuer: idp.issuer,
    audience: GATEWAY_AUDIENCE,
    typ: "at+jwt",
    algorithms: ["ES256"],
  });
  return payload;
}

function postToken(fields: Record<string, string>): Promise<Response> {
  return fetch(discovery.token_endpoint, { method: "POST", body: new URLSearchParams(fields) });
}

const cli = { client_id: accounts.cliClient.id, client_secret: accounts.cliClient.secret };

describe("discovery and keys", () => {
  it("publishes an OpenID configuration for its own issuer", () => {
    expect(idp.issuer).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(discovery.issuer).toBe(idp.issuer);
    expect(discovery.token_endpoint).toBe(`${idp.issuer}/token`);
    expect(discovery.jwks_uri).toBe(`${idp.issuer}/jwks`);
    expect(discovery.grant_types_supported).toEqual(expect.arrayContaining(["password", "client_credentials"]));
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
  });

  it("marks bob, an MFA user, with the MFA acr and both methods", async () => {
    expect(await verifiedClaims("bob")).toMatchObject({ sub: "bob", tenant: "acme", acr: ACR_MFA, amr: ["pwd", "otp"] });
  });

  it("puts each user's own tenant in the token", async () => {
    expect(await verifiedClaims("carol")).toMatchObject({ sub: "carol", tenant: "globex" });
    expect(await verifiedClaims("mallory")).toMatchObject({ sub: "mallory", tenant: "acme", acr: ACR_PASSWORD });
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
