/**
 * The identity benchmark's Worker (bench/identity.ts): runs the gateway's own identity plane
 * (`createIdentity`, the code the gateway runs) in workerd, `n` authentications per HTTP request, so
 * the Node side can time batches from outside (workerd's clock does not advance while code runs).
 *
 *   POST /setup?n=N   signs N DPoP proofs (distinct jti) and one bearer and one DPoP-bound token
 *   POST /run?kind=bearer|dpop|dpop-no-replay|cold-bearer&n=N   N authentications, answers 204
 *   GET  /healthz
 *
 * The issuer's key set is served from memory (the IdP is the third party here), so "warm JWKS" is
 * literal. `dpop` includes the replay check against the real ReplayCache Durable Object;
 * `dpop-no-replay` stops before it, to separate CPU from the Durable Object round trip.
 */
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT, type JWK } from "jose";
import { createIdentity, type IdentityIo, type IdentityRequest } from "../worker/identity/index.ts";
import { ReplayCache } from "../worker/identity/replay-cache.ts";
import { parseRegistry, type Registry } from "../worker/workload/registry.ts";

export { ReplayCache };

interface Env {
  REPLAY_CACHE: DurableObjectNamespace<ReplayCache>;
}

const ISSUER = "https://idp.bench";
const AUDIENCE = "https://gateway.bench";
const URL_OF_REQUEST = "https://gateway.bench/v1/chat/completions";

const registry: Registry = parseRegistry({
  tenants: { acme: { name: "Acme", residency: "eu", jurisdiction: "eu" } },
  issuers: [
    {
      id: "bench",
      kind: "oidc",
      issuer: ISSUER,
      jwksUri: `${ISSUER}/jwks`,
      audiences: [AUDIENCE],
      algorithms: ["ES256"],
      tokenType: "at+jwt",
      maxTokenAgeSeconds: 3600,
      tenants: ["acme"],
      tenantClaim: "tenant",
      groupsClaim: "groups",
    },
  ],
  backends: [
    {
      id: "b",
      wireFormats: ["openai"],
      baseUrl: "https://models.bench",
      region: "eu",
      jurisdiction: "eu",
      tier: "public",
      models: ["m"],
      secret: "UPSTREAM_KEY_B",
      timeoutMs: 1000,
      preference: 1,
    },
  ],
  tools: [],
});

interface World {
  jwks: { keys: JWK[] };
  bearer: string;
  bound: string;
  dpopKeys: CryptoKeyPair;
  proofs: string[];
  /** Distinct bearer tokens for the cold (signature-verifying) case. */
  coldTokens: string[];
}

let world: World | undefined;
/** Walks the cold tokens across batches, so none is met again while it could still be cached. */
let coldCursor = 0;
const identity = createIdentity({});

async function accessToken(signingKey: CryptoKey, claims: Record<string, unknown>): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ iss: ISSUER, aud: AUDIENCE, sub: "alice", iat: now, exp: now + 600, tenant: "acme", groups: ["members"], acr: "urn:verity:acr:pwd", ...claims })
    .setProtectedHeader({ alg: "ES256", typ: "at+jwt", kid: "k1" })
    .sign(signingKey);
}

async function setup(n: number): Promise<World> {
  const issuerKeys = await generateKeyPair("ES256", { extractable: true });
  const dpopKeys = await generateKeyPair("ES256", { extractable: true });
  const dpopJwk = await exportJWK(dpopKeys.publicKey);
  const jkt = await calculateJwkThumbprint(dpopJwk);
  const bearer = await accessToken(issuerKeys.privateKey, {});
  const bound = await accessToken(issuerKeys.privateKey, { cnf: { jkt } });
  const ath = await sha256Base64url(bound);
  const proofs: string[] = [];
  for (let i = 0; i < n; i++) {
    proofs.push(
      await new SignJWT({ htm: "POST", htu: URL_OF_REQUEST, jti: crypto.randomUUID(), ath })
        .setProtectedHeader({ alg: "ES256", typ: "dpop+jwt", jwk: dpopJwk })
        .setIssuedAt()
        .sign(dpopKeys.privateKey),
    );
  }
  const coldTokens: string[] = [];
  for (let i = 0; i < Math.min(n, 2000); i++) coldTokens.push(await accessToken(issuerKeys.privateKey, { jti: crypto.randomUUID() }));
  const jwks = { keys: [{ ...(await exportJWK(issuerKeys.publicKey)), kid: "k1", alg: "ES256", use: "sig" }] };
  return { jwks, bearer, bound, dpopKeys, proofs, coldTokens };
}

async function sha256Base64url(text: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
  return btoa(String.fromCharCode(...digest)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function request(headers: Record<string, string>): IdentityRequest {
  return { headers: new Headers(headers), method: "POST", url: URL_OF_REQUEST, cf: {} };
}

async function run(kind: string, n: number, env: Env, w: World): Promise<void> {
  const io: IdentityIo = { fetch: async () => Response.json(w.jwks), replay: env.REPLAY_CACHE };
  // `dpop-no-replay`: a namespace whose every claim is a first use, answered without I/O.
  const noReplay = { idFromName: () => ({}), get: () => ({ claim: async () => true }) } as unknown as DurableObjectNamespace<ReplayCache>;
  for (let i = 0; i < n; i++) {
    if (kind === "bearer") {
      await identity(request({ authorization: `Bearer ${w.bearer}` }), registry, io);
    } else if (kind === "cold-bearer") {
      await identity(request({ authorization: `Bearer ${w.coldTokens[coldCursor++ % w.coldTokens.length]!}` }), registry, io);
    } else {
      const proof = w.proofs.pop();
      if (proof === undefined) throw new Error("out of DPoP proofs: call /setup with a larger n");
      const headers = { authorization: `DPoP ${w.bound}`, dpop: proof };
      await identity(request(headers), registry, kind === "dpop" ? io : { ...io, replay: noReplay });
    }
  }
}

export default {
  async fetch(req: Request, env: Env): Promise<Response> {
    const url = new URL(req.url);
    const n = Number(url.searchParams.get("n") ?? "1");
    if (url.pathname === "/healthz") return new Response("ok");
    if (url.pathname === "/setup") {
      world = await setup(n);
      return new Response(null, { status: 204 });
    }
    if (url.pathname === "/run" && world) {
      await run(url.searchParams.get("kind") ?? "bearer", n, env, world);
      return new Response(null, { status: 204 });
    }
    return new Response("not found", { status: 404 });
  },
};
