/**
 * MCP sessions as the gateway hands them out. The upstream server's `Mcp-Session-Id` never reaches
 * the client: the client gets a gateway session id instead, a JWS the KeyRing signs that binds the
 * upstream session to the principal who initialized it, the server it belongs to and the protocol
 * version negotiated. So the binding needs no shared store (any isolate can check it), another
 * principal presenting it is told apart from an unknown session, and its contents cannot be forged.
 *
 * Why not a Durable Object: the binding never changes after `initialize`, so a signed statement is
 * enough, and every request of a session is spared a round trip. What it cannot do is forget a
 * session early: `DELETE` ends the upstream session, after which the upstream answers 404.
 */
import { decodeProtectedHeader, importJWK, jwtVerify, type JWTPayload } from "jose";
import type { Principal } from "../context.ts";
import { GatewayError } from "../errors.ts";
import { isRecord } from "../providers/validate.ts";
import type { PublishedKey } from "../verify/index.ts";
import type { JwsSigner } from "./delegated-token.ts";

/** JWS `typ` of a gateway MCP session id (RFC 7515 §4.1.9 short form), so no other token passes for one. */
export const MCP_SESSION_TYPE = "mcp-session+jwt";

/**
 * A session's life: 1 hour. It must stay below the time a signing key is published after it stops
 * signing (SIGNING_KEY_RETAIN_S, 1 day by default) or a session could outlive its key; past either
 * the client is told the session is unknown (404) and initializes again, as the MCP transport says.
 */
export const MCP_SESSION_LIFE_S = 60 * 60;

/** What a session id says. */
export interface McpSession {
  /** The gateway's own id for the session (a UUID), for audit records; the session id itself is a bearer secret. */
  id: string;
  server: string;
  tenant: string;
  kind: Principal["kind"];
  principal: string;
  /** The upstream server's own `Mcp-Session-Id`; null when it runs without sessions. */
  upstream: string | null;
  protocolVersion: string;
}

const SESSION_ID = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
/** A session id is visible ASCII (MCP transports §Session Management); ours are a JWS of a few hundred characters. */
const MAX_SESSION_ID_CHARS = 4096;

export async function issueSession(signer: JwsSigner, issuer: string, session: McpSession, now: number): Promise<string> {
  const iat = Math.floor(now / 1000);
  return signer.signJws(
    {
      iss: issuer,
      iat,
      exp: iat + MCP_SESSION_LIFE_S,
      sid: session.id,
      srv: session.server,
      tenant: session.tenant,
      kind: session.kind,
      sub: session.principal,
      usid: session.upstream,
      ver: session.protocolVersion,
    },
    MCP_SESSION_TYPE,
  );
}

/** Does this session belong to this principal? Tenant, kind and id must all agree. */
export function ownedBy(session: McpSession, principal: Principal): boolean {
  return session.tenant === principal.tenant && session.kind === principal.kind && session.principal === principal.id;
}

function sessionOf(payload: JWTPayload): McpSession | undefined {
  const { sid, srv, tenant, kind, sub, usid, ver } = payload as Record<string, unknown>;
  if (typeof sid !== "string" || typeof srv !== "string" || typeof tenant !== "string" || typeof sub !== "string" || typeof ver !== "string") return undefined;
  if (kind !== "user" && kind !== "workload") return undefined;
  if (usid !== null && typeof usid !== "string") return undefined;
  return { id: sid, server: srv, tenant, kind, principal: sub, upstream: usid, protocolVersion: ver };
}

export type PublishedKeys = () => Promise<PublishedKey[]>;

/**
 * Verified session ids an isolate remembers until they expire: 1000. A signature check costs about
 * 0.5 ms in workerd (bench/MCP.md) and every message of a session names the same id; an entry is a
 * few hundred bytes, so the cache stays under 1 MB of the isolate's 128 MB.
 */
export const SESSION_CACHE_ENTRIES = 1000;

/**
 * Checks gateway session ids against the KeyRing's published keys, imported once per isolate and
 * refetched when a session names a key not seen yet (a rotation). Anything that does not verify —
 * a foreign, altered, expired or malformed id — is `mcp_session_unknown` (404: the client starts over).
 */
export function createSessionVerifier(issuer: string, publishedKeys: PublishedKeys, cacheEntries = SESSION_CACHE_ENTRIES) {
  const keys = new Map<string, CryptoKey | Uint8Array>();
  const verified = new Map<string, { session: McpSession; expiresAt: number }>();

  // Only callers the identity plane admitted get here (and the network plane limits their rate), so
  // a refetch per unknown `kid` is bounded; a cooldown would refuse the sessions of a fresh key.
  async function keyFor(kid: string): Promise<CryptoKey | Uint8Array> {
    const known = keys.get(kid);
    if (known) return known;
    for (const published of await publishedKeys()) {
      if (!keys.has(published.kid)) keys.set(published.kid, await importJWK({ kty: published.kty, crv: published.crv, x: published.x }, "EdDSA"));
    }
    const key = keys.get(kid);
    if (!key) throw new GatewayError("mcp_session_unknown", "no such MCP session: it names no published key");
    return key;
  }

  function remember(id: string, session: McpSession, expiresAt: number): void {
    if (cacheEntries === 0) return;
    // Map order is insertion order: past the bound the oldest entry goes.
    if (verified.size >= cacheEntries) verified.delete(verified.keys().next().value!);
    verified.set(id, { session, expiresAt });
  }

  return async function verifySession(id: string, now: number): Promise<McpSession> {
    const cached = verified.get(id);
    if (cached && now < cached.expiresAt) return cached.session;
    if (cached) verified.delete(id);
    const unknown = (cause?: unknown) => new GatewayError("mcp_session_unknown", "no such MCP session (it expired or was never issued): initialize a new one", { cause });
    if (id.length > MAX_SESSION_ID_CHARS || !SESSION_ID.test(id)) throw unknown();
    let kid: string;
    try {
      const header = decodeProtectedHeader(id);
      if (typeof header.kid !== "string") throw unknown();
      kid = header.kid;
    } catch (cause) {
      throw unknown(cause);
    }
    // A KeyRing that does not answer is the gateway's failure (5xx), not an unknown session.
    const key = await keyFor(kid);
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(id, key, {
        issuer,
        typ: MCP_SESSION_TYPE,
        algorithms: ["EdDSA"],
        currentDate: new Date(now),
        requiredClaims: ["exp", "iat"],
      }));
    } catch (cause) {
      throw unknown(cause);
    }
    const session = isRecord(payload) ? sessionOf(payload) : undefined;
    if (!session) throw unknown();
    remember(id, session, payload.exp! * 1000);
    return session;
  };
}

export type SessionVerifier = ReturnType<typeof createSessionVerifier>;
