/** The seeded world as a gateway configuration, and principals, for the tool plane's unit tests. */
import type { Principal } from "../../../worker/context.ts";
import type { RequestEnvironment } from "../../../worker/policy/index.ts";
import type { GatewayConfig } from "../../../worker/workload/index.ts";
import { parseRegistry } from "../../../worker/workload/registry.ts";
import { seedFiles } from "../../support/seed.ts";
import { seededPdp } from "../policy/world.ts";

/** A fresh configuration object each call: a new "version", as the config source swaps them. */
export function seededConfig(): GatewayConfig {
  const files = seedFiles();
  const registry = parseRegistry({ tenants: files.tenants, issuers: files.issuers, backends: files.backends, tools: files.tools });
  return { version: "test-config", bundleVersion: 1, signedBy: "test", registry, pdp: seededPdp() };
}

export function person(id: string, tenant: string, options: { mfa?: boolean; groups?: string[]; kind?: Principal["kind"] } = {}): Principal {
  return {
    kind: options.kind ?? "user",
    id,
    tenant,
    groups: options.groups ?? [],
    attributes: {},
    authn: {
      method: "oidc",
      issuer: "http://127.0.0.1:8788",
      acr: options.mfa ? "urn:verity:acr:mfa" : "urn:verity:acr:pwd",
      amr: options.mfa ? ["pwd", "otp"] : ["pwd"],
      mfa: options.mfa ?? false,
      expiresAt: 0,
      binding: "none",
    },
    risk: "low",
  };
}

export const alice = person("alice", "acme");
export const bob = person("bob", "acme", { mfa: true });
export const carol = person("carol", "globex");
export const mallory = person("mallory", "acme");

export function environmentOf(principal: Principal): RequestEnvironment {
  return {
    authn: { method: "oidc", mfa: principal.authn.mfa, acr: principal.authn.acr, binding: "none", authAge: 60 },
    risk: "low",
    geo: { country: "DE", continent: "EU" },
  };
}
