/**
 * oidc-provider ships no type declarations. This describes only the surface dev/idp.ts uses, as
 * oidc-provider v9 implements it (lib/provider.js, lib/models/*, lib/helpers/errors.js), so the dev
 * identity provider type-checks in strict mode without `any`.
 */
declare module "oidc-provider" {
  import type { X509Certificate } from "node:crypto";
  import type { IncomingMessage, ServerResponse } from "node:http";
  import type { JWK } from "jose";

  export interface Client {
    readonly clientId: string;
  }

  /** What oidc-provider keeps about one Resource Server (features.resourceIndicators). */
  export interface ResourceServerInfo {
    scope: string;
    audience?: string;
    accessTokenFormat?: "opaque" | "jwt";
    accessTokenTTL?: number;
    jwt?: { sign?: { alg?: string; kid?: string } };
  }

  export class ResourceServer {
    constructor(identifier: string, info: ResourceServerInfo);
    readonly scope: string;
    readonly accessTokenTTL?: number;
  }

  /** The fields of an issued token that configuration callbacks read (AccessToken, ClientCredentials). */
  export interface IssuedToken {
    readonly kind: string;
    readonly clientId: string;
    readonly accountId?: string;
    readonly iat?: number;
    /** The session id the token was issued in (AccessToken only). */
    readonly sid?: string;
    readonly resourceServer?: ResourceServer;
  }

  export interface AccessTokenInit {
    client: Client;
    accountId: string;
    gty: string;
    scope?: string;
    iat?: number;
    sid?: string;
  }

  export class AccessToken implements IssuedToken {
    constructor(init: AccessTokenInit);
    readonly kind: string;
    readonly clientId: string;
    readonly accountId?: string;
    readonly iat?: number;
    readonly sid?: string;
    resourceServer?: ResourceServer;
    scope?: string;
    readonly expiration: number;
    /** "DPoP" once bound to a DPoP key, else "Bearer". */
    readonly tokenType: string;
    /** Persists the token and returns its value (a signed JWT for accessTokenFormat "jwt"). */
    save(): Promise<string>;
    /**
     * Binds the token to a client certificate (RFC 8705 `cnf["x5t#S256"]`) or a DPoP key thumbprint
     * (RFC 9449 `cnf.jkt`); throws invalid_request when it is already bound by the other mechanism.
     */
    setThumbprint(kind: "x5t", certificate: X509Certificate | string): void;
    setThumbprint(kind: "jkt", thumbprint: string): void;
  }

  /** The token of the client credentials grant; bound the same way as an AccessToken. */
  export class ClientCredentials implements IssuedToken {
    constructor(init: { client: Client; scope?: string });
    readonly kind: string;
    readonly clientId: string;
    resourceServer?: ResourceServer;
    scope?: string;
    readonly expiration: number;
    readonly tokenType: string;
    save(): Promise<string>;
    setThumbprint(kind: "x5t", certificate: X509Certificate | string): void;
    setThumbprint(kind: "jkt", thumbprint: string): void;
  }

  export interface OidcContext {
    /** Request parameters, already restricted to those registered for the grant type. */
    readonly params: Readonly<Record<string, string | string[] | undefined>>;
    readonly client?: Client;
    entity(kind: string, value: unknown): void;
  }

  export interface KoaContextWithOIDC {
    readonly oidc: OidcContext;
    /** The Node request; its socket is a TLSSocket on an https listener. */
    readonly req: IncomingMessage;
    body: unknown;
  }

  export type GrantTypeHandler = (ctx: KoaContextWithOIDC) => Promise<void>;

  export interface ClientMetadata {
    client_id: string;
    client_secret?: string;
    token_endpoint_auth_method?: string;
    grant_types?: string[];
    response_types?: string[];
    redirect_uris?: string[];
  }

  export interface Account {
    accountId: string;
    claims(): Promise<Record<string, unknown> & { sub: string }>;
  }

  export interface Configuration {
    clients?: ClientMetadata[];
    jwks?: { keys: JWK[] };
    scopes?: string[];
    claims?: Record<string, string[] | null>;
    cookies?: { keys: string[] };
    findAccount?: (ctx: KoaContextWithOIDC, sub: string) => Promise<Account | undefined>;
    extraTokenClaims?: (
      ctx: KoaContextWithOIDC,
      token: IssuedToken,
    ) => Promise<Record<string, unknown> | undefined>;
    ttl?: Record<string, number | ((ctx: KoaContextWithOIDC, token: IssuedToken) => number)>;
    clientBasedCORS?: (ctx: KoaContextWithOIDC, origin: string, client: Client) => boolean;
    /** Extra members of the discovery document (e.g. RFC 8705 `mtls_endpoint_aliases`). */
    discovery?: Record<string, unknown>;
    features?: {
      devInteractions?: { enabled: boolean };
      clientCredentials?: { enabled: boolean };
      introspection?: { enabled: boolean };
      /** RFC 9449: a token request with a `DPoP` proof gets a token bound to the proof's key. */
      dPoP?: { enabled: boolean };
      /** RFC 8705; `getCertificate` returns the request's client certificate, if any. */
      mTLS?: {
        enabled: boolean;
        certificateBoundAccessTokens?: boolean;
        getCertificate?: (ctx: KoaContextWithOIDC) => X509Certificate | string | undefined;
      };
      resourceIndicators?: {
        enabled: boolean;
        defaultResource?: (ctx: KoaContextWithOIDC, client: Client) => Promise<string | string[] | undefined>;
        getResourceServerInfo?: (
          ctx: KoaContextWithOIDC,
          resourceIndicator: string,
          client: Client,
        ) => Promise<ResourceServerInfo>;
        useGrantedResource?: (ctx: KoaContextWithOIDC) => Promise<boolean> | boolean;
      };
    };
  }

  export class Provider {
    constructor(issuer: string, configuration?: Configuration);
    readonly issuer: string;
    readonly AccessToken: typeof AccessToken;
    readonly ClientCredentials: typeof ClientCredentials;
    readonly ResourceServer: typeof ResourceServer;
    callback(): (req: IncomingMessage, res: ServerResponse) => void;
    registerGrantType(
      name: string,
      handler: GrantTypeHandler,
      params?: readonly string[],
      dupes?: readonly string[],
    ): void;
    on(event: "server_error" | "grant.error", listener: (ctx: KoaContextWithOIDC, error: Error) => void): this;
  }

  class OIDCProviderError extends Error {
    constructor(description?: string);
    readonly error: string;
    readonly error_description?: string;
    readonly status: number;
  }

  export namespace errors {
    class InvalidGrant extends OIDCProviderError {}
    class InvalidRequest extends OIDCProviderError {}
    class InvalidTarget extends OIDCProviderError {}
    class InvalidScope extends OIDCProviderError {
      constructor(description: string, scope?: string);
    }
  }

  export default Provider;
}

/**
 * oidc-provider's own DPoP proof validation (RFC 9449 §4.3: typ, alg allowlist, embedded public jwk,
 * signature, htm, htu, iat window, nonce) and replay check, which its built-in grants use. The package
 * has no export map, so custom grants can reuse them rather than reimplement them.
 */
declare module "oidc-provider/lib/helpers/validate_dpop.js" {
  import type { KoaContextWithOIDC, Provider } from "oidc-provider";

  export interface DpopProof {
    /** RFC 7638 thumbprint of the proof's key: the token's `cnf.jkt`. */
    readonly thumbprint: string;
    readonly jti: string;
    readonly iat: number;
  }

  /** Undefined when the request has no `DPoP` header; throws invalid_dpop_proof when a rule fails. */
  export default function validateDpop(provider: Provider, ctx: KoaContextWithOIDC): Promise<DpopProof | undefined>;
  /** Throws invalid_grant when the proof's `jti` was already used by this client. */
  export function checkDpopReplay(
    provider: Provider,
    ctx: KoaContextWithOIDC,
    proof: DpopProof,
    clientId: string,
  ): Promise<void>;
}
