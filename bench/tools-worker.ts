/**
 * The tool benchmark's Worker (bench/tools.ts): runs the gateway's own `authorizeToolCall` (size,
 * strict parse, canonical digest, JSON Schema, classification, argument facts, PDP) and the tool
 * owners' `verifyDelegatedToken` in workerd, `n` calls per HTTP request, so Node can time batches.
 *
 *   POST /setup  (JSON: the seeded registry documents and policy sources)  compiles the world once
 *   POST /run?kind=<kind>&n=N                                               N calls, answers 204
 */
import { createLocalJWKSet, exportJWK, generateKeyPair, SignJWT, type JWTVerifyGetKey } from "jose";
import type { Principal } from "../worker/context.ts";
import { canonicalJson } from "../worker/lib/canonical-json.ts";
import { compilePolicy, policyBundleFromSources, type RequestEnvironment } from "../worker/policy/index.ts";
import { argumentsDigestOf, authorizeToolCall } from "../worker/tools/authorize.ts";
import { delegatedTokenClaims } from "../worker/tools/delegated-token.ts";
import { verifyDelegatedToken } from "../worker/tools/verify-delegated-token.ts";
import type { GatewayConfig } from "../worker/workload/index.ts";
import { worldEntities } from "../worker/workload/entities.ts";
import { parseRegistry } from "../worker/workload/registry.ts";

interface Seeds {
  tenants: unknown;
  issuers: unknown;
  backends: unknown;
  tools: unknown;
  entities: unknown[];
  schema: string;
  policies: Record<string, string>;
}

interface World {
  config: GatewayConfig;
  token: string;
  keys: JWTVerifyGetKey;
}

let world: World | undefined;

const person = (id: string, mfa: boolean): Principal => ({
  kind: "user",
  id,
  tenant: "acme",
  groups: ["members"],
  attributes: {},
  authn: { method: "oidc", issuer: "https://idp.bench", acr: "", amr: [], mfa, expiresAt: 0, binding: "none" },
  risk: "low",
});
const alice = person("alice", false);
const bob = person("bob", true);
const environment = (mfa: boolean): RequestEnvironment => ({
  authn: { method: "oidc", mfa, acr: "", binding: "none", authAge: 60 },
  risk: "low",
  geo: { country: "DE", continent: "EU" },
});
const MAIL = { to: "dave@acme.example", subject: "Quarterly numbers", body: "Please find the summary below. ".repeat(20) };

async function setup(seeds: Seeds): Promise<World> {
  const registry = parseRegistry({ tenants: seeds.tenants, issuers: seeds.issuers, backends: seeds.backends, tools: seeds.tools });
  const pdp = compilePolicy(policyBundleFromSources(seeds.schema, seeds.policies), worldEntities(registry, seeds.entities));
  const config: GatewayConfig = { version: "bench", bundleVersion: 1, signedBy: "bench", registry, pdp };
  const { privateKey, publicKey } = await generateKeyPair("EdDSA", { crv: "Ed25519" });
  const claims = delegatedTokenClaims({
    issuer: "https://gateway.bench",
    principal: bob,
    tool: registry.tools.get("send_email")!,
    argumentsDigest: argumentsDigestOf(MAIL),
    now: Date.now(),
  });
  const token = await new SignJWT({ ...claims }).setProtectedHeader({ alg: "EdDSA", typ: "tool-token+jwt", kid: "b1" }).sign(privateKey);
  const keys = createLocalJWKSet({ keys: [{ ...(await exportJWK(publicKey)), kid: "b1", alg: "EdDSA" }] });
  return { config, token, keys };
}

async function run(kind: string, n: number, w: World): Promise<void> {
  for (let i = 0; i < n; i++) {
    switch (kind) {
      case "search-allowed": {
        const verdict = authorizeToolCall(w.config, alice, environment(false), {
          tool: "search_documents",
          arguments: `{"query":"quarterly report ${i}","matter":"acme/matter-1042"}`,
          origin: "model",
        });
        if (!verdict.allowed) throw new Error(verdict.message);
        break;
      }
      case "email-allowed": {
        const verdict = authorizeToolCall(w.config, bob, environment(true), { tool: "send_email", arguments: JSON.stringify({ ...MAIL, subject: `n ${i}` }), origin: "caller" });
        if (!verdict.allowed) throw new Error(verdict.message);
        break;
      }
      case "schema-refused": {
        const verdict = authorizeToolCall(w.config, alice, environment(false), { tool: "search_documents", arguments: `{"query":${i}}`, origin: "model" });
        if (verdict.allowed) throw new Error("allowed");
        break;
      }
      case "verify-token":
        await verifyDelegatedToken(w.token, {
          keys: w.keys,
          issuer: "https://gateway.bench",
          audience: "urn:verity:tool:send_email",
          body: canonicalJson(MAIL),
          // Every call re-checks the same token; the replay store is the tool owner's and not measured.
          replay: { claim: () => true },
        });
        break;
      default:
        throw new Error(`unknown kind ${kind}`);
    }
  }
}

export default {
  async fetch(req: Request): Promise<Response> {
    const url = new URL(req.url);
    if (url.pathname === "/healthz") return new Response("ok");
    if (url.pathname === "/setup") {
      world = await setup((await req.json()) as Seeds);
      return new Response(null, { status: 204 });
    }
    if (url.pathname === "/run" && world) {
      await run(url.searchParams.get("kind") ?? "search-allowed", Number(url.searchParams.get("n") ?? "1"), world);
      return new Response(null, { status: 204 });
    }
    return new Response("not found", { status: 404 });
  },
};
