import { Validator } from "@cfworker/json-schema";
import type { WireFormat } from "../errors.ts";
import { registrySchema } from "./registry-schema.ts";

/** The configuration registry: who may issue tokens, which tenants and backends exist, which tools. */

export type Tier = "public" | "confidential" | "self-hosted";
export type Level = "public" | "internal" | "confidential" | "restricted";

export interface Tenant {
  id: string;
  name: string;
  residency: string;
  jurisdiction: string;
}

export interface Issuer {
  id: string;
  kind: "oidc";
  issuer: string;
  jwksUri: string;
  audiences: string[];
  algorithms: string[];
  tokenType?: string;
  maxTokenAgeSeconds?: number;
  tenantClaim: string;
}

export interface Backend {
  id: string;
  description?: string;
  wireFormats: WireFormat[];
  /** Origin plus optional path prefix, no trailing slash. */
  baseUrl: string;
  region: string;
  jurisdiction: string;
  tier: Tier;
  models: string[];
  /** Name of the Worker secret that holds this backend's API key. */
  secret: string;
  timeoutMs: number;
  preference: number;
}

export interface Tool {
  id: string;
  tenant: string;
  description?: string;
  endpoint: string;
  audience: string;
  classification: Level;
  requiresMfa: boolean;
  arguments: Record<string, unknown>;
}

export interface Registry {
  tenants: ReadonlyMap<string, Tenant>;
  issuers: readonly Issuer[];
  /** Sorted by preference (lower first), then id, so routing is deterministic. */
  backends: readonly Backend[];
  tools: ReadonlyMap<string, Tool>;
  /** Every origin the gateway may fetch: the egress allowlist derives from this and nothing else. */
  origins: ReadonlySet<string>;
}

export class RegistryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RegistryError";
  }
}

const validator = new Validator(registrySchema as unknown as Record<string, unknown>, "2020-12", false);

function describeSchemaErrors(value: unknown): string | undefined {
  const result = validator.validate(value);
  if (result.valid) return undefined;
  // The deepest errors name the offending field; the parents only repeat "property failed".
  const leaves = result.errors.filter((e) => !/failed validation|did not match/.test(e.error) || e.keyword === "enum");
  const errors = leaves.length > 0 ? leaves : result.errors;
  return errors
    .slice(0, 5)
    .map((e) => `${e.instanceLocation}: ${e.error}`)
    .join("; ");
}

/**
 * An origin the gateway may call. Only http(s) with no credentials, query or fragment; plain http only
 * to loopback, which is how the local stack's mock services are reached.
 */
function parseOrigin(where: string, raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new RegistryError(`${where}: "${raw}" is not an absolute URL`);
  }
  if (url.username || url.password) throw new RegistryError(`${where}: URL must not carry credentials`);
  if (url.search || url.hash) throw new RegistryError(`${where}: URL must not carry a query or fragment`);
  if (url.protocol === "http:" && !isLoopback(url.hostname)) {
    throw new RegistryError(`${where}: plain http is allowed only to loopback (use https)`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") throw new RegistryError(`${where}: scheme must be https`);
  return url;
}

function isLoopback(hostname: string): boolean {
  return hostname === "localhost" || hostname === "[::1]" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
}

function unique(where: string, ids: string[]): void {
  const seen = new Set<string>();
  for (const id of ids) {
    if (seen.has(id)) throw new RegistryError(`${where}: duplicate id "${id}"`);
    seen.add(id);
  }
}

/**
 * Validates a registry document as a whole. Nothing is half-used: any error refuses the whole
 * document with a message naming the field, and the caller keeps whatever was in force before.
 */
export function parseRegistry(raw: unknown): Registry {
  const schemaError = describeSchemaErrors(raw);
  if (schemaError) throw new RegistryError(`registry does not match its schema: ${schemaError}`);
  const doc = raw as {
    tenants: Record<string, Omit<Tenant, "id">>;
    issuers: Issuer[];
    backends: Backend[];
    tools: Tool[];
  };

  const tenants = new Map<string, Tenant>(Object.entries(doc.tenants).map(([id, t]) => [id, { id, ...t }]));
  unique("issuers", doc.issuers.map((i) => i.id));
  unique("issuers (issuer URL)", doc.issuers.map((i) => i.issuer));
  unique("backends", doc.backends.map((b) => b.id));
  unique("tools", doc.tools.map((t) => t.id));

  const origins = new Set<string>();
  for (const issuer of doc.issuers) {
    origins.add(parseOrigin(`issuers[${issuer.id}].jwksUri`, issuer.jwksUri).origin);
  }
  const backends = doc.backends.map((backend) => {
    const url = parseOrigin(`backends[${backend.id}].baseUrl`, backend.baseUrl);
    origins.add(url.origin);
    return { ...backend, baseUrl: url.href.replace(/\/+$/, "") };
  });
  for (const tool of doc.tools) {
    if (!tenants.has(tool.tenant)) throw new RegistryError(`tools[${tool.id}].tenant: unknown tenant "${tool.tenant}"`);
    origins.add(parseOrigin(`tools[${tool.id}].endpoint`, tool.endpoint).origin);
  }
  backends.sort((a, b) => a.preference - b.preference || a.id.localeCompare(b.id));

  return {
    tenants,
    issuers: doc.issuers,
    backends,
    tools: new Map(doc.tools.map((t) => [t.id, t])),
    origins,
  };
}
