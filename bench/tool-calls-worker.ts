/**
 * The tool-call benchmark's Worker (bench/tool-calls.ts): relays a streamed OpenAI reply that proposes
 * one tool call through the gateway's own relay (`relayReply`, event-level inspection, model pin),
 * with and without authorizing the call, `n` replies per HTTP request, so the Node side can time
 * batches from outside.
 *
 *   POST /setup                  body: the signed seed bundle (KV value); the configuration in force
 *   POST /run?kind=<kind>&n=N    N relayed replies, each read to its end; answers 204
 *   GET  /healthz
 *
 * Authorization is the real path: `createProposalGate` → authorizeToolCall (registry, JSON Schema,
 * classifier, Cedar PDP) → the decision record committed to an audit sink. The sink here is in
 * memory, so the figures are the gateway's own work; the Durable Object append is measured by the
 * audit benchmark (bench/AUDIT.md).
 */
import { DEV_SIGNING_JWK, publicJwk } from "../dev/signing/sign-bundle.ts";
import type { Principal, RequestState } from "../worker/context.ts";
import { LOCAL_DEV_LOOPBACK } from "../worker/network/index.ts";
import type { RequestEnvironment } from "../worker/policy/index.ts";
import { createStreamPinGuard } from "../worker/providers/model-pin.ts";
import { openai } from "../worker/providers/openai.ts";
import { relayReply, type RelayOptions } from "../worker/providers/relay.ts";
import { createInspectorChain, createSseParser, serialise } from "../worker/providers/sse.ts";
import { openaiToolCalls } from "../worker/tools/proposals-openai.ts";
import { createProposalGate } from "../worker/tools/proposals-gate.ts";
import type { ToolCallGate } from "../worker/tools/proposals.ts";
import type { AuditRecord, AuditSink } from "../worker/verify/index.ts";
import { BUNDLE_KEY } from "../worker/workload/bundle-format.ts";
import { createConfigSource, type GatewayConfig } from "../worker/workload/index.ts";

const ENVELOPE = { id: "chatcmpl-bench", object: "chat.completion.chunk", created: 1, model: "gpt-4o-mini", system_fingerprint: "fp_bench" };
const chunk = (delta: Record<string, unknown>, finish: string | null = null) =>
  `data: ${JSON.stringify({ ...ENVELOPE, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] })}\n\n`;

/** What the mock backend streams for `#tool:search_documents {...}`: role, call opening, argument fragments, finish, [DONE]. */
const ARGUMENTS = '{"query":"quarterly report for the Zurich office","matter":"M-2026-0042"}';
const STREAM = [
  chunk({ role: "assistant", content: null, refusal: null }),
  chunk({ tool_calls: [{ index: 0, id: "call_bench", type: "function", function: { name: "search_documents", arguments: "" } }] }),
  ...[0, 1, 2].map((i) => chunk({ tool_calls: [{ index: 0, function: { arguments: ARGUMENTS.slice(i * 25, (i + 1) * 25) } }] })),
  chunk({}, "tool_calls"),
  "data: [DONE]\n\n",
];
const BYTES = STREAM.map((frame) => new TextEncoder().encode(frame));

const ALICE: Principal = {
  kind: "user",
  id: "alice",
  tenant: "acme",
  groups: ["members"],
  attributes: {},
  authn: { method: "oidc", issuer: "http://127.0.0.1:8788", acr: "urn:verity:acr:pwd", amr: ["pwd"], mfa: false, expiresAt: 0, binding: "none" },
  risk: "low",
};

interface World {
  config: GatewayConfig;
  records: AuditRecord[];
}

let world: World | undefined;

/** The seeded registry names the local stack's loopback tool and backend endpoints, as on `npm start`. */
async function setup(bundle: Uint8Array): Promise<World> {
  const kv = { get: async (key: string) => (key === BUNDLE_KEY ? bundle.slice().buffer : null) } as unknown as KVNamespace;
  const env = { CONFIG: kv, CONFIG_REFRESH_MS: "3600000", BUNDLE_TRUSTED_KEYS: JSON.stringify({ keys: [publicJwk(DEV_SIGNING_JWK)] }), BUNDLE_MIN_VERSION: "1", VERITY_LOCAL_DEV: LOCAL_DEV_LOOPBACK };
  return { config: await createConfigSource().current(env), records: [] };
}

function upstream(): Response {
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const bytes of BYTES) controller.enqueue(bytes);
      controller.close();
    },
  });
  return new Response(body, { headers: { "content-type": "text/event-stream" } });
}

const ENVIRONMENT: RequestEnvironment = {
  authn: { method: "oidc", mfa: false, acr: "urn:verity:acr:pwd", binding: "none", authAge: 60 },
  risk: "low",
  geo: { country: "DE", continent: "EU" },
};
const PIN = { backendId: "eu-public", requested: "gpt-4o-mini", models: ["gpt-4o-mini"] };

/** The pipeline's gate for alice, committing to an in-memory sink that keeps only the latest records. */
function gateFor(w: World): ToolCallGate {
  const sink: AuditSink = {
    async commit(record) {
      if (w.records.push(record) > 64) w.records.length = 0;
      return { index: w.records.length - 1, leafHash: "", treeSize: w.records.length, rootHash: "" };
    },
  };
  const state: RequestState = { requestId: "bench", format: "openai", receivedAt: Date.now(), principal: ALICE };
  return createProposalGate({ config: w.config, principal: ALICE, environment: ENVIRONMENT, state, sink, offered: ["search_documents"] });
}

function checkThrough(text: string): void {
  if (!text.includes('"name":"search_documents"')) throw new Error("the tool call did not go through");
}

async function relayOne(w: World, authorize: boolean): Promise<void> {
  const options: RelayOptions = { stream: true, requestId: "bench", timeoutMs: 10_000, pin: PIN, done: () => undefined, ...(authorize ? { toolCalls: gateFor(w) } : {}) };
  checkThrough(await (await relayReply(openai, upstream(), options)).text());
}

/** The relay's event-level work (parse, pin guard, tool-call inspector, serialise) without the stream plumbing. */
async function inspectOne(w: World, authorize: boolean): Promise<void> {
  const parser = createSseParser();
  const chain = createInspectorChain([createStreamPinGuard("openai", PIN), ...(authorize ? [openaiToolCalls(gateFor(w))] : [])]);
  let out = "";
  for (const bytes of BYTES) out += (await chain.push(parser.push(bytes))).events.map(serialise).join("");
  checkThrough(out + (await chain.end()).events.map(serialise).join(""));
}

const KINDS: Record<string, (w: World) => Promise<void>> = {
  /** The streamed reply relayed with event-level inspection (model pin, usage), tool calls unchecked. */
  plain: (w) => relayOne(w, false),
  /** The same reply with its tool call held back, authorized, its decision committed, then released. */
  authorized: (w) => relayOne(w, true),
  /** The event-level work alone (parse, pin guard, tool-call inspector), without the stream plumbing. */
  "inspect-plain": (w) => inspectOne(w, false),
  "inspect-authorized": (w) => inspectOne(w, true),
  /** The gate alone for the assembled call: authorizeToolCall, the decision record, the commit. */
  decide: async (w) => {
    const ruling = await gateFor(w).decide({ id: "call_bench", name: "search_documents", arguments: ARGUMENTS });
    if (!ruling.allowed) throw new Error("the call was refused");
  },
};

export default {
  async fetch(req: Request): Promise<Response> {
    const url = new URL(req.url);
    if (url.pathname === "/healthz") return new Response("ok");
    if (url.pathname === "/setup" && req.method === "POST") {
      world = await setup(new Uint8Array(await req.arrayBuffer()));
      await relayOne(world, true);
      return new Response(null, { status: 204 });
    }
    if (url.pathname === "/run" && req.method === "POST" && world) {
      const run = KINDS[url.searchParams.get("kind") ?? ""];
      const n = Number(url.searchParams.get("n") ?? "0");
      if (!run || !Number.isSafeInteger(n) || n < 0) return new Response("bad run", { status: 400 });
      for (let i = 0; i < n; i++) await run(world);
      return new Response(null, { status: 204 });
    }
    return new Response("not found", { status: 404 });
  },
};
