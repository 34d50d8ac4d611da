/**
 * Access tokens for the seeded principals (dev/accounts.json), issued by the dev identity provider,
 * and the DPoP proofs that go with DPoP-bound ones.
 * Web APIs only: this runs in Node (the token CLI, node tests) and inside workerd (worker tests).
 * Certificate-bound tokens need a TLS client certificate, hence Node: see mtls-tokens.ts.
 *
 * Users: the resource-owner password grant through the confidential client `verity-cli`.
 * Workloads: client credentials with the workload's own client. Both `client_secret_post`.
 */
import { base64url, exportJWK, generateKeyPair, SignJWT } from "jose";
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

/** How the token request is sent; mtls-tokens.ts passes one that presents a client certificate. */
export type TokenFetch = (url: URL, init: RequestInit) => Promise<Response>;

export interface TokenOptions {
  /** Where the identity provider is (its mutual-TLS origin for certificate-bound tokens); default IDP_ORIGIN. */
  idpOrigin?: string;
  /**
   * Ask for a DPoP-bound token (RFC 9449 `cnf.jkt`) for this key pair; `true` binds it to a throwaway key,
   * which is enough to test that a bound token without its proof is refused.
   */
  dpop?: CryptoKeyPair | true;
  fetch?: TokenFetch;
}

export interface DpopBoundToken {
  accessToken: string;
  /** The key the token is bound to: sign each request's proof with it (`dpopProofFor`). */
  keyPair: CryptoKeyPair;
}

export interface DpopProofRequest {
  keyPair: CryptoKeyPair;
  method: string;
  /** The request's URL; query and fragment are dropped from `htu` (RFC 9449 §4.2). */
  url: string | URL;
  /** The access token the proof goes with (`ath`); omitted for the token request itself. */
  accessToken?: string;
  nonce?: string;
  /** Seconds since the epoch; default now. Tests move it to leave the accepted window. */
  iat?: number;
  /** Default a random UUID; tests repeat one to replay. */
  jti?: string;
}

/**
 * An access token (a JWT for the gateway audience) for the seeded user or workload `name`. The second
 * argument may still be the identity provider's origin alone.
 */
export async function tokenFor(name: string, options: string | TokenOptions = {}): Promise<string> {
  const { idpOrigin, dpop, fetch } = typeof options === "string" ? { idpOrigin: options } : options;
  const keyPair = dpop === true ? await generateKeyPair("ES256") : dpop;
  return requestToken(name, { idpOrigin, keyPair, fetch });
}

/** A DPoP-bound access token for `name` and the key it is bound to (a fresh ES256 pair unless given). */
export async function dpopTokenFor(
  name: string,
  options: Omit<TokenOptions, "dpop"> & { keyPair?: CryptoKeyPair } = {},
): Promise<DpopBoundToken> {
  const keyPair = options.keyPair ?? (await generateKeyPair("ES256"));
  return { accessToken: await requestToken(name, { ...options, keyPair }), keyPair };
}

/** A DPoP proof JWT (RFC 9449 §4.2) for one request, signed with the key pair's private key. */
export async function dpopProofFor(request: DpopProofRequest): Promise<string> {
  const { keyPair, accessToken, nonce } = request;
  const htu = new URL(request.url);
  htu.search = "";
  htu.hash = "";
  return new SignJWT({
    jti: request.jti ?? crypto.randomUUID(),
    htm: request.method.toUpperCase(),
    htu: htu.href,
    ...(accessToken === undefined ? {} : { ath: await sha256(accessToken) }),
    ...(nonce === undefined ? {} : { nonce }),
  })
    .setProtectedHeader({
      typ: "dpop+jwt",
      alg: signingAlgorithm(keyPair.privateKey),
      jwk: await exportJWK(keyPair.publicKey),
    })
    .setIssuedAt(request.iat ?? Math.floor(Date.now() / 1000))
    .sign(keyPair.privateKey);
}

interface TokenRequest {
  idpOrigin?: string | undefined;
  keyPair?: CryptoKeyPair | undefined;
  fetch?: TokenFetch | undefined;
}

async function requestToken(name: string, request: TokenRequest): Promise<string> {
  const principal = findPrincipal(name);
  if (principal === undefined) {
    throw new TokenRequestError(
      "unknown_principal",
      `no seeded user or workload named "${name}"; known: ${principalNames().join(", ")}`,
    );
  }
  const endpoint = new URL(TOKEN_PATH, request.idpOrigin ?? IDP_ORIGIN);
  const headers: Record<string, string> = {
    "content-type": "application/x-www-form-urlencoded",
    accept: "application/json",
  };
  if (request.keyPair !== undefined) {
    headers["dpop"] = await dpopProofFor({ keyPair: request.keyPair, method: "POST", url: endpoint });
  }
  const send = request.fetch ?? ((url, init) => fetch(url, init));
  const init = { method: "POST", headers, body: tokenRequestBody(principal) };
  const response = await postTokenRequest(send, endpoint, init);
  return accessTokenFrom(name, response, request.keyPair === undefined ? "Bearer" : "DPoP");
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

async function postTokenRequest(send: TokenFetch, endpoint: URL, init: RequestInit): Promise<Response> {
  try {
    return await send(endpoint, init);
  } catch (cause) {
    throw new TokenRequestError("idp_unreachable", `the identity provider at ${endpoint.origin} is unreachable`, {
      cause,
    });
  }
}

async function accessTokenFrom(name: string, response: Response, tokenType: "Bearer" | "DPoP"): Promise<string> {
  const body = await readJson(response);
  if (!response.ok) {
    throw new TokenRequestError(
      "idp_refused",
      `the identity provider refused a token for "${name}": HTTP ${response.status} ${describeOAuthError(body)}`,
    );
  }
  const token = isRecord(body) ? body["access_token"] : undefined;
  if (!isRecord(body) || typeof token !== "string" || token === "") {
    throw new TokenRequestError("idp_bad_response", `the identity provider's answer for "${name}" has no access_token`);
  }
  // A DPoP request answered with a Bearer token would be an unbound token passed off as a bound one.
  if (body["token_type"] !== tokenType) {
    throw new TokenRequestError(
      "idp_bad_response",
      `the identity provider's token for "${name}" is of type ${String(body["token_type"])}, not ${tokenType}`,
    );
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

async function sha256(text: string): Promise<string> {
  return base64url.encode(new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text))));
}

const EC_ALGORITHMS: ReadonlyMap<string, string> = new Map([
  ["P-256", "ES256"],
  ["P-384", "ES384"],
  ["P-521", "ES512"],
]);

/** The JWS `alg` for a WebCrypto signing key. */
function signingAlgorithm(key: CryptoKey): string {
  const algorithm: { name: string; namedCurve?: string; hash?: { name: string } } = key.algorithm;
  const bits = algorithm.hash?.name.replace("SHA-", "");
  switch (algorithm.name) {
    case "ECDSA":
      return EC_ALGORITHMS.get(algorithm.namedCurve ?? "") ?? unsupported(key);
    case "Ed25519":
      return "EdDSA";
    case "RSASSA-PKCS1-v1_5":
      return `RS${bits}`;
    case "RSA-PSS":
      return `PS${bits}`;
    default:
      return unsupported(key);
  }
}

function unsupported(key: CryptoKey): never {
  throw new TypeError(`no DPoP signing algorithm for a ${key.algorithm.name} key`);
}
