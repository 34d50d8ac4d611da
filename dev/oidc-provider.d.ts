/**
 * oidc-provider ships no type declarations. This describes only the surface dev/idp.ts uses, as
 * oidc-provider v9 implements it (lib/provider.js, lib/models/*, lib/helpers/errors.js), so the dev
 * identity provider type-checks in strict mode without `any`.
 */
declare module "oidc-provider" {
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
    readonly resourceServer?: ResourceServer;
  }

  export interface AccessTokenInit {
    client: Client;
    accountId: string;
    gty: string;
    scope?: string;
    iat?: number;
  }

  export class AccessToken implements IssuedToken {
    constructor(init: AccessTokenInit);
    readonly kind: string;
    readonly clientId: string;
    readonly accountId?: string;
    readonly iat?: number;
    resourceServer?: ResourceServer;
    scope?: string;
    readonly expiration: number;
    readonly tokenType: string;
    /** Persists the token and returns its value (a signed JWT for accessTokenFormat "jwt"). */
    save(): Promise<string>;
  }

  export interface OidcContext {
    /** Request parameters, already restricted to those registered for the grant type. */
    readonly params: Readonly<Record<string, string | string[] | undefined>>;
    readonly client?: Client;
    entity(kind: string, value: unknown): void;
  }

  export interface KoaContextWithOIDC {
    readonly oidc: OidcContext;
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
    features?: {
      devInteractions?: { enabled: boolean };
      clientCredentials?: { enabled: boolean };
      introspection?: { enabled: boolean };
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
