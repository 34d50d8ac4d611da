/**
 * Access tokens for the seeded principals (dev/accounts.json), issued by the dev identity provider.
 * Web APIs only: this runs in Node (the token CLI, node tests) and inside workerd (worker tests).
 *
 * Users: the resource-owner password grant through the confidential client `verity-cli`.
 * Workloads: client credentials with the workload's own client. Both `client_secret_post`.
 */
import { CLI_CLIENT, findPrincipal, principalNames, type SeededPrincipal } from "../../dev/accounts.ts";
import { GATEWAY_AUDIENCE, IDP_ORIGIN } from "../../dev/config.ts";

/** oidc-provider's fixed token route; saves a discovery round trip per token. */
const TOKEN_PATH = "/token";
const USER_SCOPE = "openid profile gateway";
const WORKLOAD_SCOPE = "gateway";

export type TokenErrorCode = "unknown_principal" | "idp_unreachable" | "idp_refused" | "idp_bad_response";

export class TokenRequestError extends Error {
  override readonly name = "TokenRequestError";

  constructor(
    readonly code: TokenErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** An access token (a JWT for the gateway audience) for the seeded user or workload `name`. */
export async function tokenFor(name: string, idpOrigin: string = IDP_ORIGIN): Promise<string> {
  const principal = findPrincipal(name);
  if (principal === undefined) {
    throw new TokenRequestError(
      "unknown_principal",
      `no seeded user or workload named "${name}"; known: ${principalNames().join(", ")}`,
    );
  }
  const response = await postTokenRequest(new URL(TOKEN_PATH, idpOrigin), tokenRequestBody(principal));
  return accessTokenFrom(name, response);
}

function tokenRequestBody(principal: SeededPrincipal): URLSearchParams {
  if (principal.kind === "user") {
    return new URLSearchParams({
      grant_type: "password",
      username: principal.name,
      password: principal.password,
      scope: USER_SCOPE,
      resource: GATEWAY_AUDIENCE,
      client_id: CLI_CLIENT.id,
      client_secret: CLI_CLIENT.secret,
    });
  }
  return new URLSearchParams({
    grant_type: "client_credentials",
    scope: WORKLOAD_SCOPE,
    resource: GATEWAY_AUDIENCE,
    client_id: principal.name,
    client_secret: principal.clientSecret,
  });
}

async function postTokenRequest(endpoint: URL, body: URLSearchParams): Promise<Response> {
  try {
    return await fetch(endpoint, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
      body,
    });
  } catch (cause) {
    throw new TokenRequestError("idp_unreachable", `the identity provider at ${endpoint.origin} is unreachable`, {
      cause,
    });
  }
}

async function accessTokenFrom(name: string, response: Response): Promise<string> {
  const body = await readJson(response);
  if (!response.ok) {
    throw new TokenRequestError(
      "idp_refused",
      `the identity provider refused a token for "${name}": HTTP ${response.status} ${describeOAuthError(body)}`,
    );
  }
  const token = isRecord(body) ? body["access_token"] : undefined;
  if (typeof token !== "string" || token === "") {
    throw new TokenRequestError("idp_bad_response", `the identity provider's answer for "${name}" has no access_token`);
  }
  return token;
}

async function readJson(response: Response): Promise<unknown> {
  const text = await response.text();
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** RFC 6749 §5.2 `error` and `error_description`, or the raw body when it is not one. */
function describeOAuthError(body: unknown): string {
  if (isRecord(body) && typeof body["error"] === "string") {
    const description = typeof body["error_description"] === "string" ? ` (${body["error_description"]})` : "";
    return `${body["error"]}${description}`;
  }
  return JSON.stringify(body);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
