/**
 * A `.wasm?module` import is a compiled `WebAssembly.Module` in workerd: wrangler's built-in
 * CompiledWasm rule and the vitest plugin both match `**\/*.wasm?module`. (Plain `.wasm` is taken by
 * Vite's ESM-integration loader in tests, which tries to link the module's JS imports.)
 */
declare module "*.wasm?module" {
  const module: WebAssembly.Module;
  export default module;
}
