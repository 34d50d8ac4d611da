/**
 * The mock tool server refuses every call whose delegated token is not exactly right, and the tool
 * never runs then. Its own key pair stands in for the gateway's key ring; port 0, frozen time.
 */
import { createLocalJWKSet, exportJWK, generateKeyPair, SignJWT, type CryptoKey } from "jose";
import { createHash, randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startMockTools, type RunningMockTools } from "../../dev/tools.ts";
import { canonicalJson } from "../../worker/lib/canonical-json.ts";
import { DEFAULT_GATEWAY_ISSUER, DELEGATED_TOKEN_TYPE } from "../../worker/tools/delegated-token-claims.ts";

const NOW = Date.parse("2026-11-26T10:00:00Z");
const SEARCH_AUD = "urn:verity:tool:search_documents";
const args = { query: "handbook" };

let tools: RunningMockTools;
let gatewayKey: CryptoKey;
let otherKey: CryptoKey;

beforeAll(async () => {
  const gateway = await generateKeyPair("EdDSA", { crv: "Ed25519" });
  gatewayKey = gateway.privateKey;
  otherKey = (await generateKeyPair("EdDSA", { crv: "Ed25519" })).privateKey;
  const jwk = { ...(await exportJWK(gateway.publicKey)), kid: "k1", alg: "EdDSA" };
  tools = await startMockTools({ port: 0, keys: createLocalJWKSet({ keys: [jwk] }), now: () => NOW });
});

afterAll(async () => {
  await tools.close();
});

function digest(value: unknown): string {
  return createHash("sha256").update(canonicalJson(value)).digest("base64url");
}

interface Forged {
  claims?: Record<string, unknown>;
  typ?: string;
  key?: CryptoKey;
}

function token({ claims = {}, typ = DELEGATED_TOKEN_TYPE, key = gatewayKey }: Forged = {}): Promise<string> {
  const iat = NOW / 1000;
  const payload = {
    iss: DEFAULT_GATEWAY_ISSUER,
    sub: "alice",
    aud: SEARCH_AUD,
    iat,
    exp: iat + 60,
    jti: randomUUID(),
    tenant: "acme",
    tool: "search_documents",
    scope: "tool:search_documents",
    args_sha256: digest(args),
    ...claims,
  };
  return new SignJWT(payload).setProtectedHeader({ alg: "EdDSA", typ, kid: "k1" }).sign(key);
}

async function call(path: string, bearer: string | undefined, body: unknown = args) {
  const response = await fetch(`${tools.origin}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(bearer ? { authorization: `Bearer ${bearer}` } : {}) },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe("the mock tools accept a correct delegated token", () => {
  it("search_documents returns fake hits; send_email a message id derived from the arguments", async () => {
    const search = await call("/tools/search_documents", await token());
    expect(search.status).toBe(200);
    expect((search.body.hits as unknown[]).length).toBe(2);
    const mail = { to: "dave@acme.example", subject: "s", body: "b" };
    const mailToken = await token({ claims: { aud: "urn:verity:tool:send_email", tool: "send_email", scope: "tool:send_email", args_sha256: digest(mail) } });
    const sent = await call("/tools/send_email", mailToken, mail);
    expect(sent).toEqual({ status: 200, body: { messageId: `msg-${digest(mail).slice(0, 16)}@mock.acme.example`, to: mail.to, accepted: true } });
  });
});

describe("the mock tools refuse anything else (401, and the tool does not run)", () => {
  const refusals: Array<[string, () => Promise<{ status: number; body: Record<string, unknown> }>, string]> = [
    ["no token", async () => call("/tools/search_documents", undefined), "token_missing"],
    ["a token signed by another key", async () => call("/tools/search_documents", await token({ key: otherKey })), "signature_invalid"],
    ["a token of another type", async () => call("/tools/search_documents", await token({ typ: "JWT" })), "type_invalid"],
    ["another issuer", async () => call("/tools/search_documents", await token({ claims: { iss: "https://evil.example" } })), "issuer_invalid"],
    ["a token for the other tool", async () => call("/tools/send_email", await token()), "audience_invalid"],
    ["an expired token", async () => call("/tools/search_documents", await token({ claims: { iat: NOW / 1000 - 120, exp: NOW / 1000 - 60 } })), "token_expired"],
    ["a token living an hour", async () => call("/tools/search_documents", await token({ claims: { exp: NOW / 1000 + 3600 } })), "lifetime_too_long"],
    ["changed arguments", async () => call("/tools/search_documents", await token(), { query: "salaries" }), "arguments_mismatch"],
    ["a body that is not JSON", async () => call("/tools/search_documents", await token(), "query=handbook"), "arguments_invalid"],
    ["no argument hash", async () => call("/tools/search_documents", await token({ claims: { args_sha256: undefined } })), "claim_missing"],
  ];

  for (const [what, attempt, code] of refusals) {
    it(`${what}: ${code}`, async () => {
      const before = tools.calls().length;
      const { status, body } = await attempt();
      expect(status).toBe(401);
      expect(body.error).toBe(code);
      expect(body.hits).toBeUndefined();
      expect(tools.calls().slice(before).map((c) => c.outcome)).toEqual([code]);
    });
  }

  it("a replayed token: token_replayed, even at the other tool's path it is refused", async () => {
    const once = await token();
    expect((await call("/tools/search_documents", once)).status).toBe(200);
    expect(await call("/tools/search_documents", once)).toMatchObject({ status: 401, body: { error: "token_replayed" } });
    expect(await call("/tools/send_email", once)).toMatchObject({ status: 401, body: { error: "audience_invalid" } });
  });

  it("unknown tools and other methods are not served; the call log is readable and clearable", async () => {
    expect((await call("/tools/drop_tables", await token())).status).toBe(404);
    expect((await fetch(`${tools.origin}/tools/search_documents`)).status).toBe(405);
    const log = (await (await fetch(`${tools.origin}/__mock/calls`)).json()) as unknown[];
    expect(log.length).toBeGreaterThan(0);
    expect((await fetch(`${tools.origin}/__mock/calls`, { method: "DELETE" })).status).toBe(204);
    expect(tools.calls()).toEqual([]);
  });
});
