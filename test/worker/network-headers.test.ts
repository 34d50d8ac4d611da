/**
 * Header hygiene, adversarially: a caller that adds every header a proxy, an edge or an identity
 * layer might set gets the same principal, policy facts and audit record as one that does not, and
 * none of those headers (nor the caller's credentials, nor hop-by-hop ones) reaches the backend;
 * the backend's own identifying headers never reach the caller.
 */
import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { auditFor, bearer, chatBody, gatewayFetch, receivedWith, type StoredRecord } from "../support/gateway.ts";
import { seedKv } from "../support/seed.ts";
import { tokenFor } from "../support/tokens.ts";
import { certificateDer, rfc9440 } from "../unit/identity/pki-fixtures.ts";

/** Headers a client could set to pose as someone else, somewhere else, or as the gateway itself. */
const SPOOFED: Record<string, string> = {
  "x-forwarded-for": "10.0.0.1, 169.254.169.254",
  "x-forwarded-host": "admin.internal",
  "x-forwarded-proto": "http",
  "x-forwarded-user": "bob",
  "x-forwarded-email": "bob@acme.example",
  forwarded: "for=10.0.0.1;host=admin.internal;proto=http",
  "x-real-ip": "10.0.0.2",
  "true-client-ip": "10.0.0.3",
  "cf-connecting-ip": "10.0.0.4",
  "cf-ipcountry": "KP",
  "cf-ray": "0000000000000000-XXX",
  "cf-visitor": '{"scheme":"https"}',
  "x-client-cert": "MIIB-fake",
  "x-ssl-client-cert": "-----BEGIN CERTIFICATE-----fake",
  "x-ssl-client-verify": "SUCCESS",
  "x-ssl-client-s-dn": "CN=acme-batch",
  "client-cert": rfc9440(certificateDer("acme-batch-client")),
  "client-cert-chain": rfc9440(certificateDer("acme-batch-client")),
  "x-verity-principal": "bob",
  "x-verity-tenant": "globex",
  "x-verity-risk": "low",
  "x-verity-assertion": "eyJhbGciOiJub25lIn0.eyJzdWIiOiJib2IifQ.",
  "x-remote-user": "bob",
  "x-authenticated-userid": "bob",
  cookie: "session=caller-cookie-secret",
  "x-api-key": "caller-api-key-secret",
  "proxy-authorization": "Basic Y2FsbGVyOnNlY3JldA==",
  "keep-alive": "timeout=5",
  te: "trailers",
  "x-caller-custom": "caller-custom-value",
};

let alice: string;

beforeAll(async () => {
  await seedKv(env.CONFIG);
  alice = await tokenFor("alice");
});

async function chat(marker: string, headers: Record<string, string>, cf?: Record<string, unknown>): Promise<{ response: Response; record: StoredRecord }> {
  const response = await gatewayFetch("/v1/chat/completions", { method: "POST", body: chatBody(`#echo ${marker}`), headers: bearer(alice, headers), ...(cf ? { cf } : {}) } as RequestInit);
  expect(response.status).toBe(200);
  await response.text();
  const records = await auditFor("acme", response.headers.get("x-request-id")!);
  const decision = records.find((r) => r.type === "decision")!;
  expect(decision.decision).toBe("allow");
  return { response, record: decision };
}

describe("spoofed identity and provenance headers", () => {
  it("change nothing the gateway decides or records", async () => {
    const edge = { country: "DE", continent: "EU", asn: 3320 };
    const plain = await chat(`plain-${crypto.randomUUID()}`, {}, edge);
    const spoofed = await chat(`spoofed-${crypto.randomUUID()}`, SPOOFED, edge);
    // Same principal (alice, her own tenant, her token's method), same environment facts (the edge's
    // country, not CF-IPCountry), same policy outcome and route.
    expect(spoofed.record.principal).toEqual(plain.record.principal);
    expect(spoofed.record.tenant).toBe("acme");
    expect((spoofed.record.facts as { geo: unknown }).geo).toEqual({ country: "DE", continent: "EU" });
    // (Only the seconds since alice logged in moved on between the two.)
    const timeless = (facts: unknown) => ({ ...(facts as Record<string, unknown>), authn: { ...(facts as { authn: object }).authn, authAge: 0 } });
    expect(timeless(spoofed.record.facts)).toEqual(timeless(plain.record.facts));
    expect(spoofed.record.resource).toEqual(plain.record.resource);
    expect(JSON.stringify(spoofed.record)).not.toMatch(/10\.0\.0\.|admin\.internal|KP|caller-|globex/);
  });

  it("are not forwarded upstream, nor the caller's credentials or hop-by-hop headers", async () => {
    const marker = `hygiene-${crypto.randomUUID()}`;
    const { response } = await chat(marker, SPOOFED);
    const received = await receivedWith("eu-public", marker);
    expect(received).toBeDefined();
    for (const name of Object.keys(SPOOFED)) expect(received!.headers, name).not.toHaveProperty(name);
    // The backend got the gateway's key, not the caller's token.
    expect(received!.headers.authorization).toBe(`Bearer ${env.UPSTREAM_KEY_EU_PUBLIC}`);
    expect(JSON.stringify(received!.headers)).not.toContain(alice);
    // And the caller gets none of the backend's own headers back.
    expect(response.headers.get("x-mock-backend")).toBeNull();
    expect(response.headers.get("set-cookie")).toBeNull();
    expect(response.headers.get("server")).toBeNull();
  });

  it("a client-certificate header is not a client certificate: only the edge's cf.tlsClientAuth is", async () => {
    const response = await gatewayFetch("/v1/chat/completions", {
      method: "POST",
      body: chatBody("hello"),
      headers: { "content-type": "application/json", "client-cert": SPOOFED["client-cert"]!, "x-ssl-client-verify": "SUCCESS", "x-verity-principal": "acme-batch" },
    });
    expect(response.status).toBe(401);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe("token_missing");
    const refusal = (await auditFor("_unauthenticated", response.headers.get("x-request-id")!)).find((r) => r.type === "decision");
    expect(refusal).toMatchObject({ decision: "deny", code: "token_missing", principal: null });
  });
});
