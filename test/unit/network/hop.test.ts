/**
 * Authenticated hops: the assertion's claims and lifetime, signing through the KeyRing (fail closed),
 * and the mTLS seam (the configured `mtls_certificates` binding is the one fetched through).
 */
import { describe, expect, it } from "vitest";
import type { Principal } from "../../../worker/context.ts";
import type { Env } from "../../../worker/env.ts";
import { ASSERTION_HEADER, ASSERTION_LIFETIME_S, ASSERTION_TYPE, assertionClaims, backendHop, createEgress } from "../../../worker/network/index.ts";
import type { GatewayError } from "../../../worker/errors.ts";
import type { Backend } from "../../../worker/workload/index.ts";

const principal: Principal = {
  kind: "user",
  id: "alice",
  tenant: "acme",
  groups: [],
  attributes: {},
  actor: { sub: "agent-7" },
  authn: { method: "oidc", issuer: "https://idp", acr: "", amr: [], mfa: false, expiresAt: 0, binding: "none" },
};
const backend: Backend = {
  id: "self",
  wireFormats: ["openai"],
  baseUrl: "https://self.example",
  region: "eu",
  jurisdiction: "eu",
  tier: "self-hosted",
  models: ["m"],
  secret: "UPSTREAM_KEY_SELF",
  timeoutMs: 1000,
  preference: 1,
};
const facts = { issuer: "https://gw", requestId: "req-1", configVersion: "cfg", policyVersion: "pol", classification: 2 as const, now: Date.UTC(2026, 0, 1) };

/** A KEY_RING namespace whose ring records what it signs, or fails. */
function keyRing(fail = false) {
  const signed: Array<{ payload: Record<string, unknown>; typ: string }> = [];
  const namespace = {
    idFromName: (name: string) => name,
    get: () => ({
      signJws: async (payload: Record<string, unknown>, typ: string) => {
        if (fail) throw new Error("ring down");
        signed.push({ payload, typ });
        return "h.p.s";
      },
    }),
  };
  return { namespace, signed };
}

const envWith = (extra: Record<string, unknown>) => extra as unknown as Env;

describe("assertion claims", () => {
  it("say who, for whom, what and under which policy, for at most 60 s", () => {
    const claims = assertionClaims({ ...facts, audience: "https://self", principal, decision: "allow", backend: "self" }, facts.now);
    expect(claims).toMatchObject({
      iss: "https://gw",
      aud: "https://self",
      sub: "alice",
      tenant: "acme",
      principal_kind: "user",
      act: { sub: "agent-7" },
      request_id: "req-1",
      backend: "self",
      decision: "allow",
      policy_version: "pol",
      config_version: "cfg",
      classification: 2,
    });
    expect((claims.exp as number) - (claims.iat as number)).toBe(ASSERTION_LIFETIME_S);
    expect(ASSERTION_LIFETIME_S).toBeLessThanOrEqual(60);
  });
});

describe("backendHop", () => {
  it("adds nothing for a backend that asks for nothing", async () => {
    const ring = keyRing();
    expect(await backendHop(envWith({ KEY_RING: ring.namespace }), backend, principal, facts)).toEqual({ headers: {} });
    expect(ring.signed).toHaveLength(0);
  });

  it("signs the assertion through the KeyRing for a backend that asks", async () => {
    const ring = keyRing();
    const hop = await backendHop(envWith({ KEY_RING: ring.namespace }), { ...backend, assertion: { audience: "https://self" } }, principal, facts);
    expect(hop.headers).toEqual({ [ASSERTION_HEADER]: "h.p.s" });
    expect(ring.signed[0]).toMatchObject({ typ: ASSERTION_TYPE, payload: { aud: "https://self", sub: "alice" } });
  });

  it("refuses when the KeyRing cannot sign (nothing is sent unsigned)", async () => {
    const error = await backendHop(envWith({ KEY_RING: keyRing(true).namespace }), { ...backend, assertion: { audience: "a" } }, principal, facts).catch((e: unknown) => e);
    expect((error as GatewayError).code).toBe("assertion_unavailable");
  });

  it("fetches through the configured mtls_certificates binding, and refuses when it is missing", async () => {
    const seen: string[] = [];
    const binding = { fetch: async (url: RequestInfo | URL) => (seen.push(String(url)), new Response("ok")) };
    const hop = await backendHop(envWith({ MTLS_SELF: binding }), { ...backend, mtlsCertificate: "MTLS_SELF" }, principal, facts);
    expect(hop.via).toBe(binding);
    const egress = createEgress(new Set(["https://self.example"]));
    expect(await (await egress("https://self.example/v1/chat/completions", { via: hop.via! })).text()).toBe("ok");
    expect(seen).toEqual(["https://self.example/v1/chat/completions"]);

    const missing = await backendHop(envWith({}), { ...backend, mtlsCertificate: "MTLS_SELF" }, principal, facts).catch((e: unknown) => e);
    expect((missing as GatewayError).code).toBe("config_unavailable");
  });
});
