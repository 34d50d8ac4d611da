import { describe, expect, it } from "vitest";
import { asGatewayError, errorResponse, GatewayError } from "../../worker/errors.ts";

describe("error model", () => {
  it("speaks OpenAI's error shape", async () => {
    const response = errorResponse(new GatewayError("policy_denied", "no"), "openai", "req-1");
    expect(response.status).toBe(403);
    expect(response.headers.get("x-request-id")).toBe("req-1");
    expect(await response.json()).toEqual({ error: { message: "no", type: "permission_error", code: "policy_denied", param: null } });
  });

  it("speaks Anthropic's error shape", async () => {
    const response = errorResponse(new GatewayError("payload_too_large", "big"), "anthropic", "req-2");
    expect(response.status).toBe(413);
    expect(await response.json()).toMatchObject({ type: "error", error: { type: "request_too_large", message: "big" } });
  });

  it("challenges a 401 per RFC 6750 (offering DPoP too, RFC 9449 §7.1), and per RFC 9470 for step-up", () => {
    expect(errorResponse(new GatewayError("token_missing", "x"), "openai", "r").headers.get("www-authenticate")).toBe(
      'Bearer realm="verity", DPoP realm="verity", algs="ES256 ES384 EdDSA PS256 RS256"',
    );
    const stepUp = new GatewayError("insufficient_user_authentication", "stronger", {
      challenge: { error: "insufficient_user_authentication", acrValues: "urn:verity:acr:mfa", maxAge: 300 },
    });
    expect(errorResponse(stepUp, "openai", "r").headers.get("www-authenticate")).toBe(
      'Bearer realm="verity", error="insufficient_user_authentication", error_description="stronger", acr_values="urn:verity:acr:mfa", max_age=300',
    );
  });

  it("challenges a refused DPoP proof with the DPoP scheme and invalid_dpop_proof; a malformed one is a 400 with the same challenge", () => {
    const refused = errorResponse(new GatewayError("dpop_proof_replayed", "used before"), "openai", "r");
    expect(refused.status).toBe(401);
    expect(refused.headers.get("www-authenticate")).toBe(
      'DPoP realm="verity", error="invalid_dpop_proof", error_description="used before", algs="ES256 ES384 EdDSA PS256 RS256"',
    );
    const malformed = errorResponse(new GatewayError("dpop_proof_malformed", "two proofs"), "anthropic", "r");
    expect(malformed.status).toBe(400);
    expect(malformed.headers.get("www-authenticate")).toBe(
      'DPoP realm="verity", error="invalid_dpop_proof", error_description="two proofs", algs="ES256 ES384 EdDSA PS256 RS256"',
    );
  });

  it("never lets an unexpected error's message out", async () => {
    const error = asGatewayError(new Error("db password is hunter2"));
    expect(error.code).toBe("internal");
    const text = await errorResponse(error, "openai", "r").text();
    expect(text).not.toContain("hunter2");
  });
});
