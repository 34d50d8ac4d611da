/**
 * The dev identity provider: a real OpenID Connect provider (oidc-provider v9) for the local stack.
 *
 * - Discovery at `/.well-known/openid-configuration`, keys at `/jwks`, tokens at `/token`.
 * - Access tokens are RFC 9068 JWTs (`typ: at+jwt`, ES256) for the gateway audience, carrying `tenant`
 *   and, for users, `groups`, `sid`, `acr`, `amr` and `auth_time`.
 * - Users log in non-interactively with the resource-owner password grant (RFC 6749 §4.3) through the
 *   confidential client `verity-cli`; workloads use client credentials with their own client.
 * - Every kind of token the gateway accepts: a token request with a `DPoP` proof gets a DPoP-bound token
 *   (RFC 9449 `cnf.jkt`, `token_type` DPoP); one sent to the mutual-TLS listener (https, client
 *   certificate from the dev client CA required) gets a certificate-bound token (RFC 8705
 *   `cnf["x5t#S256"]`), announced as `mtls_endpoint_aliases`; anything else is a plain bearer token.
 * - Keys are generated at every start, so restarting the stack rotates them (new `kid`s).
 *
 * Run directly (`tsx dev/idp.ts`) it listens on IDP_ORIGIN's and IDP_MTLS_ORIGIN's ports.
 */
import { createHash, randomBytes, randomUUID, timingSafeEqual, type X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { createServer as createTlsServer } from "node:https";
import { join } from "node:path";
import { TLSSocket } from "node:tls";
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from "jose";
import Provider, {
  errors,
  type AccessToken,
  type ClientCredentials,
  type ClientMetadata,
  type Configuration,
  type GrantTypeHandler,
  type IssuedToken,
  type KoaContextWithOIDC,
  type ResourceServer,
  type ResourceServerInfo,
} from "oidc-provider";
import validateDpop, { checkDpopReplay, type DpopProof } from "oidc-provider/lib/helpers/validate_dpop.js";
import { CLI_CLIENT, findUser, findWorkload, seededWorkloads, type SeededUser } from "./accounts.ts";
import { GATEWAY_AUDIENCE, IDP_MTLS_ORIGIN, IDP_ORIGIN } from "./config.ts";
import { closeServer, isEntryPoint, listen } from "./lib/http-server.ts";

export interface IdpOptions {
  /** 0 picks a free port (tests). */
  port: number;
  /** Interface to listen on; the issuer always names 127.0.0.1. */
  host?: string;
  /** The mutual-TLS listener's port (0 picks a free one); without it there is no such listener. */
  mtlsPort?: number;
}

export interface RunningIdp {
  /** `http://127.0.0.1:<port>`, no trailing slash: the `iss` of every token. */
  issuer: string;
  /** `https://127.0.0.1:<mtlsPort>` when the mutual-TLS listener runs: its `/token` issues certificate-bound tokens. */
  mtlsOrigin?: string;
  close(): Promise<void>;
}

export const ACR_MFA = "urn:verity:acr:mfa";
export const ACR_PASSWORD = "urn:verity:acr:pwd";
/** Every scope the gateway understands; a grant gets the requested subset, or all when none is asked. */
const GATEWAY_SCOPES = "openid profile gateway";
/** Ten minutes: short enough that a leaked dev token dies quickly, long enough for a manual session. */
const ACCESS_TOKEN_TTL_SECONDS = 600;
/** A workload that asks for no scope gets the gateway's; OpenID scopes mean nothing without a user. */
const WORKLOAD_DEFAULT_SCOPE = "gateway";
const PASSWORD_GRANT = "password";
const PASSWORD_GRANT_PARAMS = ["username", "password", "scope", "resource"];
const CLIENT_CREDENTIALS_GRANT = "client_credentials";
const CLIENT_CREDENTIALS_PARAMS = ["scope", "resource"];
/** Test-only TLS material from `tsx dev/pki.ts`: the listener's certificate and the CA its clients' chain to. */
const PKI_DIR = join(import.meta.dirname, "pki");

export async function startIdp(options: IdpOptions): Promise<RunningIdp> {
  const host = options.host ?? "127.0.0.1";
  // Keys first (RSA generation is slow), so the provider is ready the moment the port is bound.
  const keys = await Promise.all([signingKey("ES256"), signingKey("RS256")]);
  const server = createServer();
  const servers: Server[] = [server];
  const close = async () => {
    await Promise.all(servers.filter((listening) => listening.listening).map(closeServer));
  };
  try {
    const port = await listen(server, options.port, host);
    let mtlsOrigin: string | undefined;
    if (options.mtlsPort !== undefined) {
      const mtlsServer = createMtlsServer();
      servers.push(mtlsServer);
      mtlsOrigin = `https://127.0.0.1:${await listen(mtlsServer, options.mtlsPort, host)}`;
    }
    // The issuer names the bound port, which is only known now when port 0 was asked for.
    const provider = new Provider(`http://127.0.0.1:${port}`, configuration(keys, mtlsOrigin));
    // `resource` may repeat (RFC 8707), which the handlers then refuse with invalid_target.
    provider.registerGrantType(PASSWORD_GRANT, passwordGrant(provider), PASSWORD_GRANT_PARAMS, ["resource"]);
    // Replaces the built-in handler, which binds to a certificate only for clients registered with
    // `tls_client_certificate_bound_access_tokens` (then always); here the listener decides.
    provider.registerGrantType(
      CLIENT_CREDENTIALS_GRANT,
      clientCredentialsGrant(provider),
      CLIENT_CREDENTIALS_PARAMS,
      ["resource"],
    );
    provider.on("server_error", logServerError);
    for (const listening of servers) listening.on("request", provider.callback());
    return { issuer: provider.issuer, ...(mtlsOrigin === undefined ? {} : { mtlsOrigin }), close };
  } catch (error) {
    await close();
    throw error;
  }
}

/**
 * The mutual-TLS listener refuses, in the TLS handshake, any client without a certificate that chains to
 * the dev client CA, so every token request that reaches the provider through it has a verified one.
 */
function createMtlsServer(): Server {
  const pem = (name: string) => readFileSync(join(PKI_DIR, name), "utf8");
  return createTlsServer({
    cert: pem("server.pem"),
    key: pem("server.key.pem"),
    ca: pem("client-ca.pem"),
    requestCert: true,
    rejectUnauthorized: true,
  });
}

function configuration(keys: JWK[], mtlsOrigin: string | undefined): Configuration {
  return {
    clients: clients(),
    jwks: { keys },
    scopes: GATEWAY_SCOPES.split(" "),
    // No browser flows run here, but oidc-provider signs its cookies anyway: a per-process key will do.
    cookies: { keys: [randomBytes(32).toString("base64url")] },
    extraTokenClaims: async (_ctx, token) => principalClaims(token),
    ttl: { AccessToken: tokenTtl, ClientCredentials: tokenTtl },
    // RFC 8705 §5: where a client that holds a certificate asks for its tokens.
    ...(mtlsOrigin === undefined
      ? {}
      : { discovery: { mtls_endpoint_aliases: { token_endpoint: `${mtlsOrigin}/token` } } }),
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      dPoP: { enabled: true },
      mTLS: { enabled: true, certificateBoundAccessTokens: true, getCertificate: clientCertificate },
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

/** The verified certificate of a request that came through the mutual-TLS listener; none otherwise. */
function clientCertificate(ctx: KoaContextWithOIDC): X509Certificate | undefined {
  const { socket } = ctx.req;
  return socket instanceof TLSSocket && socket.authorized ? socket.getPeerX509Certificate() : undefined;
}

/**
 * The claims the gateway reads beyond RFC 9068's: the tenant, and for users their groups, session and how
 * they authenticated. oidc-provider writes these first and its own claims (`sub`, `cnf`, …) over them.
 */
function principalClaims(token: IssuedToken): Record<string, unknown> | undefined {
  if (token.accountId !== undefined) {
    const user = findUser(token.accountId);
    if (user === undefined) return undefined;
    return {
      tenant: user.tenant,
      groups: user.groups,
      sid: token.sid,
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
    // A bad proof fails the request before the password is even looked at, as in the built-in grants.
    const proof = await validateDpop(provider, ctx);
    const user = authenticate(requiredParam(params, "username"), requiredParam(params, "password"));
    const resourceServer = new provider.ResourceServer(GATEWAY_AUDIENCE, requestedResource(params.resource));

    const token = new provider.AccessToken({
      client,
      accountId: user.name,
      gty: PASSWORD_GRANT,
      scope: grantedScope(params.scope, resourceServer, resourceServer.scope),
      iat: Math.floor(Date.now() / 1000),
      // Each password grant is a fresh login, hence a fresh session.
      sid: randomUUID(),
    });
    token.resourceServer = resourceServer;
    await issue(provider, ctx, "AccessToken", token, proof);
  };
}

/** RFC 6749 §4.4 for the seeded workloads, bound like every token here (see `issue`). */
function clientCredentialsGrant(provider: Provider): GrantTypeHandler {
  return async function clientCredentialsHandler(ctx) {
    const { client, params } = ctx.oidc;
    if (client === undefined) throw new errors.InvalidRequest("client authentication is required");
    const proof = await validateDpop(provider, ctx);
    const resourceServer = new provider.ResourceServer(GATEWAY_AUDIENCE, requestedResource(params.resource));

    const token = new provider.ClientCredentials({
      client,
      scope: grantedScope(params.scope, resourceServer, WORKLOAD_DEFAULT_SCOPE),
    });
    token.resourceServer = resourceServer;
    await issue(provider, ctx, "ClientCredentials", token, proof);
  };
}

/**
 * Binds the token to what the request proved, saves it and answers. A request through the mutual-TLS
 * listener binds to its certificate (RFC 8705), one with a DPoP proof to the proof's key (RFC 9449);
 * both at once is refused with invalid_request (`setThumbprint`), since a token has one confirmation.
 */
async function issue(
  provider: Provider,
  ctx: KoaContextWithOIDC,
  kind: "AccessToken" | "ClientCredentials",
  token: AccessToken | ClientCredentials,
  proof: DpopProof | undefined,
): Promise<void> {
  const certificate = clientCertificate(ctx);
  if (certificate !== undefined) token.setThumbprint("x5t", certificate);
  if (proof !== undefined) {
    await checkDpopReplay(provider, ctx, proof, token.clientId);
    token.setThumbprint("jkt", proof.thumbprint);
  }
  ctx.oidc.entity(kind, token);
  const accessToken = await token.save();

  ctx.body = {
    access_token: accessToken,
    expires_in: token.expiration,
    token_type: token.tokenType,
    scope: token.scope,
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

/** The requested scopes the gateway offers, or `fallback` when none is asked for. */
function grantedScope(
  requested: string | string[] | undefined,
  resourceServer: ResourceServer,
  fallback: string,
): string {
  if (Array.isArray(requested)) throw new errors.InvalidRequest("'scope' must be given once");
  const allowed = new Set(resourceServer.scope.split(" "));
  const asked = (requested === undefined || requested === "" ? fallback : requested).split(" ");
  const granted = asked.filter((scope) => allowed.has(scope));
  if (granted.length === 0) throw new errors.InvalidScope("none of the requested scopes is offered", requested);
  return granted.join(" ");
}

function logServerError(_ctx: unknown, error: Error): void {
  console.error("dev identity provider: internal error:", error);
}

if (isEntryPoint(import.meta.url)) {
  const { issuer, mtlsOrigin } = await startIdp({
    port: Number(new URL(IDP_ORIGIN).port),
    mtlsPort: Number(new URL(IDP_MTLS_ORIGIN).port),
  });
  console.log(`dev identity provider: ${issuer} (discovery: ${issuer}/.well-known/openid-configuration)`);
  console.log(`dev identity provider: certificate-bound tokens at ${mtlsOrigin}/token`);
}
