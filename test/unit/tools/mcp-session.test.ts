/** Gateway MCP session ids: issued, verified (and remembered until they expire), and bound to their owner. */
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { GatewayError } from "../../../worker/errors.ts";
import type { JwsSigner } from "../../../worker/tools/delegated-token.ts";
import { createSessionVerifier, issueSession, MCP_SESSION_LIFE_S, type McpSession, ownedBy } from "../../../worker/tools/mcp-session.ts";
import type { PublishedKey } from "../../../worker/verify/index.ts";
import { alice, bob } from "./fixtures.ts";

const ISSUER = "https://gateway.test";
const NOW = Date.parse("2026-11-26T10:00:00Z");
const session: McpSession = { id: "s-1", server: "acme-docs", tenant: "acme", kind: "user", principal: "alice", upstream: "up-1", protocolVersion: "2025-11-25" };

async function ring(kid: string): Promise<{ signer: JwsSigner; published: PublishedKey }> {
  const { privateKey, publicKey } = await generateKeyPair("EdDSA", { crv: "Ed25519" });
  const published = { ...(await exportJWK(publicKey)), kid, alg: "EdDSA", use: "sig", vkey: "" } as PublishedKey;
  const signer: JwsSigner = { signJws: (payload, typ) => new SignJWT(payload).setProtectedHeader({ alg: "EdDSA", typ, kid }).sign(privateKey) };
  return { signer, published };
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(GatewayError);
  return (error as GatewayError).code;
}

describe("MCP session ids", () => {
  it("round-trip, bound to their owner", async () => {
    const { signer, published } = await ring("k1");
    const id = await issueSession(signer, ISSUER, session, NOW);
    const verified = await createSessionVerifier(ISSUER, async () => [published])(id, NOW + 1000);
    expect(verified).toEqual(session);
    expect(ownedBy(verified, alice)).toBe(true);
    expect(ownedBy(verified, bob)).toBe(false);
    expect(ownedBy(verified, { ...alice, kind: "workload" })).toBe(false);
    expect(ownedBy(verified, { ...alice, tenant: "globex" })).toBe(false);
  });

  it("an altered, foreign-signed, wrongly typed, other-issuer or expired id is unknown", async () => {
    const { signer, published } = await ring("k1");
    const other = await ring("k1");
    const verify = () => createSessionVerifier(ISSUER, async () => [published], 0);
    const id = await issueSession(signer, ISSUER, session, NOW);
    const [h, p, s] = id.split(".");
    const altered = `${h}.${Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p!, "base64url").toString()), sub: "bob" })).toString("base64url")}.${s}`;
    expect(await codeOf(verify()(altered, NOW))).toBe("mcp_session_unknown");
    expect(await codeOf(verify()(await issueSession(other.signer, ISSUER, session, NOW), NOW))).toBe("mcp_session_unknown");
    expect(await codeOf(verify()(await signer.signJws({ iss: ISSUER, iat: 1, exp: 2e9 }, "tool-token+jwt"), NOW))).toBe("mcp_session_unknown");
    expect(await codeOf(verify()(await issueSession(signer, "https://other.test", session, NOW), NOW))).toBe("mcp_session_unknown");
    expect(await codeOf(verify()(id, NOW + (MCP_SESSION_LIFE_S + 1) * 1000))).toBe("mcp_session_unknown");
    expect(await codeOf(verify()("a.b", NOW))).toBe("mcp_session_unknown");
  });

  it("a remembered id still expires; a new key is fetched when a session names it", async () => {
    const first = await ring("k1");
    const second = await ring("k2");
    let published = [first.published];
    let fetches = 0;
    const verify = createSessionVerifier(ISSUER, async () => {
      fetches++;
      return published;
    });
    const id = await issueSession(first.signer, ISSUER, session, NOW);
    await verify(id, NOW);
    await verify(id, NOW + 1000);
    expect(fetches).toBe(1);
    expect(await codeOf(verify(id, NOW + (MCP_SESSION_LIFE_S + 1) * 1000))).toBe("mcp_session_unknown");
    published = [first.published, second.published];
    expect(await verify(await issueSession(second.signer, ISSUER, session, NOW), NOW)).toEqual(session);
    expect(fetches).toBe(2);
  });

  it("a KeyRing that does not answer is the gateway's failure, not an unknown session", async () => {
    const { signer } = await ring("k1");
    const id = await issueSession(signer, ISSUER, session, NOW);
    const error = await createSessionVerifier(ISSUER, async () => Promise.reject(new Error("down")))(id, NOW).catch((e: unknown) => e);
    expect(error).not.toBeInstanceOf(GatewayError);
  });
});
