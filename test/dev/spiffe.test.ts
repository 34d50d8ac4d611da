import { readFileSync } from "node:fs";
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JWK } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findWorkload } from "../../dev/accounts.ts";
import { startSpiffeIssuer, type RunningSpiffeIssuer } from "../../dev/spiffe.ts";
import { readCertificate } from "../../worker/identity/client-certificate.ts";
import { verifyX509Svid } from "../../worker/identity/x509-svid.ts";
import type { TrustDomain } from "../../worker/workload/registry.ts";

let issuer: RunningSpiffeIssuer;
const batch = findWorkload("acme-batch")!;
const AUDIENCE = "https://gateway.verity.local";

beforeAll(async () => {
  issuer = await startSpiffeIssuer({ port: 0 });
});
afterAll(() => issuer.close());

interface Bundle {
  keys: JWK[];
  spiffe_sequence: number;
  spiffe_refresh_hint: number;
}

async function bundle(): Promise<Bundle> {
  const response = await fetch(issuer.bundleUri);
  expect(response.status).toBe(200);
  return (await response.json()) as Bundle;
}

function basic(id: string, secret: string): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString("base64")}`;
}

function requestSvid(body: string, headers: Record<string, string>): Promise<Response> {
  return fetch(`${issuer.origin}/jwt-svid`, { method: "POST", body, headers });
}

const pemBody = (name: string) => readFileSync(new URL(`../../dev/pki/${name}.pem`, import.meta.url), "utf8").replace(/-----(BEGIN|END) CERTIFICATE-----|\s/g, "");

describe("dev SPIFFE issuer: bundle", () => {
  it("serves the trust domain's bundle: the X.509-SVID CA and the JWT-SVID key", async () => {
    const { keys, spiffe_sequence, spiffe_refresh_hint } = await bundle();
    expect(issuer.trustDomain).toBe("acme.verity.local");
    expect(spiffe_sequence).toBeGreaterThan(0);
    expect(spiffe_refresh_hint).toBe(300);
    const x509 = keys.filter((k) => k.use === "x509-svid");
    const jwt = keys.filter((k) => k.use === "jwt-svid");
    expect(x509).toHaveLength(1);
    expect(x509[0]!.x5c).toEqual([pemBody("spiffe-ca")]);
    expect(x509[0]).toMatchObject({ kty: "EC", crv: "P-256" });
    expect(jwt).toHaveLength(1);
    expect(jwt[0]).toMatchObject({ kty: "EC", crv: "P-256" });
    expect(jwt[0]!.kid).toEqual(expect.any(String));
    expect(jwt[0]).not.toHaveProperty("d");
  });

  it("its X.509-SVID CA verifies the dev PKI's acme-batch SVID (the gateway's own check)", async () => {
    const { keys } = await bundle();
    const domain: TrustDomain = { id: "acme", trustDomain: "acme.verity.local", tenant: "acme", bundleUri: issuer.bundleUri, audiences: [AUDIENCE], algorithms: ["ES256"] };
    const leaf = await readCertificate(new Uint8Array(Buffer.from(pemBody("acme-batch-svid"), "base64")));
    const svid = await verifyX509Svid(leaf, [domain], async () => keys);
    expect(svid.spiffeId).toBe("spiffe://acme.verity.local/workload/acme-batch");
  });
});

describe("dev SPIFFE issuer: JWT-SVIDs", () => {
  it("issues a JWT-SVID for the authenticated workload (JSON body)", async () => {
    const response = await requestSvid(JSON.stringify({ audience: AUDIENCE }), {
      authorization: basic(batch.name, batch.clientSecret),
      "content-type": "application/json",
    });
    expect(response.status).toBe(200);
    const { svid } = (await response.json()) as { svid: string };
    const { keys } = await bundle();
    // jose accepts only `use: "sig"` (or none): a relying party strips the SPIFFE `use` after selecting.
    const jwtKeys = keys.filter((k) => k.use === "jwt-svid").map(({ use: _use, ...key }) => key);
    const { payload, protectedHeader } = await jwtVerify(svid, createLocalJWKSet({ keys: jwtKeys }), {
      audience: AUDIENCE,
      algorithms: ["ES256"],
    });
    expect(protectedHeader).toMatchObject({ alg: "ES256", typ: "JWT", kid: keys.find((k) => k.use === "jwt-svid")!.kid });
    expect(payload.sub).toBe("spiffe://acme.verity.local/workload/acme-batch");
    expect(payload.aud).toEqual([AUDIENCE]);
    expect(payload.exp! - payload.iat!).toBe(300);
  });

  it("accepts a form body too", async () => {
    const response = await requestSvid(new URLSearchParams({ audience: "spiffe://acme.verity.local/gateway" }).toString(), {
      authorization: basic(batch.name, batch.clientSecret),
      "content-type": "application/x-www-form-urlencoded",
    });
    expect(response.status).toBe(200);
    const { svid } = (await response.json()) as { svid: string };
    expect(decodeProtectedHeader(svid).typ).toBe("JWT");
  });

  it("refuses a wrong secret, an unknown workload and a missing Authorization", async () => {
    const body = JSON.stringify({ audience: AUDIENCE });
    for (const authorization of [basic(batch.name, "wrong"), basic("nobody", batch.clientSecret), "Bearer x", undefined]) {
      const headers: Record<string, string> = { "content-type": "application/json" };
      if (authorization) headers.authorization = authorization;
      const response = await requestSvid(body, headers);
      expect(response.status).toBe(401);
      expect(response.headers.get("www-authenticate")).toBe('Basic realm="spiffe"');
    }
  });

  it("refuses a request without an audience", async () => {
    for (const body of ["{}", JSON.stringify({ audience: "" }), JSON.stringify({ audience: ["a"] }), "not json"]) {
      const response = await requestSvid(body, { authorization: basic(batch.name, batch.clientSecret), "content-type": "application/json" });
      expect(response.status).toBe(400);
    }
  });

  it("answers 404 elsewhere and for other methods", async () => {
    expect((await fetch(`${issuer.origin}/jwt-svid`)).status).toBe(404);
    expect((await fetch(`${issuer.origin}/other`)).status).toBe(404);
  });
});
