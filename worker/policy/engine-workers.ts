/**
 * cedar-wasm for Workers. Workers forbid compiling WebAssembly from bytes at run time (no `eval`, no
 * `WebAssembly.compile`), so the module is imported as a precompiled `WebAssembly.Module` and
 * instantiated synchronously. The package's `exports` map hides the `web/` files' wasm, so both are
 * imported by path.
 */
import * as cedar from "../../node_modules/@cedar-policy/cedar-wasm/web/cedar_wasm.js";
import cedarModule from "../../node_modules/@cedar-policy/cedar-wasm/web/cedar_wasm_bg.wasm?module";
import type { Cedar } from "./engine.ts";

export function loadWorkersCedar(): Cedar {
  cedar.initSync({ module: cedarModule });
  return cedar;
}
