/**
 * JSON Schemas (2020-12) of the configuration registry as stored in KV. `@cfworker/json-schema`
 * interprets them without code generation, so they are safe in Workers (no `eval`).
 */

const id = { type: "string", pattern: "^[a-z0-9][a-z0-9_-]{0,62}$" } as const;
const secretName = { type: "string", pattern: "^[A-Z][A-Z0-9_]{0,63}$" } as const;
const region = { type: "string", pattern: "^[a-z]{2,16}$" } as const;

/** Abuse limits of one scope (worker/network/limits.ts); an absent field takes the default. */
const scopeLimits = {
  type: "object",
  additionalProperties: false,
  properties: {
    requestsPerMinute: { type: "integer", minimum: 1, maximum: 1_000_000 },
    burst: { type: "integer", minimum: 1, maximum: 1_000_000 },
    tokens: { type: "integer", minimum: 0, maximum: 1_000_000_000_000 },
    windowSeconds: { type: "integer", minimum: 60, maximum: 2_678_400 },
  },
} as const;

/** Which principal kinds a route segment admits (worker/network/segments.ts). */
const principalKinds = { type: "array", minItems: 1, uniqueItems: true, items: { enum: ["user", "workload"] } } as const;

const levelName = { enum: ["public", "internal", "confidential", "restricted"] } as const;
const findingCategory = { enum: ["pii", "pci", "phi", "secret", "custom"] } as const;
const findingType = { type: "string", pattern: "^[A-Z][A-Z0-9_]{1,63}$" } as const;

/**
 * A tenant's own classifier terms and patterns (worker/data/classify/tenant-rules.ts). The schema
 * bounds sizes; the pattern language (a linear subset: no groups, alternation or unbounded
 * repetition) is checked by `compileTenantRules` when the registry loads.
 */
export const classifierSchema = {
  type: "object",
  additionalProperties: false,
  properties: {
    terms: {
      type: "array",
      maxItems: 5000,
      items: {
        type: "object",
        required: ["term", "type", "level"],
        additionalProperties: false,
        properties: { term: { type: "string", minLength: 1, maxLength: 128 }, type: findingType, category: findingCategory, level: levelName, caseSensitive: { type: "boolean" } },
      },
    },
    patterns: {
      type: "array",
      maxItems: 64,
      items: {
        type: "object",
        required: ["pattern", "type", "level"],
        additionalProperties: false,
        properties: { pattern: { type: "string", minLength: 1, maxLength: 512 }, type: findingType, category: findingCategory, level: levelName, score: { type: "number", exclusiveMinimum: 0, maximum: 1 } },
      },
    },
  },
} as const;

export const tenantSchema = {
  type: "object",
  required: ["name", "residency", "jurisdiction"],
  additionalProperties: false,
  properties: {
    name: { type: "string", minLength: 1 },
    residency: region,
    jurisdiction: region,
    classifier: classifierSchema,
    // Browser origins that may call the gateway for this tenant (CORS); none by default. https only,
    // except plain http to localhost for a developer's own page.
    corsOrigins: {
      type: "array",
      uniqueItems: true,
      items: { type: "string", pattern: "^(https://[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?|http://(localhost|127\\.0\\.0\\.1))(:[0-9]{1,5})?$" },
    },
    limits: { type: "object", additionalProperties: false, properties: { principal: scopeLimits, tenant: scopeLimits } },
    segments: {
      type: "object",
      additionalProperties: false,
      properties: { ai: principalKinds, tools: principalKinds, mcp: principalKinds, audit: principalKinds, admin: principalKinds },
    },
  },
} as const;

// Asymmetric algorithms only: an HMAC algorithm for a public-key issuer is the classic confusion attack.
const algorithms = {
  type: "array",
  minItems: 1,
  uniqueItems: true,
  items: { enum: ["ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "EdDSA", "Ed25519"] },
} as const;
const audiences = { type: "array", minItems: 1, items: { type: "string", minLength: 1 } } as const;
const claimName = { type: "string", minLength: 1, maxLength: 128 } as const;
const thumbprint = { type: "string", pattern: "^[A-Za-z0-9_-]{43}$" } as const;

export const issuerSchema = {
  type: "object",
  required: ["id", "kind", "issuer", "audiences", "algorithms", "tenants"],
  additionalProperties: false,
  properties: {
    id,
    kind: { enum: ["oidc", "cloudflare-access"] },
    issuer: { type: "string", minLength: 1 },
    jwksUri: { type: "string", minLength: 1 },
    audiences,
    algorithms,
    tokenType: { type: "string", minLength: 1 },
    maxTokenAgeSeconds: { type: "integer", minimum: 1, maximum: 86400 },
    tenants: { type: "array", minItems: 1, uniqueItems: true, items: id },
    tenantClaim: claimName,
    subjectClaim: claimName,
    groupsClaim: claimName,
    attributeClaims: { type: "object", propertyNames: { pattern: "^[a-zA-Z][a-zA-Z0-9_]{0,63}$" }, additionalProperties: claimName },
    authorizedParties: { type: "array", minItems: 1, items: { type: "string", minLength: 1 } },
    binding: { enum: ["optional", "required"] },
  },
} as const;

export const trustDomainSchema = {
  type: "object",
  required: ["id", "trustDomain", "tenant", "bundleUri", "audiences", "algorithms"],
  additionalProperties: false,
  properties: {
    id,
    // SPIFFE-ID §2.1: lowercase letters, digits, dots, dashes and underscores.
    trustDomain: { type: "string", pattern: "^[a-z0-9._-]{1,255}$" },
    tenant: id,
    bundleUri: { type: "string", minLength: 1 },
    audiences,
    algorithms,
    maxTokenAgeSeconds: { type: "integer", minimum: 1, maximum: 86400 },
  },
} as const;

export const workloadSchema = {
  type: "object",
  required: ["id", "tenant"],
  additionalProperties: false,
  properties: {
    id,
    tenant: id,
    spiffeIds: { type: "array", uniqueItems: true, items: { type: "string", pattern: "^spiffe://" } },
    certificates: { type: "array", uniqueItems: true, items: thumbprint },
  },
} as const;

/** A pinned public key of an attestation verifier (RFC 7517 JWK; `kid` and `alg` required, no private part). */
const attestationKey = {
  type: "object",
  required: ["kty", "kid", "alg"],
  not: { anyOf: [{ required: ["d"] }, { required: ["p"] }, { required: ["k"] }] },
  properties: { kty: { enum: ["EC", "RSA", "OKP"] }, kid: { type: "string", minLength: 1, maxLength: 128 }, alg: algorithms.items },
} as const;

/** How a confidential backend proves what runs there (worker/workload/attestation.ts). */
const attestationSchema = {
  type: "object",
  required: ["issuer", "jwks", "measurements", "maxAgeSeconds"],
  additionalProperties: false,
  properties: {
    issuer: { type: "string", minLength: 1 },
    jwks: {
      type: "object",
      required: ["keys"],
      additionalProperties: false,
      properties: { keys: { type: "array", minItems: 1, maxItems: 8, items: attestationKey } },
    },
    // Launch measurements (hex digests: SHA-256 to SHA-512).
    measurements: { type: "array", minItems: 1, uniqueItems: true, items: { type: "string", pattern: "^[0-9a-fA-F]{64,128}$" } },
    maxAgeSeconds: { type: "integer", minimum: 1, maximum: 86400 },
  },
} as const;

export const backendSchema = {
  type: "object",
  required: ["id", "wireFormats", "baseUrl", "region", "jurisdiction", "tier", "models", "secret", "timeoutMs", "preference"],
  additionalProperties: false,
  properties: {
    id,
    description: { type: "string" },
    wireFormats: { type: "array", minItems: 1, uniqueItems: true, items: { enum: ["openai", "anthropic"] } },
    baseUrl: { type: "string", minLength: 1 },
    region,
    jurisdiction: region,
    tier: { enum: ["public", "confidential", "self-hosted"] },
    models: { type: "array", minItems: 1, uniqueItems: true, items: { type: "string", pattern: "^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$" } },
    secret: secretName,
    timeoutMs: { type: "integer", minimum: 100, maximum: 300000 },
    preference: { type: "integer", minimum: 0, maximum: 1000 },
    // OpenAI `system_fingerprint`s the backend may answer with (model pinning, where the provider offers it).
    systemFingerprints: { type: "array", minItems: 1, uniqueItems: true, items: { type: "string", minLength: 1, maxLength: 128 } },
    attestation: attestationSchema,
    // Network plane (worker/network): the most response bytes taken from this backend (default 32 MiB),
    // the gateway-signed assertion it requires (`X-Verity-Assertion`), and the Worker's
    // `mtls_certificates` binding to present as the client certificate.
    maxResponseBytes: { type: "integer", minimum: 1024, maximum: 1_073_741_824 },
    assertion: { type: "object", required: ["audience"], additionalProperties: false, properties: { audience: { type: "string", minLength: 1, maxLength: 512 } } },
    mtlsCertificate: { type: "string", pattern: "^[A-Z][A-Z0-9_]{0,63}$" },
  },
} as const;

export const toolSchema = {
  type: "object",
  required: ["id", "tenant", "endpoint", "audience", "classification", "requiresMfa", "arguments"],
  additionalProperties: false,
  properties: {
    id,
    tenant: id,
    description: { type: "string" },
    endpoint: { type: "string", minLength: 1 },
    audience: { type: "string", minLength: 1 },
    classification: { enum: ["public", "internal", "confidential", "restricted"] },
    requiresMfa: { type: "boolean" },
    arguments: { type: "object" },
  },
} as const;

/**
 * An MCP server reached through `/mcp/{id}`. `tools` names the registry tools it may expose (an MCP
 * tool is the registry tool of the same name); anything else it offers is never listed nor called.
 */
export const mcpServerSchema = {
  type: "object",
  required: ["id", "tenant", "endpoint", "audience", "tools"],
  additionalProperties: false,
  properties: {
    id,
    tenant: id,
    description: { type: "string" },
    endpoint: { type: "string", minLength: 1 },
    audience: { type: "string", minLength: 1 },
    tools: { type: "array", uniqueItems: true, items: id },
    // OAuth scopes a client's token should carry, published as RFC 9728 `scopes_supported`.
    scopes: { type: "array", uniqueItems: true, items: { type: "string", pattern: "^[\\x21\\x23-\\x5B\\x5D-\\x7E]{1,128}$" } },
  },
} as const;

/** A Shared Signals transmitter whose Security Event Tokens (RFC 8417, SSF 1.0) the gateway accepts. */
export const transmitterSchema = {
  type: "object",
  required: ["id", "issuer", "jwksUri", "audience", "algorithms", "tenants"],
  additionalProperties: false,
  properties: {
    id,
    issuer: { type: "string", minLength: 1 },
    jwksUri: { type: "string", minLength: 1 },
    audience: { type: "string", minLength: 1 },
    algorithms,
    tenants: { type: "array", minItems: 1, uniqueItems: true, items: id },
    // A SET's jti is remembered 600 s at most (the replay cache's cap), so an accepted SET may be no
    // older than that minus the 60 s clock skew: 540 s.
    maxEventAgeSeconds: { type: "integer", minimum: 1, maximum: 540 },
  },
} as const;

export const registrySchema = {
  type: "object",
  required: ["tenants", "issuers", "backends", "tools"],
  additionalProperties: false,
  properties: {
    tenants: { type: "object", propertyNames: id, additionalProperties: tenantSchema },
    issuers: { type: "array", items: issuerSchema },
    trustDomains: { type: "array", items: trustDomainSchema },
    workloads: { type: "array", items: workloadSchema },
    backends: { type: "array", minItems: 1, items: backendSchema },
    tools: { type: "array", items: toolSchema },
    transmitters: { type: "array", items: transmitterSchema },
    mcpServers: { type: "array", items: mcpServerSchema },
  },
} as const;
