/**
 * Starts the local stack once for the whole run (identity provider, mock backends, gateway under
 * wrangler dev with its own state directory) and tears the whole process group down afterwards.
 * VERITY_SKIP_STACK=1 skips it, for running pure unit tests alone.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startStack } from "../dev/stack.ts";

export default async function setup(): Promise<() => Promise<void>> {
  if (process.env.VERITY_SKIP_STACK === "1") return async () => {};
  const persistTo = mkdtempSync(join(tmpdir(), "verity-test-state-"));
  const stack = await startStack({ persistTo, log: () => {} });
  return async () => {
    await stack.stop();
    rmSync(persistTo, { recursive: true, force: true });
  };
}
