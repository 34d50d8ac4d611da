/**
 * The workload benchmark's Worker (bench/workload.ts): runs the gateway's own workload gate
 * (`createWorkloadGate`, the code the pipeline calls per request) and model-pin check in workerd, `n`
 * requests' worth per HTTP request, so the Node side can time batches from outside.
 *
 *   POST /setup                    keys, a registry with a confidential (attested) and a public backend,
 *                                  and one attestation exchange so the gate's cache is warm
 *   POST /run?kind=<kind>&n=N      N per-request workload checks, answers 204
 *   GET  /healthz
 *
 * The attestation service is answered in memory (a signed EAT for the nonce the gate sends), so the
 * cold case measures the gate's own work: nonce, key import, ES256 verification and claim checks.
 */
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { checkClaim, claimOf, type ModelPin } from "../worker/providers/model-pin.ts";
import { createWorkloadGate, type WorkloadGate } from "../worker/workload/gate.ts";
import { parseRegistry, type Backend } from "../worker/workload/registry.ts";
import type { Egress } from "../worker/network/index.ts";

const ISSUER = "https://attestation.bench";
const MEASUREMENT = "ab".repeat(48);

interface World {
  gate: WorkloadGate;
  confidential: Backend;
  public: Backend;
  egress: Egress;
  jwks: { keys: Record<string, unknown>[] };
}

let world: World | undefined;

/** A whole OpenAI reply as the pin check sees it. */
const REPLY = { id: "chatcmpl-1", object: "chat.completion", model: "m", system_fingerprint: "fp_bench", choices: [] };

async function setup(): Promise<World> {
  const keys = await generateKeyPair("ES256", { extractable: true });
  const jwk = { ...(await exportJWK(keys.publicKey)), kid: "bench-1", alg: "ES256" };
  const backend = (id: string, tier: string, extra: Record<string, unknown> = {}) => ({
    id, wireFormats: ["openai"], baseUrl: `https://${id}.bench`, region: "eu", jurisdiction: "eu", tier, models: ["m"],
    secret: "UPSTREAM_KEY_B", timeoutMs: 1000, preference: 1, systemFingerprints: ["fp_bench"], ...extra,
  });
  const registry = parseRegistry({
    tenants: { acme: { name: "Acme", residency: "eu", jurisdiction: "eu" } },
    issuers: [],
    backends: [
      backend("conf", "confidential", { attestation: { issuer: ISSUER, jwks: { keys: [jwk] }, measurements: [MEASUREMENT], maxAgeSeconds: 3600 } }),
      backend("pub", "public"),
    ],
    tools: [],
  });
  const egress: Egress = async (_url, init) => {
    const { nonce } = JSON.parse(String(init?.body)) as { nonce: string };
    const now = Math.floor(Date.now() / 1000);
    const token = await new SignJWT({ iss: ISSUER, iat: now, exp: now + 3600, eat_nonce: nonce, measurement: MEASUREMENT })
      .setProtectedHeader({ alg: "ES256", kid: "bench-1" })
      .sign(keys.privateKey);
    return Response.json({ token });
  };
  const gate = createWorkloadGate();
  const [confidential, pub] = [registry.backends.find((b) => b.id === "conf")!, registry.backends.find((b) => b.id === "pub")!];
  const first = await gate.check(confidential, egress);
  if (!first.eligible) throw new Error(`bench attestation refused: ${first.reason}`);
  return { gate, confidential, public: pub, egress, jwks: { keys: [jwk] } };
}

function pinOf(backend: Backend): ModelPin {
  return { backendId: backend.id, requested: "m", models: backend.models, ...(backend.systemFingerprints ? { systemFingerprints: backend.systemFingerprints } : {}) };
}

async function run(kind: string, n: number, w: World): Promise<void> {
  for (let i = 0; i < n; i++) {
    // cold: a fresh gate each time (no cached attestation, keys imported again): the worst case.
    const gate = kind === "attest-cold" ? createWorkloadGate() : w.gate;
    const backend = kind === "public" ? w.public : w.confidential;
    const verdict = await gate.check(backend, w.egress);
    if (!verdict.eligible) throw new Error(`refused: ${verdict.reason}`);
    if (kind === "attested-cached" && verdict.attestation?.cached !== true) throw new Error("the attestation was not cached");
    if (checkClaim("openai", pinOf(backend), claimOf("openai", REPLY))) throw new Error("pin check failed");
  }
}

export default {
  async fetch(req: Request): Promise<Response> {
    const url = new URL(req.url);
    const n = Number(url.searchParams.get("n") ?? "1");
    if (url.pathname === "/healthz") return new Response("ok");
    if (url.pathname === "/setup") {
      world = await setup();
      return new Response(null, { status: 204 });
    }
    if (url.pathname === "/run" && world) {
      await run(url.searchParams.get("kind") ?? "attested-cached", n, world);
      return new Response(null, { status: 204 });
    }
    return new Response("not found", { status: 404 });
  },
};
