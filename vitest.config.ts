import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";
import { DEV_TRUSTED_KEYS } from "./dev/signing/sign-bundle.ts";
import { DEV_VAULT_KEKS, LOCAL_WORKERD_PLACEMENT } from "./dev/vault-keys.ts";

/**
 * Three projects: `unit` runs the tests of pure cores and `workers` the integration tests of the
 * Worker, both inside workerd (real KV and SQLite Durable Objects); `node` runs the dev stack's own
 * tests, the CLI's and the end-to-end tests with the official SDK clients. The global set-up starts
 * the local stack once (identity provider, mock backends, gateway) and kills its whole process group
 * afterwards.
 */

/**
 * The Worker as wrangler.toml builds it, in workerd, with the tests' bindings. Each project that uses
 * it gets its own runtime.
 */
const workerd = () =>
  cloudflareTest({
    wrangler: { configPath: "./wrangler.toml" },
    miniflare: {
      bindings: {
        // Every request rereads KV, so a test that publishes a variant sees it at once.
        CONFIG_REFRESH_MS: "0",
        UPSTREAM_KEY_EU_PUBLIC: "dev-upstream-key-eu-public",
        UPSTREAM_KEY_US_PUBLIC: "dev-upstream-key-us-public",
        UPSTREAM_KEY_EU_CONFIDENTIAL: "dev-upstream-key-eu-confidential",
        // wrangler.toml pins no bundle key; the tests' seeds are signed with the dev key.
        BUNDLE_TRUSTED_KEYS: DEV_TRUSTED_KEYS,
        // The mocks listen on loopback, which only local development may name (never in wrangler.toml).
        VERITY_LOCAL_DEV: "loopback",
        // Test-only vault keys; workerd has no Durable Object jurisdictions (dev/vault-keys.ts).
        ...DEV_VAULT_KEKS,
        ...LOCAL_WORKERD_PLACEMENT,
      },
    },
  });

export default defineConfig({
  test: {
    globalSetup: ["./test/global-setup.ts"],
    projects: [
      {
        plugins: [workerd()],
        test: {
          name: "unit",
          include: ["test/unit/**/*.test.ts"],
          // Pure cores share nothing between files, so they share one runtime: a fresh workerd per
          // file costs ≈ 6 s of CPU, ten times what the 68 files' tests take.
          isolate: false,
          testTimeout: 20_000,
        },
      },
      {
        plugins: [workerd()],
        test: {
          name: "workers",
          include: ["test/worker/**/*.test.ts"],
          // Each file drives the gateway with its own KV and Durable Object state (a runtime each).
          // Trusts the in-process gateway's keys at the self-hosted mock backend (gateway-signed assertions).
          setupFiles: ["./test/support/assertion-trust.ts"],
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: "node",
          environment: "node",
          include: ["test/dev/**/*.test.ts", "test/cli/**/*.test.ts", "test/e2e/**/*.test.ts"],
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
