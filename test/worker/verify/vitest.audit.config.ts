import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

// Temporary: runs plane 6's tests against worker/verify/index.ts while worker/index.ts is in flux.
export default defineConfig({
  plugins: [cloudflareTest({ main: "./worker/verify/index.ts", wrangler: { configPath: "./wrangler.toml" } })],
  test: {
    name: "workers",
    include: ["test/unit/verify/**/*.test.ts", "test/worker/verify/**/*.test.ts"],
    testTimeout: 20_000,
  },
});
