/**
 * The one place that loads cedar-wasm. Workers forbid compiling WebAssembly from bytes at run time
 * (no `eval`, no `WebAssembly.compile`), so the module is imported as a precompiled
 * `WebAssembly.Module` and instantiated synchronously, once per isolate, on first use.
 *
 * The package's `exports` map hides the `web/` files' wasm, so both are imported by path.
 */
import * as cedar from "../../node_modules/@cedar-policy/cedar-wasm/web/cedar_wasm.js";
import cedarModule from "../../node_modules/@cedar-policy/cedar-wasm/web/cedar_wasm_bg.wasm?module";

/** The cedar-wasm bindings' module type. */
export type Cedar = typeof cedar;

let ready = false;

/** The cedar-wasm bindings, instantiated on first call. Throws if the module cannot be instantiated. */
export function cedarEngine(): Cedar {
  if (!ready) {
    cedar.initSync({ module: cedarModule });
    ready = true;
  }
  return cedar;
}
