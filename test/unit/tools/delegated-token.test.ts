import { createLocalJWKSet, decodeProtectedHeader, exportJWK, generateKeyPair, SignJWT, type JWK, type JWTVerifyGetKey } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { canonicalJson } from "../../../worker/lib/canonical-json.ts";
import { argumentsDigestOf } from "../../../worker/tools/authorize.ts";
import {
  actorClaim,
  assertKeyRetention,
  DELEGATED_TOKEN_LIFE_S,
  DELEGATED_TOKEN_TYPE,
  delegatedTokenClaims,
  issueDelegatedToken,
  type JwsSigner,
} from "../../../worker/tools/delegated-token.ts";
import { DelegatedTokenError, memoryReplayStore, verifyDelegatedToken, type VerifyDelegatedTokenOptions } from "../../../worker/tools/verify-delegated-token.ts";
import { keyRingPolicy } from "../../../worker/verify/index.ts";
import { alice, seededConfig } from "./fixtures.ts";

const ISSUER = "https://gateway.test";
const NOW = Date.parse("2026-11-26T10:00:00Z");
const config = seededConfig();
const sendEmail = config.registry.tools.get("send_email")!;
const search = config.registry.tools.get("search_documents")!;
const args = { to: "dave@acme.example", subject: "Hi", body: "Ten o'clock." };
const body = canonicalJson(args);

let signer: JwsSigner;
let stranger: JwsSigner;
let keys: JWTVerifyGetKey;

async function signerFor(kid: string): Promise<{ signer: JwsSigner; jwk: JWK }> {
  const { privateKey, publicKey } = await generateKeyPair("EdDSA", { crv: "Ed25519" });
  const jwk = { ...(await exportJWK(publicKey)), kid, alg: "EdDSA", use: "sig" };
  return {
    jwk,
    signer: { signJws: (payload, typ) => new SignJWT(payload).setProtectedHeader({ alg: "EdDSA", typ, kid }).sign(privateKey) },
  };
}

beforeAll(async () => {
  const gateway = await signerFor("gateway-1");
  signer = gateway.signer;
  // Another key claiming the gateway's kid: its signatures must not verify.
  stranger = (await signerFor("gateway-1")).signer;
  keys = createLocalJWKSet({ keys: [gateway.jwk] });
});

async function mint(overrides: { now?: number; tool?: typeof sendEmail; digest?: string } = {}) {
  return issueDelegatedToken(signer, {
    issuer: ISSUER,
    principal: alice,
    tool: overrides.tool ?? sendEmail,
    argumentsDigest: overrides.digest ?? argumentsDigestOf(args),
    now: overrides.now ?? NOW,
  });
}

function options(extra: Partial<VerifyDelegatedTokenOptions> = {}): VerifyDelegatedTokenOptions {
  return { keys, issuer: ISSUER, audience: sendEmail.audience, tool: "send_email", body, replay: memoryReplayStore(() => NOW), now: () => NOW + 1000, ...extra };
}

async function refusal(token: string, extra: Partial<VerifyDelegatedTokenOptions> = {}): Promise<string> {
  try {
    await verifyDelegatedToken(token, options(extra));
  } catch (error) {
    if (error instanceof DelegatedTokenError) return error.code;
    throw error;
  }
  throw new Error("the token verified");
}

/** A token with the gateway's key but claims of the test's choosing. */
function forge(claims: Record<string, unknown>, typ = DELEGATED_TOKEN_TYPE): Promise<string> {
  const base = delegatedTokenClaims({ issuer: ISSUER, principal: alice, tool: sendEmail, argumentsDigest: argumentsDigestOf(args), now: NOW });
  const payload = Object.fromEntries(Object.entries({ ...base, ...claims }).filter(([, v]) => v !== undefined));
  return signer.signJws(payload, typ);
}

describe("delegated token claims (RFC 8693 semantics)", () => {
  it("names the human as sub, the one tool as aud, the arguments' hash, and lives 60 s", async () => {
    const { token, claims } = await mint();
    expect(claims).toMatchObject({
      iss: ISSUER,
      sub: "alice",
      aud: "urn:verity:tool:send_email",
      tenant: "acme",
      tool: "send_email",
      scope: "tool:send_email",
      args_sha256: argumentsDigestOf(args),
      iat: NOW / 1000,
      exp: NOW / 1000 + DELEGATED_TOKEN_LIFE_S,
    });
    expect(typeof claims.jti).toBe("string");
    expect((await mint()).claims.jti).not.toBe(claims.jti);
    expect(decodeProtectedHeader(token)).toEqual({ alg: "EdDSA", typ: "tool-token+jwt", kid: "gateway-1" });
  });

  it("keeps the caller's delegation chain nested in act, the current actor outermost", () => {
    const delegated = { ...alice, actor: { sub: "agent-7", clientId: "copilot" }, delegation: [{ sub: "agent-7", clientId: "copilot" }, { sub: "planner" }] };
    expect(actorClaim(delegated)).toEqual({ sub: "agent-7", client_id: "copilot", act: { sub: "planner" } });
  });

  it("names the OAuth client as the actor when there is no explicit chain, and omits act when there is neither", () => {
    expect(actorClaim({ ...alice, clientId: "verity-cli" })).toEqual({ sub: "verity-cli", client_id: "verity-cli" });
    expect(actorClaim(alice)).toBeUndefined();
    expect("act" in delegatedTokenClaims({ issuer: ISSUER, principal: alice, tool: search, argumentsDigest: "x", now: NOW })).toBe(false);
  });

  it("refuses to mint tokens when signing keys are not retained for a token's whole life", () => {
    expect(() => assertKeyRetention(DELEGATED_TOKEN_LIFE_S * 1000 - 1)).toThrowError(/retained/);
    expect(() => assertKeyRetention(DELEGATED_TOKEN_LIFE_S * 1000)).not.toThrow();
    // The default schedule keeps a retired key published a day: far beyond 60 s.
    expect(keyRingPolicy({}).retainMs).toBeGreaterThanOrEqual(DELEGATED_TOKEN_LIFE_S * 1000);
  });
});

describe("verifyDelegatedToken: what a tool owner checks, each refusal with its code", () => {
  it("accepts a fresh token for this tool and these exact arguments, whatever their member order", async () => {
    const { token } = await mint();
    const reordered = JSON.stringify({ body: args.body, subject: args.subject, to: args.to });
    const claims = await verifyDelegatedToken(token, options({ body: new TextEncoder().encode(reordered) }));
    expect(claims.sub).toBe("alice");
  });

  it("refuses the same token twice (token_replayed), but a refusal for another reason does not use the jti up", async () => {
    const { token } = await mint();
    const replay = memoryReplayStore(() => NOW);
    expect(await refusal(token, { replay, body: canonicalJson({ ...args, to: "eve@evil.example" }) })).toBe("arguments_mismatch");
    await verifyDelegatedToken(token, options({ replay }));
    expect(await refusal(token, { replay })).toBe("token_replayed");
  });

  it("refuses changed arguments (arguments_mismatch) and a body that is not JSON (arguments_invalid)", async () => {
    const { token } = await mint();
    expect(await refusal(token, { body: canonicalJson({ ...args, body: "Nine o'clock." }) })).toBe("arguments_mismatch");
    expect(await refusal(token, { body: "to=dave" })).toBe("arguments_invalid");
    expect(await refusal(token, { body: '{"to":"a","to":"b"}' })).toBe("arguments_invalid");
  });

  it("refuses a token for another tool (audience_invalid), also when the tool ids are made to agree", async () => {
    const { token } = await mint({ tool: search, digest: argumentsDigestOf(args) });
    expect(await refusal(token)).toBe("audience_invalid");
    const listed = await forge({ aud: [sendEmail.audience, search.audience] });
    expect(await refusal(listed)).toBe("audience_invalid");
    const otherTool = await forge({ tool: "search_documents" });
    expect(await refusal(otherTool)).toBe("tool_mismatch");
  });

  it("refuses an expired token (token_expired), and one issued in the future (token_not_yet_valid)", async () => {
    const { token } = await mint();
    expect(await refusal(token, { now: () => NOW + (DELEGATED_TOKEN_LIFE_S + 6) * 1000 })).toBe("token_expired");
    const future = await forge({ iat: NOW / 1000 + 30, exp: NOW / 1000 + 60 });
    expect(await refusal(future)).toBe("token_not_yet_valid");
  });

  it("refuses a token that lives longer than 60 s (lifetime_too_long)", async () => {
    expect(await refusal(await forge({ exp: NOW / 1000 + 3600 }))).toBe("lifetime_too_long");
  });

  it("refuses another issuer (issuer_invalid), another typ (type_invalid), a missing claim (claim_missing)", async () => {
    expect(await refusal(await forge({ iss: "https://evil.example" }))).toBe("issuer_invalid");
    expect(await refusal(await forge({}, "JWT"))).toBe("type_invalid");
    expect(await refusal(await forge({ args_sha256: undefined }))).toBe("claim_missing");
    expect(await refusal(await forge({ jti: undefined }))).toBe("claim_missing");
    expect(await refusal(await forge({ tenant: 7 }))).toBe("claim_missing");
  });

  it("refuses a signature by any other key (signature_invalid), another algorithm, and garbage (token_malformed)", async () => {
    const claims = delegatedTokenClaims({ issuer: ISSUER, principal: alice, tool: sendEmail, argumentsDigest: argumentsDigestOf(args), now: NOW });
    expect(await refusal(await stranger.signJws({ ...claims }, DELEGATED_TOKEN_TYPE))).toBe("signature_invalid");
    const hs256 = await new SignJWT({ ...claims }).setProtectedHeader({ alg: "HS256", typ: DELEGATED_TOKEN_TYPE, kid: "gateway-1" }).sign(new Uint8Array(32));
    expect(await refusal(hs256)).toBe("signature_invalid");
    const { token } = await mint();
    const [header, payload] = token.split(".");
    expect(await refusal(`${header}.${payload}.`)).toBe("signature_invalid");
    expect(await refusal("not-a-token")).toBe("token_malformed");
  });

  it("says key_unavailable when the gateway's keys cannot be fetched", async () => {
    const { token } = await mint();
    const offline: JWTVerifyGetKey = () => Promise.reject(new TypeError("fetch failed"));
    expect(await refusal(token, { keys: offline })).toBe("key_unavailable");
  });
});
