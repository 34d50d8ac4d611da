/**
 * How continuous verification names a principal. A user and a workload may carry the same id in one
 * tenant (an IdP `sub` and a client id, a registry workload id), so every key carries the kind:
 * `<kind>/<id>` inside a tenant's `Revocations`, `<tenant>/<kind>/<id>` for a `RiskEngine`. Built
 * here only; no caller composes these strings itself.
 */
import type { Principal } from "../../context.ts";

/** Who a revocation or a risk level is about, within a tenant. */
export type PrincipalIdentity = Pick<Principal, "kind" | "id">;

export function isPrincipalIdentity(value: unknown): value is PrincipalIdentity {
  if (typeof value !== "object" || value === null) return false;
  const { kind, id } = value as Record<string, unknown>;
  return (kind === "user" || kind === "workload") && typeof id === "string" && id.length > 0 && id.length <= 256;
}

/** `<kind>/<id>`: a principal's key inside its tenant. The kind never contains `/`, so keys cannot collide. */
export function principalKey(principal: PrincipalIdentity): string {
  return `${principal.kind}/${principal.id}`;
}

/** `<tenant>/<kind>/<id>`: the name of a principal's `RiskEngine`. */
export function riskEngineName(principal: Pick<Principal, "tenant" | "kind" | "id">): string {
  return `${principal.tenant}/${principalKey(principal)}`;
}
