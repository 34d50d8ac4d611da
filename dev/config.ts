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
}

export const MOCK_BACKENDS: readonly MockBackendSpec[] = [
  { id: "eu-public", port: 8791, region: "eu", tier: "public", apiKey: "dev-upstream-key-eu-public", secret: "UPSTREAM_KEY_EU_PUBLIC" },
  { id: "us-public", port: 8792, region: "us", tier: "public", apiKey: "dev-upstream-key-us-public", secret: "UPSTREAM_KEY_US_PUBLIC" },
  { id: "eu-confidential", port: 8793, region: "eu", tier: "confidential", apiKey: "dev-upstream-key-eu-confidential", secret: "UPSTREAM_KEY_EU_CONFIDENTIAL" },
];
