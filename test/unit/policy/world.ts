/**
 * The seeded world for policy tests: the bundle built from policies/, the identity entities from
 * kv-seeds/entities.json, and registry-side entities (Tenant, Backend, Tool) derived from kv-seeds by
 * the configuration loader's own `worldEntities`, plus request builders with ordinary defaults.
 */
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
import { worldEntities } from "../../../worker/workload/entities.ts";
import { parseRegistry } from "../../../worker/workload/registry.ts";
import { seedFiles } from "../../support/seed.ts";

export const schemaText: string = seedFiles().schema;

export function seededBundle(): PolicyBundle {
  const files = seedFiles();
  return policyBundleFromSources(files.schema, files.policies);
}

/** The entity store the gateway compiles against, built by the gateway's own derivation. */
export function seededEntities(): EntityJson[] {
  const files = seedFiles();
  return worldEntities(parseRegistry({ tenants: files.tenants, issuers: files.issuers, backends: files.backends, tools: files.tools }), files.entities as unknown[]);
}

export function seededPdp(): PolicyDecisionPoint {
  return compilePolicy(seededBundle(), seededEntities());
}

export const user = (id: string): PrincipalRef => ({ type: "User", id });
export const workload = (id: string): PrincipalRef => ({ type: "Workload", id });

export const passwordOnly: AuthnFacts = { method: "oidc", mfa: false, acr: "urn:verity:acr:pwd", binding: "none", authAge: 60 };
export const withMfa: AuthnFacts = { method: "oidc", mfa: true, acr: "urn:verity:acr:mfa", binding: "none", authAge: 60 };

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
