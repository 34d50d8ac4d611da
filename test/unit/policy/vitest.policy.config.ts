// TEMPORARY private config while wrangler.toml's main (worker/index.ts) does not exist yet.
import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";
export default defineConfig({
  plugins: [cloudflareTest({ wrangler: { configPath: "./wrangler.toml" } })],
  test: { name: "workers", include: ["test/unit/policy/**/*.test.ts", "test/worker/policy/**/*.test.ts"], testTimeout: 20_000 },
});
