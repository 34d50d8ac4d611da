/**
 * The plane order for an AI request, as ARCHITECTURE.md draws it:
 *
 *   identity → network → parse → classify → policy + route → transform → workload → audit(decision)
 *   → upstream → stream back → audit(completion)
 *
 * Every step either extends the request's state or throws a GatewayError; a thrown error is a deny,
 * and every decision (allow or deny) is committed to the tenant's audit log before its effect.
 */
import type { Context } from "hono";
import {
  authenticateCaller,
  commit,
  continuousOf,
  decisionRecord,
  egressFor,
  principalRef,
  requestEnvironment,
  stepUpRequired,
  type PipelineDeps,
} from "./caller.ts";
import type { Classification, NormalizedRequest, Principal } from "./context.ts";
import type { AppEnv } from "./env.ts";
import { classify, LABEL_HEADER } from "./data/index.ts";
import { asGatewayError, GatewayError } from "./errors.ts";
import { sha256Hex } from "./lib/encoding.ts";
import { readJsonBody, upstreamHeaders } from "./network/index.ts";
import { invokeModelRequest, type Decision, type InvokeModelFacts, type Obligation } from "./policy/index.ts";
import { PROVIDERS, relayReply, type RelayOutcome } from "./providers/index.ts";
import { workloadGate, type Backend, type GatewayConfig, type WorkloadVerdict } from "./workload/index.ts";

/** The request's facts as the PDP's translator wants them; the backend is filled in per candidate. */
export function policyFacts(
  principal: Principal,
  request: NormalizedRequest,
  classification: Classification,
  raw: Request,
  now: number,
): Omit<InvokeModelFacts, "backend"> {
  return {
    ...requestEnvironment(principal, raw, now),
    principal: principalRef(principal),
    model: request.model,
    classification: { level: classification.level, categories: classification.categories },
    request: { wireFormat: request.format, stream: request.stream, tools: request.tools },
  };
}

/** Obligations this version of the gateway knows how to honour; any other one turns allow into deny. */
function honourable(obligation: Obligation, backend: Backend): boolean {
  switch (obligation.kind) {
    case "max_tokens":
      return true;
    case "route":
      return backend.tier === obligation.tier;
    default:
      return false;
  }
}

interface Route {
  backend: Backend;
  decision: Decision;
  /** Obligations of an allow that this gateway cannot honour (which made the allow unusable). */
  unhonoured: Obligation[];
  /** The workload plane's refusal of a backend policy allowed (suspect, or no valid attestation). */
  workload?: Extract<WorkloadVerdict, { eligible: false }>;
}

/**
 * Policy decides per candidate backend (model served, wire format spoken, by preference); the first
 * one policy allows, with obligations the gateway can honour, and that the workload plane finds
 * eligible (not suspect; attested where required), is the route.
 */
async function route(config: GatewayConfig, request: NormalizedRequest, facts: Omit<InvokeModelFacts, "backend">) {
  const candidates = config.registry.backends.filter((b) => b.models.includes(request.model) && b.wireFormats.includes(request.format));
  if (candidates.length === 0) {
    throw new GatewayError("model_not_found", `the model "${request.model}" does not exist or is not offered on this API`);
  }
  const denials: Route[] = [];
  for (const backend of candidates) {
    const decision = config.pdp.decide(invokeModelRequest({ ...facts, backend: backend.id }));
    const unhonoured = decision.effect === "allow" ? decision.obligations.filter((o) => !honourable(o, backend)) : [];
    if (decision.effect === "allow" && unhonoured.length === 0) {
      const verdict = await workloadGate.check(backend, egressFor(config));
      if (verdict.eligible) return { chosen: { backend, decision, unhonoured, verdict }, denials };
      denials.push({ backend, decision, unhonoured, workload: verdict });
      continue;
    }
    denials.push({ backend, decision, unhonoured });
  }
  return { chosen: undefined, denials };
}

function refusal(denials: Route[]): GatewayError {
  const stepUp = stepUpRequired(denials.flatMap((d) => d.decision.obligations));
  if (stepUp) return stepUp;
  // A backend policy allowed failed the workload plane: say so, rather than "policy denied".
  const workload = denials.find((d) => d.workload)?.workload;
  if (workload?.code === "attestation_failed") {
    return new GatewayError("attestation_failed", "the backend this request may use could not prove what it runs (attestation failed); nothing was sent");
  }
  if (workload) return new GatewayError("backend_suspect", "the backend this request may use is suspended after answering as an unpinned model");
  if (denials.some((d) => d.unhonoured.length > 0)) {
    return new GatewayError("no_eligible_backend", "policy allows this request only under conditions no backend can meet here");
  }
  return new GatewayError("policy_denied", "the request is not allowed by policy");
}

function applyObligations(request: NormalizedRequest, decision: Decision): Record<string, unknown> {
  const provider = PROVIDERS[request.format];
  let body = request.body;
  for (const obligation of decision.obligations) {
    if (obligation.kind === "max_tokens") body = provider.capTokens(body, obligation.limit);
  }
  return body;
}

function apiKeyFor(env: AppEnv["Bindings"], backend: Backend): string {
  const key = (env as unknown as Record<string, unknown>)[backend.secret];
  if (typeof key !== "string" || key.length === 0) {
    throw new GatewayError("config_unavailable", "the selected backend has no credentials configured", {
      cause: new Error(`Worker secret ${backend.secret} is not set`),
    });
  }
  return key;
}

/** The whole lifecycle of one chat request (OpenAI chat completions or Anthropic messages). */
export async function handleChat(c: Context<AppEnv>, deps: PipelineDeps): Promise<Response> {
  const state = c.var.state;
  const provider = PROVIDERS[state.format];
  const sink = deps.audit(c.env);
  const { config, principal } = await authenticateCaller(c, deps);

  const body = await readJsonBody(c.req.raw, Number(c.env.MAX_BODY_BYTES));
  const request = provider.parse(body.json);
  const classification = classify(request.texts, c.req.header(LABEL_HEADER) ?? null);
  state.observed = { level: classification.level, tools: request.tools };
  const requestDigest = await sha256Hex(body.bytes);
  const baseFields = {
    action: "invoke_model",
    model: request.model,
    stream: request.stream,
    classification: { level: classification.level, categories: classification.categories, findings: classification.findings.length },
    requestDigest,
    configVersion: config.version,
    policyVersion: config.pdp.version,
  };

  const facts = policyFacts(principal, request, classification, c.req.raw, c.var.state.receivedAt);
  const { chosen, denials } = await route(config, request, facts);
  if (!chosen) {
    const refused = refusal(denials);
    await commit(
      sink,
      decisionRecord(state, principal, {
        ...baseFields,
        decision: "deny",
        code: refused.code,
        facts,
        // Every candidate's own decision, so replay can re-evaluate each one.
        candidates: denials.map(({ backend, decision, unhonoured, workload }) => ({
          resource: { type: "Backend", id: backend.id },
          effect: decision.effect,
          reasons: decision.reasons,
          errors: decision.errors,
          obligations: decision.obligations,
          unhonoured,
          ...(workload ? { workload: { code: workload.code, reason: workload.reason, detail: workload.detail } } : {}),
          entitySlice: decision.entitySlice,
        })),
      }),
    );
    throw refused;
  }

  const { backend, decision, verdict } = chosen;
  const upstreamBody = applyObligations(request, decision);
  let apiKey: string;
  try {
    apiKey = apiKeyFor(c.env, backend);
  } catch (error) {
    const refused = asGatewayError(error);
    await commit(sink, decisionRecord(state, principal, { ...baseFields, decision: "deny", code: refused.code, resource: { type: "Backend", id: backend.id }, reasons: ["backend credentials missing"] }));
    throw refused;
  }
  await commit(
    sink,
    decisionRecord(state, principal, {
      ...baseFields,
      decision: "allow",
      resource: { type: "Backend", id: backend.id },
      reasons: decision.reasons,
      errors: decision.errors,
      obligations: decision.obligations,
      facts,
      entitySlice: decision.entitySlice,
      ...(verdict.attestation ? { attestation: verdict.attestation } : {}),
    }),
  );

  let completed = false;
  const completion = (outcome: Partial<RelayOutcome> & { status: number; error?: string }) => {
    // One completion record per request: a reply the relay stopped is recorded there, not again here.
    if (completed) return;
    completed = true;
    if (outcome.pinViolation) workloadGate.markSuspect(backend);
    continuousOf(deps).observeUsage(c, sink, principal, (outcome.inputTokens ?? 0) + (outcome.outputTokens ?? 0));
    c.executionCtx.waitUntil(
      sink
        .commit({
          type: "completion",
          requestId: state.requestId,
          tenant: principal.tenant,
          time: new Date().toISOString(),
          backend: backend.id,
          ...outcome,
        })
        .catch((error: unknown) => console.error(JSON.stringify({ event: "audit_completion_failed", requestId: state.requestId, error: String(error) }))),
    );
  };

  try {
    const upstream = await egressFor(config)(`${backend.baseUrl}${provider.path}`, {
      method: "POST",
      headers: upstreamHeaders(c.req.raw.headers, provider.credentials(apiKey, c.req.raw.headers)),
      body: JSON.stringify(upstreamBody),
      signal: c.req.raw.signal,
      timeoutMs: backend.timeoutMs,
    });
    return await relayReply(provider, upstream, {
      stream: request.stream,
      requestId: state.requestId,
      timeoutMs: backend.timeoutMs,
      pin: { backendId: backend.id, requested: request.model, models: backend.models, ...(backend.systemFingerprints ? { systemFingerprints: backend.systemFingerprints } : {}) },
      done: completion,
    });
  } catch (error) {
    const failure = asGatewayError(error);
    completion({ status: failure.status, stream: request.stream, error: failure.code });
    throw failure;
  }
}

