/**
 * The self-hosted mock backend's check of the gateway-signed assertion (worker/network/assertion.ts),
 * as a real self-hosted backend would do it: `X-Verity-Assertion` must be a JWT of type
 * `verity-assertion+jwt`, EdDSA, signed by a key of the gateway's JWKS, for this backend's audience,
 * from the gateway's issuer, unexpired and at most 60 s old. Without it: 401 `assertion_missing`;
 * anything wrong with it: 401 `assertion_invalid`.
 *
 * Keys: the gateway's published JWKS (fetched and cached by jose, refetched on an unknown `kid`), and,
 * TEST ONLY, keys registered through `POST /__mock/assertion-keys {"keys": [...]}`: the in-process
 * gateway of the Worker tests has its own key ring, whose JWKS the mock cannot fetch.
 */
import type { IncomingHttpHeaders } from "node:http";
import { createLocalJWKSet, createRemoteJWKSet, jwtVerify, type JWK, type JWTVerifyGetKey } from "jose";
import { WireError } from "./wire.ts";

export const ASSERTION_HEADER = "x-verity-assertion";
export const ASSERTION_KEYS_PATH = "/__mock/assertion-keys";
/** Registered test keys kept; the oldest go first. */
const MAX_REGISTERED_KEYS = 256;

export interface AssertionRequirement {
  issuer: string;
  audience: string;
  jwksUri: string;
}

export interface AssertionVerifier {
  check(headers: IncomingHttpHeaders): Promise<void>;
  /** TEST ONLY: trusts more keys (public JWKs); returns how many are registered. */
  register(keys: unknown): number;
}

export function createAssertionVerifier(requirement: AssertionRequirement): AssertionVerifier {
  const remote = createRemoteJWKSet(new URL(requirement.jwksUri), { cooldownDuration: 1000 });
  const registered: JWK[] = [];
  let local: JWTVerifyGetKey = createLocalJWKSet({ keys: [] });

  const key: JWTVerifyGetKey = async (header, token) => {
    if (header.kid !== undefined && registered.some((k) => k.kid === header.kid)) return local(header, token);
    return remote(header, token);
  };

  return {
    async check(headers) {
      const value = headers[ASSERTION_HEADER];
      if (typeof value !== "string" || value === "") {
        throw new WireError(401, "this backend accepts only requests carrying the gateway's signed assertion", { code: "assertion_missing" });
      }
      try {
        await jwtVerify(value, key, {
          issuer: requirement.issuer,
          audience: requirement.audience,
          algorithms: ["EdDSA"],
          typ: "verity-assertion+jwt",
          maxTokenAge: "60s",
          requiredClaims: ["sub", "tenant", "request_id", "decision", "exp", "iat"],
        });
      } catch {
        throw new WireError(401, "the gateway's signed assertion does not verify", { code: "assertion_invalid" });
      }
    },
    register(keys) {
      const list = typeof keys === "object" && keys !== null ? (keys as { keys?: unknown }).keys : undefined;
      if (!Array.isArray(list)) throw new WireError(400, 'body must be {"keys": [JWK, ...]}');
      for (const jwk of list as JWK[]) {
        if (typeof jwk !== "object" || jwk === null || typeof jwk.kid !== "string" || "d" in jwk) throw new WireError(400, "keys must be public JWKs with a kid");
        if (!registered.some((k) => k.kid === jwk.kid)) registered.push(jwk);
      }
      registered.splice(0, Math.max(0, registered.length - MAX_REGISTERED_KEYS));
      local = createLocalJWKSet({ keys: [...registered] });
      return registered.length;
    },
  };
}
