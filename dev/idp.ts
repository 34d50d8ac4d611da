/**
 * The dev identity provider: a real OpenID Connect provider (oidc-provider v9) for the local stack.
 *
 * - Discovery at `/.well-known/openid-configuration`, keys at `/jwks`, tokens at `/token`.
 * - Access tokens are RFC 9068 JWTs (`typ: at+jwt`, ES256) for the gateway audience, carrying `tenant`
 *   and, for users, `acr`, `amr` and `auth_time`.
 * - Users log in non-interactively with the resource-owner password grant (RFC 6749 §4.3) through the
 *   confidential client `verity-cli`; workloads use client credentials with their own client.
 * - Keys are generated at every start, so restarting the stack rotates them (new `kid`s).
 *
 * Run directly (`tsx dev/idp.ts`) it listens on IDP_ORIGIN's port.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { createServer } from "node:http";
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from "jose";
import Provider, {
  errors,
  type ClientMetadata,
  type Configuration,
  type GrantTypeHandler,
  type IssuedToken,
  type ResourceServer,
  type ResourceServerInfo,
} from "oidc-provider";
import { CLI_CLIENT, findUser, findWorkload, seededWorkloads, type SeededUser } from "./accounts.ts";
import { GATEWAY_AUDIENCE, IDP_ORIGIN } from "./config.ts";
import { closeServer, isEntryPoint, listen } from "./lib/http-server.ts";

export interface IdpOptions {
  /** 0 picks a free port (tests). */
  port: number;
  /** Interface to listen on; the issuer always names 127.0.0.1. */
  host?: string;
}

export interface RunningIdp {
  /** `http://127.0.0.1:<port>`, no trailing slash: the `iss` of every token. */
  issuer: string;
  close(): Promise<void>;
}

export const ACR_MFA = "urn:verity:acr:mfa";
export const ACR_PASSWORD = "urn:verity:acr:pwd";
/** Every scope the gateway understands; a grant gets the requested subset, or all when none is asked. */
const GATEWAY_SCOPES = "openid profile gateway";
/** Ten minutes: short enough that a leaked dev token dies quickly, long enough for a manual session. */
const ACCESS_TOKEN_TTL_SECONDS = 600;
const PASSWORD_GRANT = "password";
const PASSWORD_GRANT_PARAMS = ["username", "password", "scope", "resource"];

export async function startIdp(options: IdpOptions): Promise<RunningIdp> {
  // Keys first (RSA generation is slow), so the provider is ready the moment the port is bound.
  const config = await configuration();
  const server = createServer();
  const port = await listen(server, options.port, options.host ?? "127.0.0.1");
  // The issuer names the bound port, which is only known now when port 0 was asked for.
  const provider = new Provider(`http://127.0.0.1:${port}`, config);
  // `resource` may repeat (RFC 8707), which the handler then refuses with invalid_target.
  provider.registerGrantType(PASSWORD_GRANT, passwordGrant(provider), PASSWORD_GRANT_PARAMS, ["resource"]);
  provider.on("server_error", logServerError);
  server.on("request", provider.callback());

  return { issuer: provider.issuer, close: () => closeServer(server) };
}

async function configuration(): Promise<Configuration> {
  return {
    clients: clients(),
    jwks: { keys: await Promise.all([signingKey("ES256"), signingKey("RS256")]) },
    scopes: GATEWAY_SCOPES.split(" "),
    // No browser flows run here, but oidc-provider signs its cookies anyway: a per-process key will do.
    cookies: { keys: [randomBytes(32).toString("base64url")] },
    extraTokenClaims: async (_ctx, token) => principalClaims(token),
    ttl: { AccessToken: tokenTtl, ClientCredentials: tokenTtl },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: async () => GATEWAY_AUDIENCE,
        getResourceServerInfo: async (_ctx, resource) => gatewayResourceServerInfo(resource),
        useGrantedResource: () => true,
      },
    },
  };
}

function clients(): ClientMetadata[] {
  const confidential = { token_endpoint_auth_method: "client_secret_post", response_types: [], redirect_uris: [] };
  return [
    { ...confidential, client_id: CLI_CLIENT.id, client_secret: CLI_CLIENT.secret, grant_types: [PASSWORD_GRANT] },
    ...seededWorkloads().map((workload) => ({
      ...confidential,
      client_id: workload.name,
      client_secret: workload.clientSecret,
      grant_types: ["client_credentials"],
    })),
  ];
}

async function signingKey(alg: "ES256" | "RS256"): Promise<JWK> {
  const { privateKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = await exportJWK(privateKey);
  return { ...jwk, kid: await calculateJwkThumbprint(jwk), alg, use: "sig" };
}

/** The gateway is the only resource server; any other resource indicator is refused. */
function gatewayResourceServerInfo(resource: string): ResourceServerInfo {
  if (resource !== GATEWAY_AUDIENCE) throw new errors.InvalidTarget();
  return {
    scope: GATEWAY_SCOPES,
    audience: GATEWAY_AUDIENCE,
    accessTokenFormat: "jwt",
    accessTokenTTL: ACCESS_TOKEN_TTL_SECONDS,
    jwt: { sign: { alg: "ES256" } },
  };
}

function tokenTtl(_ctx: unknown, token: IssuedToken): number {
  return token.resourceServer?.accessTokenTTL ?? ACCESS_TOKEN_TTL_SECONDS;
}

/** The claims the gateway reads beyond RFC 9068's: the tenant, and for users how they authenticated. */
function principalClaims(token: IssuedToken): Record<string, unknown> | undefined {
  if (token.accountId !== undefined) {
    const user = findUser(token.accountId);
    if (user === undefined) return undefined;
    return {
      tenant: user.tenant,
      acr: user.mfa ? ACR_MFA : ACR_PASSWORD,
      amr: user.mfa ? ["pwd", "otp"] : ["pwd"],
      // The password grant authenticates the user at issuance, so auth_time is the token's iat.
      auth_time: token.iat,
    };
  }
  const workload = findWorkload(token.clientId);
  return workload === undefined ? undefined : { tenant: workload.tenant };
}

/**
 * RFC 6749 §4.3, built like oidc-provider's own client_credentials handler: client authentication and
 * the client's allowed grant types were checked by the token endpoint before this runs.
 */
function passwordGrant(provider: Provider): GrantTypeHandler {
  return async function passwordGrantHandler(ctx) {
    const { client, params } = ctx.oidc;
    if (client === undefined) throw new errors.InvalidRequest("client authentication is required");
    const user = authenticate(requiredParam(params, "username"), requiredParam(params, "password"));
    const resourceServer = new provider.ResourceServer(GATEWAY_AUDIENCE, requestedResource(params.resource));

    const token = new provider.AccessToken({
      client,
      accountId: user.name,
      gty: PASSWORD_GRANT,
      scope: grantedScope(params.scope, resourceServer),
      iat: Math.floor(Date.now() / 1000),
    });
    token.resourceServer = resourceServer;
    ctx.oidc.entity("AccessToken", token);
    const accessToken = await token.save();

    ctx.body = {
      access_token: accessToken,
      expires_in: token.expiration,
      token_type: token.tokenType,
      scope: token.scope,
    };
  };
}

type Params = Readonly<Record<string, string | string[] | undefined>>;

function requiredParam(params: Params, name: string): string {
  const value = params[name];
  if (typeof value !== "string" || value === "") {
    throw new errors.InvalidRequest(`missing required parameter '${name}'`);
  }
  return value;
}

/** Unknown user and wrong password are the same `invalid_grant`, so the endpoint reveals no user names. */
function authenticate(username: string, password: string): SeededUser {
  const user = findUser(username);
  if (user === undefined || !sameSecret(password, user.password)) {
    throw new errors.InvalidGrant("invalid username or password");
  }
  return user;
}

/** Constant-time comparison; hashing first makes the lengths equal, as timingSafeEqual requires. */
function sameSecret(given: string, expected: string): boolean {
  const digest = (value: string) => createHash("sha256").update(value).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

function requestedResource(resource: string | string[] | undefined): ResourceServerInfo {
  if (Array.isArray(resource)) {
    throw new errors.InvalidTarget("only a single resource indicator value is supported for this grant type");
  }
  return gatewayResourceServerInfo(resource ?? GATEWAY_AUDIENCE);
}

function grantedScope(requested: string | string[] | undefined, resourceServer: ResourceServer): string {
  if (Array.isArray(requested)) throw new errors.InvalidRequest("'scope' must be given once");
  const allowed = new Set(resourceServer.scope.split(" "));
  const asked = requested === undefined || requested === "" ? [...allowed] : requested.split(" ");
  const granted = asked.filter((scope) => allowed.has(scope));
  if (granted.length === 0) throw new errors.InvalidScope("none of the requested scopes is offered", requested);
  return granted.join(" ");
}

function logServerError(_ctx: unknown, error: Error): void {
  console.error("dev identity provider: internal error:", error);
}

if (isEntryPoint(import.meta.url)) {
  const { issuer } = await startIdp({ port: Number(new URL(IDP_ORIGIN).port) });
  console.log(`dev identity provider: ${issuer} (discovery: ${issuer}/.well-known/openid-configuration)`);
}
