/**
 * The policy plane's decision path in Node: the same `worker/policy/pdp.ts` the Worker runs, over the
 * same cedar-wasm bindings, instantiated from the module's bytes (which Node, unlike Workers, allows).
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import * as cedar from "../node_modules/@cedar-policy/cedar-wasm/web/cedar_wasm.js";
import { provideCedarEngine } from "../worker/policy/engine.ts";

const require = createRequire(import.meta.url);
const wasmPath = join(dirname(require.resolve("@cedar-policy/cedar-wasm/nodejs")), "..", "web", "cedar_wasm_bg.wasm");

provideCedarEngine(() => {
  cedar.initSync({ module: new WebAssembly.Module(readFileSync(wasmPath)) });
  return cedar;
});

export * from "../worker/policy/pdp.ts";
