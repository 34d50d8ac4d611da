/**
 * Mock model backends: deterministic, provider-faithful stand-ins for the model APIs the gateway
 * routes to. Each backend speaks both wire formats and names itself in every reply:
 *
 * - `POST /v1/chat/completions` and `GET /v1/models` (OpenAI: `Authorization: Bearer <apiKey>`)
 * - `POST /v1/messages` (Anthropic: `x-api-key: <apiKey>`, or `Authorization: Bearer <apiKey>` as
 *   Anthropic's own SDK 1.x sends it, and `anthropic-version`; `GET /v1/models` answers in Anthropic's
 *   shape when called with `x-api-key` or `anthropic-version`)
 * - header `x-mock-backend: <id>` on every response; default answer `Hello from <id> (<region>, <tier>).`
 * - `GET /__mock/requests`: the last 50 requests received (JSON); `DELETE /__mock/requests` clears them
 * - confidential tier only: `POST /attestation {"nonce"}` answers `{"token"}`, a real signed attestation
 *   token (dev key, TEST ONLY: dev/attestation/); `POST /__mock/attestation {"mode", "ttlSeconds"?}`
 *   makes later tokens go wrong (`valid`, `bad-measurement`, `stale-nonce`, `reused-nonce`,
 *   `bad-signature`, `unpinned-key`, `expired`; dev/mock/attestation.ts), `GET` shows the setting.
 *   Attestation requests are recorded in `/__mock/requests` like any other.
 * - a backend with `assertion` in its spec (eu-confidential) refuses chat requests without a valid
 *   gateway-signed `X-Verity-Assertion` (401 `assertion_missing` / `assertion_invalid`, dev/mock/assertion.ts);
 *   `POST /__mock/assertion-keys {"keys"}` trusts more gateway keys (TEST ONLY: the Worker tests' gateway).
 *
 * The last user message steers the reply: `#echo`, `#tool:<name> <json-args>`, `#say:<text>`,
 * `#model:<id>`, `#slow:<ms>`, and for the gateway's tests `#status:<code>` (an error whose body holds
 * the fake secret `upstream-internal-detail-XYZ`), `#hang` (never answers) and `#fail:<id>:<fault>`
 * (only backend `<id>` fails: a status, `reset` or `cut`; for fail-over). dev/mock/steering.ts has
 * the exact rules.
 *
 * Run directly (`tsx dev/mock-backend.ts`) it starts every backend of MOCK_BACKENDS on its port.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { MOCK_BACKENDS, type MockBackendSpec } from "./config.ts";
import { closeServer, isEntryPoint, listen } from "./lib/http-server.ts";
import { anthropic } from "./mock/anthropic.ts";
import { ASSERTION_KEYS_PATH, createAssertionVerifier, type AssertionVerifier } from "./mock/assertion.ts";
import { createAttestationService, parseAttestationSettings, type MockAttestationService } from "./mock/attestation.ts";
import { parseJsonBody, pause, readBody, sendJson, sendStream } from "./mock/http.ts";
import { openai } from "./mock/openai.ts";
import { planOutcome, type ChatRequest, type Outcome, type Reply } from "./mock/reply.ts";
import { RequestLog, type RecordedRequest } from "./mock/request-log.ts";
import { LEAKY_UPSTREAM_DETAIL, SteeringError } from "./mock/steering.ts";
import { WireError, type WireFormat } from "./mock/wire.ts";

export type { RecordedRequest } from "./mock/request-log.ts";
export { LEAKY_UPSTREAM_DETAIL } from "./mock/steering.ts";

export interface RunningMockBackend {
  /** `http://127.0.0.1:<port>`, no trailing slash. */
  url: string;
  close(): Promise<void>;
}

export const INSPECTION_PATH = "/__mock/requests";
export const ATTESTATION_ADMIN_PATH = "/__mock/attestation";
/** Where the gateway asks a confidential backend for a fresh attestation (worker/workload/gate.ts). */
export const ATTESTATION_PATH = "/attestation";
/**
 * `/__mock/redirect/<port>/<path>` answers 307 to `http://127.0.0.1:<port>/<path>`: a backend that
 * tries to bounce the gateway elsewhere (the gateway must not follow).
 */
export const REDIRECT_PREFIX = "/__mock/redirect/";

/** The models the seeded registry (kv-seeds/backends.json) routes to; any other name is served too. */
const LISTED_MODELS = ["gpt-4o-mini", "gpt-4.1", "claude-sonnet-4-5", "claude-haiku-4-5", "mistral-large-2"];

interface BackendState {
  spec: MockBackendSpec;
  log: RequestLog;
  /** Numbers the responses, so ids are unique within a run and the same in every run. */
  seq: number;
  /** The confidential tier's attestation service. */
  attestation?: MockAttestationService;
  /** A backend that requires the gateway-signed assertion on its model routes. */
  assertion?: AssertionVerifier;
}

/** Starts one backend on `spec.port` (0: a free port, for tests). */
export async function startMockBackend(spec: MockBackendSpec): Promise<RunningMockBackend> {
  checkSpec(spec);
  const state: BackendState = { spec, log: new RequestLog(), seq: 0 };
  if (spec.tier === "confidential") state.attestation = await createAttestationService(spec.id);
  if (spec.assertion) state.assertion = createAssertionVerifier(spec.assertion);
  const server = createServer(handler(state));
  const port = await listen(server, spec.port, "127.0.0.1");
  return { url: `http://127.0.0.1:${port}`, close: () => closeServer(server) };
}

function checkSpec(spec: MockBackendSpec): void {
  if (spec.id === "" || spec.apiKey === "") throw new TypeError("startMockBackend: id and apiKey must not be empty");
}

function handler(state: BackendState): (request: IncomingMessage, response: ServerResponse) => void {
  return function handleMockRequest(request, response) {
    response.setHeader("x-mock-backend", state.spec.id);
    serve(state, request, response).catch((error: unknown) => failUnexpectedly(state, response, error));
  };
}

async function serve(state: BackendState, request: IncomingMessage, response: ServerResponse): Promise<void> {
  const path = new URL(request.url ?? "/", "http://mock.invalid").pathname;
  if (path === INSPECTION_PATH) return inspect(state.log, request, response);
  if (path.startsWith(REDIRECT_PREFIX)) return redirect(state.log, request, response, path.slice(REDIRECT_PREFIX.length));
  if (state.attestation && path === ATTESTATION_ADMIN_PATH) return attestationAdmin(state.attestation, request, response);
  if (state.attestation && path === ATTESTATION_PATH) return attest(state, state.attestation, request, response);
  if (state.assertion && path === ASSERTION_KEYS_PATH) return registerAssertionKeys(state.assertion, request, response);

  const format = wireFormatFor(path, request);
  try {
    const bodyText = await readBody(request);
    const signal = abortOnDisconnect(response, state.log.record(request, bodyText));
    await route(state, format, { path, request, response, bodyText, signal });
  } catch (error) {
    if (error instanceof WireError) return sendJson(response, error.status, format.errorBody(error));
    // The client went away and a pending pause was cancelled: nothing left to answer.
    if (error instanceof Error && error.name === "AbortError") return;
    throw error;
  }
}

async function redirect(log: RequestLog, request: IncomingMessage, response: ServerResponse, rest: string): Promise<void> {
  log.record(request, await readBody(request));
  const match = /^(\d{1,5})(\/.*)$/.exec(rest);
  if (!match) return sendJson(response, 404, { error: "redirect path must be /__mock/redirect/<port>/<path>" });
  response.writeHead(307, { location: `http://127.0.0.1:${match[1]}${match[2]}` });
  response.end();
}

/** Anthropic's shape for its route, and for /v1/models called Anthropic's way; OpenAI's otherwise. */
function wireFormatFor(path: string, request: IncomingMessage): WireFormat {
  if (path === "/v1/messages") return anthropic;
  const { headers } = request;
  const anthropicCaller = headers["x-api-key"] !== undefined || headers["anthropic-version"] !== undefined;
  return path === "/v1/models" && anthropicCaller ? anthropic : openai;
}

/** Marks the record aborted and aborts the signal when the connection closes before the reply ends. */
function abortOnDisconnect(response: ServerResponse, entry: RecordedRequest): AbortSignal {
  const controller = new AbortController();
  const onClose = () => {
    if (response.writableFinished) return;
    entry.aborted = true;
    controller.abort();
  };
  // The client may already have gone while the body was read; then "close" has already fired.
  if (response.closed) onClose();
  else response.once("close", onClose);
  return controller.signal;
}

interface Exchange {
  path: string;
  request: IncomingMessage;
  response: ServerResponse;
  bodyText: string;
  signal: AbortSignal;
}

async function route(state: BackendState, format: WireFormat, exchange: Exchange): Promise<void> {
  const { path, request, response } = exchange;
  const method = request.method ?? "";
  if (path === "/v1/chat/completions" || path === "/v1/messages") {
    if (method !== "POST") throw new WireError(405, `${method} is not allowed on ${path}; use POST`);
    return chat(state, format, exchange);
  }
  if (path === "/v1/models") {
    if (method !== "GET") throw new WireError(405, `${method} is not allowed on ${path}; use GET`);
    format.checkAuth(request.headers, state.spec.apiKey);
    return sendJson(response, 200, format.modelList(LISTED_MODELS, state.spec.id));
  }
  throw new WireError(404, `Unknown request URL: ${method} ${path}`);
}

async function chat(state: BackendState, format: WireFormat, exchange: Exchange): Promise<void> {
  await state.assertion?.check(exchange.request.headers);
  format.checkAuth(exchange.request.headers, state.spec.apiKey);
  const chatRequest = format.parseRequest(parseJsonBody(exchange.bodyText));
  const outcome = steer(state.spec, chatRequest);
  switch (outcome.kind) {
    case "hang":
      // Deliberately no answer: the connection stays open until the client (the gateway) gives up.
      return;
    case "status":
      throw new WireError(outcome.status, `mock upstream failure: ${LEAKY_UPSTREAM_DETAIL}`);
    case "reset":
      // `#fail:<id>:reset`: the connection drops unanswered, as a crashed upstream's does.
      exchange.request.socket.destroy();
      return;
    case "cut":
      return cut(state, format, exchange, chatRequest, outcome.reply);
    case "reply":
      return answer(state, format, exchange, chatRequest, outcome.reply);
  }
}

/** `#fail:<id>:cut`: a 200 and the start of the reply (a stream's first event, half a body), then the connection drops. */
async function cut(state: BackendState, format: WireFormat, exchange: Exchange, chatRequest: ChatRequest, reply: Reply): Promise<void> {
  const id = { backendId: state.spec.id, seq: ++state.seq, created: Math.floor(Date.now() / 1000) };
  const { response } = exchange;
  if (chatRequest.stream) {
    response.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache" });
    response.write(format.streamFrames(reply, chatRequest, id)[0] ?? "");
  } else {
    const text = JSON.stringify(format.completion(reply, id));
    response.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
    response.write(text.slice(0, Math.floor(text.length / 2)));
  }
  // The first bytes reach the client before the connection drops.
  await pause(100, exchange.signal);
  response.destroy();
}

function steer(spec: MockBackendSpec, chatRequest: ChatRequest): Outcome {
  try {
    return planOutcome(spec, chatRequest);
  } catch (error) {
    if (error instanceof SteeringError) throw new WireError(400, error.message);
    throw error;
  }
}

async function answer(
  state: BackendState,
  format: WireFormat,
  exchange: Exchange,
  chatRequest: ChatRequest,
  reply: Reply,
): Promise<void> {
  const id = { backendId: state.spec.id, seq: ++state.seq, created: Math.floor(Date.now() / 1000) };
  if (chatRequest.stream) {
    return sendStream(exchange.response, format.streamFrames(reply, chatRequest, id), reply.slowMs, exchange.signal);
  }
  await pause(reply.slowMs, exchange.signal);
  sendJson(exchange.response, 200, format.completion(reply, id));
}

async function attest(state: BackendState, service: MockAttestationService, request: IncomingMessage, response: ServerResponse): Promise<void> {
  const bodyText = await readBody(request);
  state.log.record(request, bodyText);
  if (request.method !== "POST") return sendJson(response, 405, { error: `use POST on ${ATTESTATION_PATH}` });
  let nonce: unknown;
  try {
    nonce = (JSON.parse(bodyText) as { nonce?: unknown }).nonce;
  } catch {
    nonce = undefined;
  }
  if (typeof nonce !== "string" || nonce.length < 16 || nonce.length > 256) return sendJson(response, 400, { error: "body must be {\"nonce\": string}" });
  sendJson(response, 200, { token: await service.issue(nonce) });
}

async function registerAssertionKeys(verifier: AssertionVerifier, request: IncomingMessage, response: ServerResponse): Promise<void> {
  if (request.method !== "POST") return sendJson(response, 405, { error: `use POST on ${ASSERTION_KEYS_PATH}` });
  try {
    sendJson(response, 200, { registered: verifier.register(parseJsonBody(await readBody(request))) });
  } catch (error) {
    if (error instanceof WireError) return sendJson(response, error.status, { error: error.message });
    throw error;
  }
}

async function attestationAdmin(service: MockAttestationService, request: IncomingMessage, response: ServerResponse): Promise<void> {
  if (request.method === "GET") return sendJson(response, 200, service.settings);
  if (request.method !== "POST") return sendJson(response, 405, { error: `use GET or POST on ${ATTESTATION_ADMIN_PATH}` });
  let body: unknown;
  try {
    body = JSON.parse(await readBody(request));
  } catch {
    body = undefined;
  }
  const settings = parseAttestationSettings(body);
  if (!settings) return sendJson(response, 400, { error: "body must be {\"mode\": one of the modes in dev/mock/attestation.ts, \"ttlSeconds\"?: 1..3600}" });
  Object.assign(service.settings, settings);
  sendJson(response, 200, service.settings);
}

function inspect(log: RequestLog, request: IncomingMessage, response: ServerResponse): void {
  if (request.method === "DELETE") {
    log.clear();
    response.writeHead(204).end();
  } else if (request.method === "GET") {
    sendJson(response, 200, log.list());
  } else {
    sendJson(response, 405, { error: `${request.method ?? ""} is not allowed on ${INSPECTION_PATH}` });
  }
}

/** A bug in the mock, not a steered failure: say so on stderr, and answer a bare 500 if still possible. */
function failUnexpectedly(state: BackendState, response: ServerResponse, error: unknown): void {
  console.error(`mock backend ${state.spec.id}: internal error:`, error);
  if (response.headersSent) response.destroy();
  else sendJson(response, 500, { error: "mock backend internal error" });
}

if (isEntryPoint(import.meta.url)) {
  for (const spec of MOCK_BACKENDS) {
    const { url } = await startMockBackend(spec);
    console.log(`mock backend ${spec.id} (${spec.region}, ${spec.tier}): ${url}`);
  }
}
