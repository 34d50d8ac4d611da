import { Validator } from "@cfworker/json-schema";
import { compileTenantRules, TenantRulesError, type TenantRules } from "../data/classify/tenant-rules.ts";
import type { WireFormat } from "../errors.ts";
import { parseSpiffeId } from "../lib/spiffe-id.ts";
import { refusedAddress } from "../network/addresses.ts";
import type { AttestationPolicy } from "./attestation.ts";
import { registrySchema } from "./registry-schema.ts";

/** The configuration registry: who may issue tokens, which tenants and backends exist, which tools. */

export type Tier = "public" | "confidential" | "self-hosted";
export type Level = "public" | "internal" | "confidential" | "restricted";

export interface Tenant {
  id: string;
  name: string;
  residency: string;
  jurisdiction: string;
  /** Browser origins allowed to call for this tenant (CORS); none by default (worker/network/cors.ts). */
  corsOrigins?: string[];
  /** Abuse limits (worker/network/limits.ts); absent fields take the defaults. */
  limits?: { principal?: ScopeLimitsDoc; tenant?: ScopeLimitsDoc };
  /** Principal kinds per route segment, overriding worker/network/segments.ts's defaults. */
  segments?: Partial<Record<"ai" | "tools" | "mcp" | "audit" | "admin", ("user" | "workload")[]>>;
  /** The tenant's own classifier terms and patterns, validated (linear patterns only) at load. */
  classifier?: TenantRules;
}

export interface ScopeLimitsDoc {
  requestsPerMinute?: number;
  burst?: number;
  tokens?: number;
  windowSeconds?: number;
}

export type IssuerKind = "oidc" | "cloudflare-access";

/** A token issuer the gateway trusts, and how its tokens' claims map onto a principal. */
export interface Issuer {
  id: string;
  kind: IssuerKind;
  /** Compared exactly with the token's `iss`. */
  issuer: string;
  /**
   * Where the keys are. Absent: discovered from `<issuer>/.well-known/openid-configuration` (OIDC) or
   * `<issuer>/cdn-cgi/access/certs` (Cloudflare Access); a discovered URI must share the issuer's origin.
   */
  jwksUri?: string;
  audiences: string[];
  algorithms: string[];
  /** Required JWT `typ` (`at+jwt` for RFC 9068 issuers). */
  tokenType?: string;
  maxTokenAgeSeconds?: number;
  /** The tenants this issuer may speak for; a token naming any other tenant is refused. */
  tenants: string[];
  /** Claim naming the tenant; without it the issuer must serve exactly one tenant. */
  tenantClaim?: string;
  /** Claim naming the principal (default `sub`). */
  subjectClaim?: string;
  /** Claim holding the principal's groups (an array of strings). */
  groupsClaim?: string;
  /** Principal attribute name → claim name (string claims only). */
  attributeClaims?: Record<string, string>;
  /** When a token has several audiences, its `azp` must be one of these. */
  authorizedParties?: string[];
  /** `required`: every token of this issuer must be sender-constrained (DPoP or certificate-bound). */
  binding: "optional" | "required";
}

/**
 * A SPIFFE trust domain: its bundle (RFC 7517 JWKS with `use` `x509-svid` / `jwt-svid` keys) is used
 * for its own SVIDs only; bundles of different trust domains are never merged.
 */
export interface TrustDomain {
  id: string;
  /** e.g. `acme.verity.local` (no scheme, no path). */
  trustDomain: string;
  tenant: string;
  bundleUri: string;
  /** A JWT-SVID's `aud` must contain one of these. */
  audiences: string[];
  algorithms: string[];
  maxTokenAgeSeconds?: number;
}

/** A registered workload: which SPIFFE IDs and client certificates prove it. */
export interface Workload {
  id: string;
  tenant: string;
  spiffeIds: string[];
  /** SHA-256 thumbprints (base64url, RFC 8705 `x5t#S256` form) of its registered client certificates. */
  certificates: string[];
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
  /** OpenAI `system_fingerprint`s this backend may answer with; absent: not checked. */
  systemFingerprints?: string[];
  /** Required of the confidential tier: how the backend proves what runs there (attestation.ts). */
  attestation?: AttestationPolicy;
  /** Most response bytes taken from it (default worker/network/egress.ts DEFAULT_MAX_RESPONSE_BYTES). */
  maxResponseBytes?: number;
  /** It requires the gateway-signed assertion (`X-Verity-Assertion`) with this `aud`. */
  assertion?: { audience: string };
  /** Name of the Worker's `mtls_certificates` binding whose certificate the gateway presents to it. */
  mtlsCertificate?: string;
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

/**
 * An MCP server behind `/mcp/{id}` (streamable HTTP at `endpoint`). Its tools are registry tools of
 * the same names, listed in `tools`, all of its own tenant; `audience` is the `aud` of the delegated
 * tokens that carry its session traffic (a `tools/call` carries the called tool's own audience).
 */
export interface McpServer {
  id: string;
  tenant: string;
  description?: string;
  endpoint: string;
  audience: string;
  tools: string[];
  scopes?: string[];
}

/** A Shared Signals transmitter (SSF 1.0 push delivery, RFC 8935) and what it may speak about. */
export interface Transmitter {
  id: string;
  /** Compared exactly with the SET's `iss`. */
  issuer: string;
  jwksUri: string;
  /** The SET's `aud` must contain this (the receiver's identity at this transmitter). */
  audience: string;
  algorithms: string[];
  /** The tenants whose sessions and principals this transmitter's events may act on. */
  tenants: string[];
  /** Oldest `iat` accepted (default 300 s). */
  maxEventAgeSeconds?: number;
}

export interface Registry {
  tenants: ReadonlyMap<string, Tenant>;
  issuers: readonly Issuer[];
  trustDomains: readonly TrustDomain[];
  workloads: ReadonlyMap<string, Workload>;
  workloadBySpiffeId: ReadonlyMap<string, Workload>;
  workloadByCertificate: ReadonlyMap<string, Workload>;
  /** Sorted by preference (lower first), then id, so routing is deterministic. */
  backends: readonly Backend[];
  tools: ReadonlyMap<string, Tool>;
  transmitters: readonly Transmitter[];
  mcpServers: ReadonlyMap<string, McpServer>;
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
  // Egress address rules (worker/network/addresses.ts): loopback is judged at load, with the deployment's settings.
  const refused = refusedAddress(url);
  if (refused) throw new RegistryError(`${where}: ${url.hostname} is a ${refused} address, which the gateway never calls`);
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
    issuers: (Omit<Issuer, "binding"> & { binding?: Issuer["binding"] })[];
    trustDomains?: TrustDomain[];
    workloads?: (Omit<Workload, "spiffeIds" | "certificates"> & Partial<Workload>)[];
    backends: Backend[];
    tools: Tool[];
    transmitters?: Transmitter[];
    mcpServers?: McpServer[];
  };

  const tenants = new Map<string, Tenant>(Object.entries(doc.tenants).map(([id, t]) => [id, { id, ...t }]));
  for (const tenant of tenants.values()) {
    try {
      if (tenant.classifier) compileTenantRules(tenant.classifier);
    } catch (error) {
      if (error instanceof TenantRulesError) throw new RegistryError(`tenants[${tenant.id}].classifier: ${error.message}`);
      throw error;
    }
  }
  const knownTenant = (where: string, tenant: string) => {
    if (!tenants.has(tenant)) throw new RegistryError(`${where}: unknown tenant "${tenant}"`);
  };
  const trustDomainDocs = doc.trustDomains ?? [];
  unique("issuers", doc.issuers.map((i) => i.id));
  unique("issuers (issuer URL)", doc.issuers.map((i) => i.issuer));
  unique("trustDomains", trustDomainDocs.map((t) => t.id));
  unique("trustDomains (trust domain)", trustDomainDocs.map((t) => t.trustDomain));
  // One bundle per trust domain: a shared URI would merge two domains' keys (SPIFFE bundles are never merged).
  unique("trustDomains (bundleUri)", trustDomainDocs.map((t) => t.bundleUri));
  unique("workloads", (doc.workloads ?? []).map((w) => w.id));
  unique("backends", doc.backends.map((b) => b.id));
  unique("tools", doc.tools.map((t) => t.id));

  const origins = new Set<string>();
  const issuers = doc.issuers.map((issuer): Issuer => {
    const where = `issuers[${issuer.id}]`;
    for (const tenant of issuer.tenants) knownTenant(`${where}.tenants`, tenant);
    if (issuer.tenants.length > 1 && issuer.tenantClaim === undefined) {
      throw new RegistryError(`${where}.tenantClaim: required when the issuer serves several tenants`);
    }
    // Discovery (and Cloudflare Access's certs) are fetched from the issuer's own origin.
    if (issuer.jwksUri === undefined || issuer.kind === "cloudflare-access") origins.add(parseOrigin(`${where}.issuer`, issuer.issuer).origin);
    if (issuer.jwksUri !== undefined) origins.add(parseOrigin(`${where}.jwksUri`, issuer.jwksUri).origin);
    return { ...issuer, binding: issuer.binding ?? "optional" };
  });
  const trustDomains = trustDomainDocs.map((domain) => {
    knownTenant(`trustDomains[${domain.id}].tenant`, domain.tenant);
    origins.add(parseOrigin(`trustDomains[${domain.id}].bundleUri`, domain.bundleUri).origin);
    return domain;
  });
  const domainByName = new Map(trustDomains.map((d) => [d.trustDomain, d]));

  const workloads = new Map<string, Workload>();
  const workloadBySpiffeId = new Map<string, Workload>();
  const workloadByCertificate = new Map<string, Workload>();
  for (const raw of doc.workloads ?? []) {
    const where = `workloads[${raw.id}]`;
    knownTenant(`${where}.tenant`, raw.tenant);
    const workload: Workload = { id: raw.id, tenant: raw.tenant, spiffeIds: raw.spiffeIds ?? [], certificates: raw.certificates ?? [] };
    for (const spiffeId of workload.spiffeIds) {
      const parsed = parseSpiffeId(spiffeId);
      if (!parsed || parsed.path === "") throw new RegistryError(`${where}.spiffeIds: "${spiffeId}" is not a workload SPIFFE ID`);
      const domain = domainByName.get(parsed.trustDomain);
      if (!domain) throw new RegistryError(`${where}.spiffeIds: trust domain "${parsed.trustDomain}" is not configured`);
      if (domain.tenant !== workload.tenant) {
        throw new RegistryError(`${where}.spiffeIds: trust domain "${parsed.trustDomain}" belongs to tenant "${domain.tenant}"`);
      }
      if (workloadBySpiffeId.has(spiffeId)) throw new RegistryError(`${where}.spiffeIds: "${spiffeId}" is registered twice`);
      workloadBySpiffeId.set(spiffeId, workload);
    }
    for (const certificate of workload.certificates) {
      if (workloadByCertificate.has(certificate)) throw new RegistryError(`${where}.certificates: "${certificate}" is registered twice`);
      workloadByCertificate.set(certificate, workload);
    }
    workloads.set(workload.id, workload);
  }
  const backends = doc.backends.map((backend) => {
    const url = parseOrigin(`backends[${backend.id}].baseUrl`, backend.baseUrl);
    origins.add(url.origin);
    return { ...backend, baseUrl: url.href.replace(/\/+$/, "") };
  });
  for (const tool of doc.tools) {
    knownTenant(`tools[${tool.id}].tenant`, tool.tenant);
    origins.add(parseOrigin(`tools[${tool.id}].endpoint`, tool.endpoint).origin);
  }
  backends.sort((a, b) => a.preference - b.preference || a.id.localeCompare(b.id));
  const transmitters = doc.transmitters ?? [];
  unique("transmitters", transmitters.map((t) => t.id));
  unique("transmitters (issuer)", transmitters.map((t) => t.issuer));
  for (const transmitter of transmitters) {
    for (const tenant of transmitter.tenants) knownTenant(`transmitters[${transmitter.id}].tenants`, tenant);
    origins.add(parseOrigin(`transmitters[${transmitter.id}].jwksUri`, transmitter.jwksUri).origin);
  }
  const mcpServers = doc.mcpServers ?? [];
  unique("mcpServers", mcpServers.map((s) => s.id));
  for (const server of mcpServers) {
    const where = `mcpServers[${server.id}]`;
    knownTenant(`${where}.tenant`, server.tenant);
    origins.add(parseOrigin(`${where}.endpoint`, server.endpoint).origin);
    for (const toolId of server.tools) {
      const tool = doc.tools.find((t) => t.id === toolId);
      if (!tool) throw new RegistryError(`${where}.tools: unknown tool "${toolId}"`);
      // A server's session is one tenant's: a tool of another tenant would be called under it.
      if (tool.tenant !== server.tenant) throw new RegistryError(`${where}.tools: tool "${toolId}" belongs to tenant "${tool.tenant}"`);
    }
  }

  return {
    tenants,
    issuers,
    trustDomains,
    workloads,
    workloadBySpiffeId,
    workloadByCertificate,
    backends,
    tools: new Map(doc.tools.map((t) => [t.id, t])),
    transmitters,
    mcpServers: new Map(mcpServers.map((s) => [s.id, s])),
    origins,
  };
}
