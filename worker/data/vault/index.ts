/**
 * Data at rest: payloads policy says to keep (`retain:` obligations), envelope-encrypted per data
 * subject under the tenant's KEK, deleted when their retention ends, crypto-shredded on erasure.
 * An entry of its own, beside data/index.ts (as verify/risk/ is beside verify/): it carries a Durable
 * Object and Worker bindings, and data/index.ts must stay loadable in Node (the CLI, the benches).
 */
export { checkSubject, MAX_PAYLOAD_BYTES, MAX_RETENTION_DAYS, PAYLOAD_KINDS, type OpenedPayload, type PayloadKind, type StoreRequest, type StoredPayload, VaultCore } from "./core.ts";
export { vaultFailure, vaultOf, type VaultBindings } from "./edge.ts";
export { VaultError, type VaultErrorCode } from "./errors.ts";
export { importKeks, kekSecretName, type Kek, type KekSet } from "./keys.ts";
export { PayloadVault, type Erasure, type PayloadVaultEnv, type VaultReply } from "./payload-vault.ts";
export { retentionDays, retentionFor, type Retention, type RetentionContext } from "./retain.ts";
export { SqlVaultStore, VAULT_SCHEMA_VERSION } from "./sql-store.ts";
export type { DataKeyRow, ErasureResult, PayloadRow, VaultStore } from "./store.ts";
