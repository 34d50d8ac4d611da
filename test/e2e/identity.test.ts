/**
 * End to end: one real credential of each kind the identity plane accepts, from the dev identity
 * provider, the dev SPIFFE issuer and the dev PKI, used through the official OpenAI client against the
 * stack the global set-up started: bearer, DPoP-bound, certificate-bound (through the dev edge), MFA,
 * a workload by client credentials, a JWT-SVID, an X.509-SVID and a registered client certificate.
 * Each is served, and its decision record in acme's audit log says how the caller was proven.
 * Then the refusals only the real edge path can show: revoked and unknown client certificates, and a
 * replayed DPoP proof.
 */
import OpenAI from "openai";
import { beforeAll, describe, expect, it } from "vitest";
import { findWorkload } from "../../dev/accounts.ts";
import { EDGE_ORIGIN, GATEWAY_AUDIENCE, GATEWAY_ORIGIN, IDP_ORIGIN, SPIFFE_ORIGIN } from "../../dev/config.ts";
import { devCertificate, fetchWithCertificate, mtlsTokenFor, type CertificateFetch } from "../support/mtls-tokens.ts";
import { dpopProofFor, dpopTokenFor, tokenFor, type DpopBoundToken } from "../support/tokens.ts";

const CHAT_URL = `${GATEWAY_ORIGIN}/v1/chat/completions`;
const MESSAGES = [{ role: "user" as const, content: "Hello from the identity tests" }];

let bob: string;

beforeAll(async () => {
  bob = await tokenFor("bob");
});

type SdkFetch = NonNullable<ConstructorParameters<typeof OpenAI>[0]>["fetch"];

function urlOf(input: string | URL | Request): string {
  return typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
}

/** The SDK against the gateway directly, or through the dev edge (https, client certificates). */
function client(options: { apiKey?: string; fetch?: SdkFetch; baseURL?: string } = {}): OpenAI {
  return new OpenAI({
    apiKey: options.apiKey ?? "unused",
    baseURL: options.baseURL ?? `${GATEWAY_ORIGIN}/v1`,
    maxRetries: 0,
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
}

/** RFC 9449 for the SDK: `Authorization: DPoP <token>` and a fresh proof for every request it sends. */
function dpopFetch(bound: DpopBoundToken): SdkFetch {
  return async (input, init = {}) => {
    const url = urlOf(input);
    const headers = new Headers(init.headers);
    headers.set("authorization", `DPoP ${bound.accessToken}`);
    headers.set("dpop", await dpopProofFor({ keyPair: bound.keyPair, method: init.method ?? "GET", url, accessToken: bound.accessToken }));
    return fetch(url, { ...init, headers });
  };
}

/**
 * The SDK's requests through the dev edge with a client certificate (trusting dev/pki/server-ca.pem).
 * With `token` the request carries it as a Bearer token; without, the certificate is the only credential
 * (the SDK's placeholder API key is dropped).
 */
function certificateFetch(name: string, token?: string): SdkFetch {
  const send: CertificateFetch = fetchWithCertificate(devCertificate(name));
  return (input, init = {}) => {
    const headers = new Headers(init.headers);
    if (token === undefined) headers.delete("authorization");
    else headers.set("authorization", `Bearer ${token}`);
    // node:https hands back the body as sent; ask for it uncompressed.
    headers.set("accept-encoding", "identity");
    return send(urlOf(input), { ...init, headers });
  };
}

const edgeBase = `${EDGE_ORIGIN}/v1`;

interface AuditRecord {
  requestId: string;
  type: string;
  decision?: string;
  principal?: { kind: string; id: string; method: string; issuer: string; binding: string } | null;
  facts?: { authn?: { method: string; mfa: boolean; acr: string; binding: string } };
}

/** The decision record of `requestId` in acme's log, read by bob (an auditor) through the audit route. */
async function decisionFor(requestId: string): Promise<AuditRecord> {
  const auth = { headers: { authorization: `Bearer ${bob}` } };
  const head = await fetch(`${GATEWAY_ORIGIN}/audit/acme/head`, auth);
  expect(head.status).toBe(200);
  const { size } = (await head.json()) as { size: number };
  const page = await fetch(`${GATEWAY_ORIGIN}/audit/acme/entries?start=${Math.max(0, size - 500)}`, auth);
  expect(page.status).toBe(200);
  const { entries } = (await page.json()) as { entries: Array<{ record: AuditRecord }> };
  const records = entries.map((e) => e.record).filter((r) => r.requestId === requestId && r.type === "decision");
  expect(records).toHaveLength(1);
  return records[0]!;
}

/** A chat completion that must be served; returns its decision record. */
async function served(openai: OpenAI): Promise<AuditRecord> {
  const { data, response } = await openai.chat.completions.create({ model: "gpt-4o-mini", messages: MESSAGES }).withResponse();
  expect(data.object).toBe("chat.completion");
  expect(data.choices[0]?.message.content).toContain("eu-public");
  const requestId = response.headers.get("x-request-id");
  expect(requestId).toBeTruthy();
  const record = await decisionFor(requestId!);
  expect(record.decision).toBe("allow");
  return record;
}

/** A chat completion that must be refused with 401 and `code`. */
async function refused(openai: OpenAI, code: string): Promise<InstanceType<typeof OpenAI.AuthenticationError>> {
  const error = await openai.chat.completions.create({ model: "gpt-4o-mini", messages: MESSAGES }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(OpenAI.AuthenticationError);
  const refusal = error as InstanceType<typeof OpenAI.AuthenticationError>;
  expect(refusal.status).toBe(401);
  expect(refusal.code).toBe(code);
  expect(refusal.headers?.get("www-authenticate")).toMatch(/realm="verity"/);
  return refusal;
}

describe("each kind of credential, real, served through the OpenAI SDK", () => {
  it("bearer: alice's access token from the dev identity provider", async () => {
    const record = await served(client({ apiKey: await tokenFor("alice") }));
    expect(record.principal).toMatchObject({ kind: "user", id: "alice", method: "oidc", issuer: IDP_ORIGIN, binding: "none" });
  });

  it("DPoP-bound: alice's token with a fresh proof per request (htu the gateway's URL)", async () => {
    const bound = await dpopTokenFor("alice");
    const openai = client({ fetch: dpopFetch(bound) });
    const first = await served(openai);
    expect(first.principal).toMatchObject({ kind: "user", id: "alice", method: "oidc", binding: "dpop" });
    // A second request gets its own proof and is served too.
    await served(openai);
    // The same token without its proof is refused.
    await refused(client({ apiKey: bound.accessToken }), "proof_missing");
  });

  it("certificate-bound: alice-device's token from the mTLS endpoint, through the edge with that certificate", async () => {
    const token = await mtlsTokenFor("alice", devCertificate("alice-device"));
    const record = await served(client({ baseURL: edgeBase, fetch: certificateFetch("alice-device", token) }));
    expect(record.principal).toMatchObject({ kind: "user", id: "alice", method: "oidc", binding: "mtls" });
    // With another certificate, or straight to the gateway without one, the token is refused.
    await refused(client({ baseURL: edgeBase, fetch: certificateFetch("bob-device", token) }), "proof_missing");
    await refused(client({ apiKey: token }), "proof_missing");
  });

  it("MFA: bob's token carries acr/amr into the decision (mfa true), alice's does not", async () => {
    // No seeded policy asks for step-up on a model call (step-up guards restricted documents and
    // administration, which have no route yet), so the MFA facts are checked where policy reads them.
    // test/worker/identity.test.ts publishes a step-up policy and checks the 401 and its acr_values.
    const bobRecord = await served(client({ apiKey: bob }));
    expect(bobRecord.principal).toMatchObject({ kind: "user", id: "bob", method: "oidc" });
    expect(bobRecord.facts?.authn).toMatchObject({ mfa: true, acr: "urn:verity:acr:mfa" });
    const aliceRecord = await served(client({ apiKey: await tokenFor("alice") }));
    expect(aliceRecord.facts?.authn).toMatchObject({ mfa: false, acr: "urn:verity:acr:pwd" });
  });

  it("workload: acme-batch's token by client credentials", async () => {
    const record = await served(client({ apiKey: await tokenFor("acme-batch") }));
    expect(record.principal).toMatchObject({ kind: "workload", id: "acme-batch", method: "oidc", binding: "none" });
  });

  it("JWT-SVID: acme-batch's SVID from the dev SPIFFE issuer", async () => {
    const workload = findWorkload("acme-batch")!;
    const response = await fetch(`${SPIFFE_ORIGIN}/jwt-svid`, {
      method: "POST",
      headers: {
        authorization: `Basic ${Buffer.from(`${workload.name}:${workload.clientSecret}`).toString("base64")}`,
        "content-type": "application/x-www-form-urlencoded",
      },
      body: new URLSearchParams({ audience: GATEWAY_AUDIENCE }).toString(),
    });
    expect(response.status).toBe(200);
    const { svid } = (await response.json()) as { svid: string };
    const record = await served(client({ apiKey: svid }));
    expect(record.principal).toMatchObject({
      kind: "workload",
      id: "acme-batch",
      method: "spiffe-jwt",
      issuer: "spiffe://acme.verity.local",
      binding: "none",
    });
  });

  it("X.509-SVID: acme-batch's SVID certificate alone, through the edge", async () => {
    const record = await served(client({ baseURL: edgeBase, fetch: certificateFetch("acme-batch-svid") }));
    expect(record.principal).toMatchObject({
      kind: "workload",
      id: "acme-batch",
      method: "spiffe-x509",
      issuer: "spiffe://acme.verity.local",
      binding: "mtls",
    });
  });

  it("registered client certificate: acme-batch-client alone, through the edge", async () => {
    const record = await served(client({ baseURL: edgeBase, fetch: certificateFetch("acme-batch-client") }));
    expect(record.principal).toMatchObject({ kind: "workload", id: "acme-batch", method: "mtls", binding: "mtls" });
  });
});

describe("refusals on the real paths", () => {
  it("a revoked client certificate through the edge: 401 certificate_invalid", async () => {
    const refusal = await refused(client({ baseURL: edgeBase, fetch: certificateFetch("revoked-client") }), "certificate_invalid");
    expect(refusal.message).toMatch(/revoked/);
  });

  it("a stranger's certificate (unknown CA) through the edge: 401 certificate_invalid", async () => {
    const refusal = await refused(client({ baseURL: edgeBase, fetch: certificateFetch("stranger") }), "certificate_invalid");
    expect(refusal.message).toMatch(/not verified/);
  });

  it("a replayed DPoP proof: served once, then 401 dpop_proof_replayed", async () => {
    const bound = await dpopTokenFor("alice");
    const proof = await dpopProofFor({ keyPair: bound.keyPair, method: "POST", url: CHAT_URL, accessToken: bound.accessToken });
    const send = () =>
      fetch(CHAT_URL, {
        method: "POST",
        headers: { authorization: `DPoP ${bound.accessToken}`, dpop: proof, "content-type": "application/json" },
        body: JSON.stringify({ model: "gpt-4o-mini", messages: MESSAGES }),
      });
    const first = await send();
    expect(first.status, await first.clone().text()).toBe(200);
    await first.body?.cancel();
    const second = await send();
    expect(second.status).toBe(401);
    expect(second.headers.get("www-authenticate")).toMatch(/^DPoP realm="verity", error="invalid_dpop_proof"/);
    expect(((await second.json()) as { error: { code: string } }).error.code).toBe("dpop_proof_replayed");
  });
});
