/**
 * The gateway-signed assertion (in the spirit of Pomerium's `X-Pomerium-Jwt-Assertion`): a backend
 * that declares `assertion` in the registry gets, with every request, a JWT of at most 60 s that says
 * who the principal is, for which tenant and request, and what was decided under which policy, signed
 * by the gateway's KeyRing (EdDSA, key published at /.well-known/jwks.json). The backend verifies it
 * and so need not trust the network path (or the upstream API key alone) to know a request is the
 * gateway's and was allowed.
 *
 * Verifying (see dev/mock-backend.ts for a working verifier): signature against the gateway JWKS,
 * `typ` = ASSERTION_TYPE, `alg` EdDSA, `iss` the gateway, `aud` the backend's configured audience,
 * `exp` not passed (lifetime ≤ 60 s), and a `jti` not seen before if replay matters to it.
 */
import type { ClassificationLevel, Principal } from "../context.ts";
import { GatewayError } from "../errors.ts";
import { KEY_RING_NAME, type KeyRing } from "../verify/index.ts";

export const ASSERTION_HEADER = "x-verity-assertion";
export const ASSERTION_TYPE = "verity-assertion+jwt";
/** 60 s: enough for clock skew and a slow first byte; a captured assertion is worthless a minute later. */
export const ASSERTION_LIFETIME_S = 60;

export interface AssertionFacts {
  issuer: string;
  audience: string;
  principal: Principal;
  requestId: string;
  decision: "allow";
  policyVersion: string;
  configVersion: string;
  classification: ClassificationLevel;
  backend: string;
}

/** The claims of one assertion, issued at `now` (epoch ms). */
export function assertionClaims(facts: AssertionFacts, now: number): Record<string, unknown> {
  const iat = Math.floor(now / 1000);
  const { principal } = facts;
  return {
    iss: facts.issuer,
    aud: facts.audience,
    sub: principal.id,
    iat,
    exp: iat + ASSERTION_LIFETIME_S,
    jti: crypto.randomUUID(),
    tenant: principal.tenant,
    principal_kind: principal.kind,
    ...(principal.actor ? { act: { sub: principal.actor.sub } } : {}),
    request_id: facts.requestId,
    backend: facts.backend,
    decision: facts.decision,
    policy_version: facts.policyVersion,
    config_version: facts.configVersion,
    classification: facts.classification,
  };
}

/** Signs the assertion with the KeyRing; a ring that cannot sign refuses the request (fail closed). */
export async function signAssertion(keyRing: DurableObjectNamespace<KeyRing>, claims: Record<string, unknown>): Promise<string> {
  try {
    const ring = keyRing.get(keyRing.idFromName(KEY_RING_NAME)) as unknown as Pick<KeyRing, "signJws">;
    return await ring.signJws(claims, ASSERTION_TYPE);
  } catch (cause) {
    throw new GatewayError("assertion_unavailable", "the gateway could not sign its assertion for the backend, so nothing was sent", { cause });
  }
}
