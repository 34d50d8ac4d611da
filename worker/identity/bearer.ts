import { GatewayError } from "../errors.ts";

/** RFC 6750 §2.1: exactly one `Authorization: Bearer <token68>`; tokens in query or body are not accepted. */
export function bearerToken(headers: Headers): string {
  const value = headers.get("authorization");
  if (value === null || value.trim() === "") throw new GatewayError("token_missing", "an access token is required");
  // Headers joins repeated fields with ", "; a second credential is ambiguous and refused.
  const match = /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/i.exec(value.trim());
  if (!match?.[1]) {
    throw new GatewayError("token_invalid", "the Authorization header must be a single Bearer token", {
      challenge: { error: "invalid_request" },
    });
  }
  return match[1];
}
