/**
 * Where the local stack listens. One place, read by `npm start`, the token CLI, the tests and the
 * benchmarks, so that the seeded registry (kv-seeds/) and the processes agree.
 */
export const GATEWAY_ORIGIN = "http://127.0.0.1:8787";
export const IDP_ORIGIN = "http://127.0.0.1:8788";
/** The audience the dev identity provider puts in access tokens and the gateway requires. */
export const GATEWAY_AUDIENCE = "https://gateway.verity.local";

export interface MockBackendSpec {
  id: string;
  port: number;
  region: string;
  tier: "public" | "confidential" | "self-hosted";
  /** The API key the mock requires, as the gateway's Worker secret `secret` would hold it. */
  apiKey: string;
  secret: string;
  /**
   * A self-hosted backend that requires the gateway-signed assertion (dev/mock/assertion.ts): the
   * registry's `assertion.audience` for it, the gateway's issuer and where its keys are published.
   */
  assertion?: { audience: string; issuer: string; jwksUri: string };
}

export const MOCK_BACKENDS: readonly MockBackendSpec[] = [
  { id: "eu-public", port: 8791, region: "eu", tier: "public", apiKey: "dev-upstream-key-eu-public", secret: "UPSTREAM_KEY_EU_PUBLIC" },
  { id: "us-public", port: 8792, region: "us", tier: "public", apiKey: "dev-upstream-key-us-public", secret: "UPSTREAM_KEY_US_PUBLIC" },
  {
    id: "eu-confidential",
    port: 8793,
    region: "eu",
    tier: "confidential",
    apiKey: "dev-upstream-key-eu-confidential",
    secret: "UPSTREAM_KEY_EU_CONFIDENTIAL",
    assertion: { audience: "https://eu-confidential.verity.local", issuer: "https://gateway.verity.local", jwksUri: "http://127.0.0.1:8787/.well-known/jwks.json" },
  },
];

/**
 * The identity provider's mutual-TLS endpoint (https, client certificate required): tokens issued
 * here are certificate-bound (RFC 8705 `cnf["x5t#S256"]`).
 */
export const IDP_MTLS_ORIGIN = "https://127.0.0.1:8789";
/**
 * A stand-in for Cloudflare's edge in front of the gateway: terminates TLS with client certificates
 * (https), verifies them against the dev client CAs, and forwards to the gateway with the result in
 * `request.cf.tlsClientAuth`, as the edge does. Only the local stack has this; production has the edge.
 */
export const EDGE_ORIGIN = "https://127.0.0.1:8790";
/** The mock tool server (dev/tools.ts): the seeded tools' endpoints (`/tools/<id>`, kv-seeds/tools.json). */
export const TOOLS_ORIGIN = "http://127.0.0.1:8795";
/** The dev SPIFFE issuer: trust bundles and JWT-SVIDs for the dev trust domain. */
export const SPIFFE_ORIGIN = "http://127.0.0.1:8794";
export const SPIFFE_TRUST_DOMAIN = "acme.verity.local";
/** The dev Shared Signals transmitter (dev/ssf.ts): its keys at `/jwks`, and it pushes SETs to the gateway. */
export const SSF_ORIGIN = "http://127.0.0.1:8796";
/** The audience the gateway's receiver (`POST /ssf/events`) has at the dev transmitter. */
export const SSF_RECEIVER_AUDIENCE = "https://gateway.verity.local/ssf";
/** The dev MCP server (dev/mcp-server.ts): streamable HTTP at `/mcp`, behind the gateway's `/mcp/acme-docs`. */
export const MCP_SERVER_ORIGIN = "http://127.0.0.1:8797";
