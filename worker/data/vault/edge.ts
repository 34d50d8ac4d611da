/** The vault as the Worker's routes reach it: the tenant's object, and its failures as gateway errors. */
import { GatewayError } from "../../errors.ts";
import { placedStub, type PlacementVars } from "../../lib/tenant-placement.ts";
import type { PayloadVault, VaultReply } from "./payload-vault.ts";

export interface VaultBindings extends PlacementVars {
  PAYLOAD_VAULT: DurableObjectNamespace<PayloadVault>;
}

/** The tenant's vault, in the tenant's jurisdiction (the same placement as its audit log). */
export function vaultOf(env: VaultBindings, tenant: { id: string; jurisdiction: string }): DurableObjectStub<PayloadVault> {
  return placedStub(env.PAYLOAD_VAULT, tenant.id, tenant.jurisdiction, env);
}

/** A vault refusal as the caller sees it; key trouble and corruption stay on the server side. */
export function vaultFailure(reply: Extract<VaultReply<unknown>, { ok: false }>): GatewayError {
  const cause = new Error(`${reply.code}: ${reply.message}`);
  switch (reply.code) {
    case "payload_erased":
      return new GatewayError("payload_erased", "the payload's data subject was erased; the payload can no longer be read", { cause });
    case "payload_not_found":
      return new GatewayError("not_found", "no such payload, or its retention has ended", { cause });
    case "payload_too_large":
      return new GatewayError("payload_too_large", "the payload is larger than the vault keeps", { cause });
    case "invalid_argument":
      return new GatewayError("invalid_request", reply.message, { cause });
    case "kek_missing":
    case "kek_invalid":
      return new GatewayError("config_unavailable", "the tenant's payload encryption key is not configured", { cause });
    case "integrity":
      return new GatewayError("internal", "The gateway could not complete the request.", { cause });
  }
}
