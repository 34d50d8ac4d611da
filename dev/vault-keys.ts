/**
 * TEST-ONLY key-encryption keys of the payload vault, one per seeded tenant (Worker secrets
 * `KEK_<TENANT>`, base64 of 32 bytes). The local stack, the tests and the benchmarks pass them as
 * bindings, as they do the dev upstream keys; a deployment sets its own with `wrangler secret put`.
 * Public in this repository, so they protect nothing.
 */
export const DEV_VAULT_KEKS: Readonly<Record<`KEK_${string}`, string>> = {
  KEK_ACME: "myw7tl2sm8CuI3aErCA/oMeJha1V0h7MCDiEuYVdd38=",
  KEK_GLOBEX: "XQmlW4Mm/PA0EBS12bpqODBIOwt8DN8paB3JZ3PXrv8=",
};

/**
 * workerd run locally does not implement Durable Object jurisdictions (it throws "not implemented");
 * everywhere the Worker runs under it, objects are addressed by name alone (worker/lib/tenant-placement.ts).
 */
export const LOCAL_WORKERD_PLACEMENT = { DO_JURISDICTIONS: "off" } as const;
