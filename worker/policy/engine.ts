/**
 * The one place the policy plane gets cedar-wasm from. The runtime provides a loader once (the
 * Worker: `engine-workers.ts`, a precompiled module; the Node CLI: the same bindings from bytes), and
 * the bindings are instantiated on first use, once per isolate or process.
 */
import type * as bindings from "../../node_modules/@cedar-policy/cedar-wasm/web/cedar_wasm.js";

/** The cedar-wasm bindings' module type. */
export type Cedar = typeof bindings;

let loader: (() => Cedar) | undefined;
let engine: Cedar | undefined;

export function provideCedarEngine(load: () => Cedar): void {
  loader = load;
  engine = undefined;
}

/** The cedar-wasm bindings, instantiated on first call. Throws if none was provided or it fails. */
export function cedarEngine(): Cedar {
  if (engine === undefined) {
    if (loader === undefined) throw new Error("no Cedar engine was provided (provideCedarEngine)");
    engine = loader();
  }
  return engine;
}
