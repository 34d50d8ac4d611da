/**
 * Delegated tool tokens, with RFC 8693 token-exchange semantics: the gateway (`iss`) hands one tool
 * (`aud`, a single audience) a token saying that this human (`sub`) asked, through this agent or
 * client (`act`), for exactly these arguments (`args_sha256`), within the next 60 seconds at most.
 * The caller's own token never leaves the gateway; a tool sees only this narrow one.
 *
 * Signed by the KeyRing (EdDSA; kid in the header; public keys at /.well-known/jwks.json). Tool
 * owners check tokens with `verifyDelegatedToken` (./verify-delegated-token.ts).
 */
import type { Principal } from "../context.ts";
import { GatewayError } from "../errors.ts";
import type { Tool } from "../workload/index.ts";
import { DELEGATED_TOKEN_LIFE_S, DELEGATED_TOKEN_TYPE, type ActorClaim, type DelegatedTokenClaims } from "./delegated-token-claims.ts";

export * from "./delegated-token-claims.ts";

/** What signs: the KeyRing Durable Object's stub (interface 4) or a test double. */
export interface JwsSigner {
  signJws(payload: Record<string, unknown>, typ: string): Promise<string>;
}

/**
 * The principal's delegation chain as a nested `act` claim. An explicit chain (the caller's token
 * had `act`) is kept whole; otherwise the OAuth client the principal used is the actor.
 */
export function actorClaim(principal: Principal): ActorClaim | undefined {
  const chain = principal.delegation ?? (principal.actor ? [principal.actor] : []);
  let claim: ActorClaim | undefined;
  for (const actor of [...chain].reverse()) {
    claim = { sub: actor.sub, ...(actor.clientId ? { client_id: actor.clientId } : {}), ...(claim ? { act: claim } : {}) };
  }
  if (claim) return claim;
  return principal.clientId ? { sub: principal.clientId, client_id: principal.clientId } : undefined;
}

export interface DelegationInput {
  issuer: string;
  principal: Principal;
  tool: Tool;
  argumentsDigest: string;
  /** Epoch milliseconds. */
  now: number;
  jti?: string;
}

export function delegatedTokenClaims(input: DelegationInput): DelegatedTokenClaims {
  const iat = Math.floor(input.now / 1000);
  const act = actorClaim(input.principal);
  return {
    iss: input.issuer,
    sub: input.principal.id,
    aud: input.tool.audience,
    iat,
    exp: iat + DELEGATED_TOKEN_LIFE_S,
    jti: input.jti ?? crypto.randomUUID(),
    tenant: input.principal.tenant,
    tool: input.tool.id,
    scope: `tool:${input.tool.id}`,
    args_sha256: input.argumentsDigest,
    ...(act ? { act } : {}),
  };
}

/**
 * Refuses to mint tokens that could outlive the key that verifies them: a key stays published
 * `retainMs` after it stops signing, which must cover a token's whole life (start-up check).
 */
export function assertKeyRetention(retainMs: number): void {
  if (retainMs < DELEGATED_TOKEN_LIFE_S * 1000) {
    throw new GatewayError("config_unavailable", "delegated tokens are not available: signing keys are retained for less than a token's life", {
      cause: new TypeError(`SIGNING_KEY_RETAIN_S must be at least ${DELEGATED_TOKEN_LIFE_S}`),
    });
  }
}

export async function issueDelegatedToken(signer: JwsSigner, input: DelegationInput): Promise<{ token: string; claims: DelegatedTokenClaims }> {
  const claims = delegatedTokenClaims(input);
  return { token: await signer.signJws({ ...claims }, DELEGATED_TOKEN_TYPE), claims };
}
