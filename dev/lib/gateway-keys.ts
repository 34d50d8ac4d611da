/**
 * The gateway's signing keys as a dev service that verifies delegated tokens trusts them: the ones
 * `keys` resolves (normally the gateway's JWKS URL), and, TEST-ONLY, keys a test hands over with
 * `trust` — the workerd tests drive their own in-process gateway, whose key ring no URL serves.
 */
import { createLocalJWKSet, errors as joseErrors, type JSONWebKeySet, type JWTVerifyGetKey } from "jose";

export interface TrustedGatewayKeys {
  keys: JWTVerifyGetKey;
  /** Adds (replaces) the handed-over keys; throws when `jwks` is not a JWK Set. */
  trust(jwks: JSONWebKeySet): void;
}

export function trustedGatewayKeys(gatewayKeys: JWTVerifyGetKey): TrustedGatewayKeys {
  let testKeys: JWTVerifyGetKey | undefined;
  return {
    async keys(header, token) {
      try {
        return await gatewayKeys(header, token);
      } catch (error) {
        if (testKeys === undefined || !(error instanceof joseErrors.JOSEError)) throw error;
        return testKeys(header, token);
      }
    },
    trust(jwks) {
      testKeys = createLocalJWKSet(jwks);
    },
  };
}
