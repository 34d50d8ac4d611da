/// <reference types="vite/client" />
/**
 * The seeded world for policy tests: the bundle built from policies/, the identity entities from
 * kv-seeds/entities.json, and registry-side entities (Backend, Tool) derived from kv-seeds the way
 * the configuration loader does, plus request builders with ordinary defaults.
 */
import backends from "../../../kv-seeds/backends.json";
import entities from "../../../kv-seeds/entities.json";
import tools from "../../../kv-seeds/tools.json";
import {
  callToolRequest,
  compilePolicy,
  invokeModelRequest,
  policyBundleFromSources,
  type AuthnFacts,
  type AuthzRequest,
  type CallToolFacts,
  type EntityJson,
  type InvokeModelFacts,
  type PolicyBundle,
  type PolicyDecisionPoint,
  type PrincipalRef,
} from "../../../worker/policy/index.ts";

const policyFiles = import.meta.glob("../../../policies/*.cedar", { eager: true, query: "?raw", import: "default" }) as Record<string, string>;
const schemaFiles = import.meta.glob("../../../policies/schema.cedarschema", { eager: true, query: "?raw", import: "default" }) as Record<string, string>;

export const schemaText: string = Object.values(schemaFiles)[0]!;

export function seededBundle(): PolicyBundle {
  const byName = Object.fromEntries(Object.entries(policyFiles).map(([path, text]) => [path.split("/").pop()!, text]));
  return policyBundleFromSources(schemaText, byName);
}

const LEVELS: Record<string, number> = { public: 0, internal: 1, confidential: 2, restricted: 3 };

export function registryEntities(): EntityJson[] {
  return [
    ...backends.map((b) => ({
      uid: { type: "Backend", id: b.id },
      attrs: { region: b.region, jurisdiction: b.jurisdiction, tier: b.tier },
      parents: [],
    })),
    ...tools.map((t) => ({
      uid: { type: "Tool", id: t.id },
      attrs: { tenant: { __entity: { type: "Tenant", id: t.tenant } }, requiresMfa: t.requiresMfa, classification: LEVELS[t.classification]! },
      parents: [],
    })),
  ];
}

export function seededEntities(): EntityJson[] {
  return [...(structuredClone(entities) as EntityJson[]), ...registryEntities()];
}

export function seededPdp(): PolicyDecisionPoint {
  return compilePolicy(seededBundle(), seededEntities());
}

export const user = (id: string): PrincipalRef => ({ type: "User", id });
export const workload = (id: string): PrincipalRef => ({ type: "Workload", id });

export const passwordOnly: AuthnFacts = { method: "oidc", mfa: false, acr: "urn:verity:acr:pwd" };
export const withMfa: AuthnFacts = { method: "oidc", mfa: true, acr: "urn:verity:acr:mfa" };

/** An ordinary chat request: public data, no tools, low risk, password login. */
export function chat(principal: PrincipalRef, backend: string, overrides: Partial<InvokeModelFacts> = {}): AuthzRequest {
  return invokeModelRequest({
    principal,
    backend,
    model: "gpt-4o-mini",
    classification: { level: 0, categories: [] },
    authn: passwordOnly,
    request: { wireFormat: "openai", stream: false, tools: [] },
    risk: "low",
    geo: { country: "DE", continent: "EU" },
    ...overrides,
  });
}

export function toolCall(principal: PrincipalRef, tool: string, overrides: Partial<CallToolFacts> = {}): AuthzRequest {
  return callToolRequest({
    principal,
    tool,
    origin: "caller",
    classification: { level: 0, categories: [] },
    authn: passwordOnly,
    risk: "low",
    geo: { country: "DE", continent: "EU" },
    ...overrides,
  });
}
