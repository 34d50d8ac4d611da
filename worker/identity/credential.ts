import { GatewayError } from "../errors.ts";

/** A token as the caller presented it, before any verification. */
export interface PresentedToken {
  /**
   * `Bearer` (RFC 6750), `DPoP` (RFC 9449 §7.1: the token is bound to the key of the `DPoP` proof), or
   * `Access` for a Cloudflare Access assertion, which the edge puts in its own header.
   */
  scheme: "Bearer" | "DPoP" | "Access";
  token: string;
}

/** Cloudflare Access forwards its application token in this header (and never in Authorization). */
export const ACCESS_ASSERTION_HEADER = "cf-access-jwt-assertion";
const TOKEN68 = /^[A-Za-z0-9\-._~+/]+=*$/;

/**
 * The one token this request carries, or undefined when it carries none. Exactly one
 * `Authorization: Bearer|DPoP <token68>`; tokens in the query or body are not accepted, and a request
 * with both an Authorization token and an Access assertion is ambiguous and refused.
 */
export function presentedToken(headers: Pick<Headers, "get">): PresentedToken | undefined {
  const authorization = headers.get("authorization");
  const assertion = headers.get(ACCESS_ASSERTION_HEADER);
  if (authorization !== null && assertion !== null) {
    throw new GatewayError("token_invalid", "send either an Authorization token or an Access assertion, not both", {
      challenge: { error: "invalid_request" },
    });
  }
  if (assertion !== null) {
    // Headers joins repeated fields with ", ", which a JWS never contains.
    if (!TOKEN68.test(assertion)) {
      throw new GatewayError("token_invalid", "the Access assertion must be a single token", { challenge: { error: "invalid_request" } });
    }
    return { scheme: "Access", token: assertion };
  }
  if (authorization === null || authorization.trim() === "") return undefined;
  const match = /^(Bearer|DPoP) ([^\s,]+)$/i.exec(authorization.trim());
  if (!match?.[1] || !match[2] || !TOKEN68.test(match[2])) {
    throw new GatewayError("token_invalid", "the Authorization header must be a single Bearer or DPoP token", {
      challenge: { error: "invalid_request" },
    });
  }
  return { scheme: match[1].toLowerCase() === "dpop" ? "DPoP" : "Bearer", token: match[2] };
}
