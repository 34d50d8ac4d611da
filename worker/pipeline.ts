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
import {
  classify,
  detectText,
  FINDING_TYPES,
  knownCategory,
  LABEL_HEADER,
  replyClearance,
  replyFilters,
  TokenVault,
  transformRequest,
  transformRules,
  type ReplySummary,
  type RequestTransform,
  type TextDetector,
} from "./data/index.ts";
import { retentionFor } from "./data/vault/index.ts";
import { asGatewayError, GatewayError } from "./errors.ts";
import { sha256Hex } from "./lib/encoding.ts";
import { backendHop, charge, networkPlan, readJsonBody, upstreamHeaders } from "./network/index.ts";
import { DEFAULT_GATEWAY_ISSUER, cutOffer, createProposalGate } from "./tools/index.ts";
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
    case "retain":
      return true;
    case "redact":
    case "mask":
    case "tokenize":
    case "reply":
      // The data plane (worker/data) applies these to the request body and to the reply's text; a
      // category it does not know would match nothing, so it cannot be honoured.
      return knownCategory(obligation.category, FINDING_TYPES);
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
  // Policy named the only tier that could serve this data (`route:tier=`), and no backend of that tier
  // serving this model was allowed: a clear deny, never a fallback elsewhere.
  const routed = denials.flatMap((d) => d.decision.obligations).find((o) => o.kind === "route");
  if (routed?.kind === "route") {
    return new GatewayError("no_eligible_backend", `policy allows this request only on the ${routed.tier} tier, and no backend of that tier may serve it here`);
  }
  if (denials.some((d) => d.unhonoured.length > 0)) {
    return new GatewayError("no_eligible_backend", "policy allows this request only under conditions no backend can meet here");
  }
  return new GatewayError("policy_denied", "the request is not allowed by policy");
}

/** The body to send: token caps, then the data transforms (worker/data/transform.ts), re-checked. */
function applyObligations(request: NormalizedRequest, decision: Decision, classification: Classification, vault: TokenVault, detect: TextDetector): RequestTransform {
  const provider = PROVIDERS[request.format];
  let body = request.body;
  for (const obligation of decision.obligations) {
    if (obligation.kind === "max_tokens") body = provider.capTokens(body, obligation.limit);
  }
  return transformRequest(provider, body, transformRules(decision.obligations), vault, detect, classification.categories);
}

/** The reply filters' findings for the completion record (counts per type), when there were any. */
function replyFindings(summary: ReplySummary): { output?: ReplySummary } {
  const any = summary.restored > 0 || Object.keys(summary.redact).length > 0 || Object.keys(summary.stop).length > 0;
  return any ? { output: summary } : {};
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
  const asked = provider.parse(body.json);
  // Tools the caller may not use are taken out before anything else sees the request (tools/offer.ts).
  const environment = requestEnvironment(principal, c.req.raw, state.receivedAt);
  const offer = cutOffer(config, principal, environment, asked);
  const request = offer.request;
  // The tenant's own terms and patterns (registry tenants[].classifier) join the built-in detectors.
  const tenantRules = config.registry.tenants.get(principal.tenant)?.classifier;
  const classification = classify(request.texts, c.req.header(LABEL_HEADER) ?? null, tenantRules);
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
    ...(offer.removed.length > 0 ? { toolsRemoved: offer.removed } : {}),
  };
  if (offer.refusal) {
    await commit(sink, decisionRecord(state, principal, { ...baseFields, decision: "deny", code: offer.refusal.code, reasons: ["tool_choice names a tool the caller may not use"] }));
    throw offer.refusal;
  }

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
  // Tokenized values live in this vault, for this request only; the reply filters restore them.
  const vault = new TokenVault();
  const detect: TextDetector = (text) => detectText(text, tenantRules);
  const transform = applyObligations(request, decision, classification, vault, detect);
  const upstreamBody = transform.body;
  // Which transforms were applied, as counts per type (never values), for the decision record.
  const transformed = Object.keys(transform.applied).length > 0 ? { transforms: transform.applied } : {};
  if (Object.keys(transform.survivors).length > 0) {
    const refused = new GatewayError("redaction_incomplete", "after the transforms policy requires, the request still carried data policy does not allow to leave; nothing was sent");
    await commit(
      sink,
      decisionRecord(state, principal, {
        ...baseFields,
        decision: "deny",
        code: refused.code,
        resource: { type: "Backend", id: backend.id },
        reasons: decision.reasons,
        obligations: decision.obligations,
        ...transformed,
        survivors: transform.survivors,
      }),
    );
    throw refused;
  }
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
      ...transformed,
    }),
  );
  // Output scanning and detokenizing of the reply's text (worker/data/reply-filter.ts), one filter per block.
  const filters = replyFilters({ clearance: replyClearance(decision.obligations), tokens: vault, detect });

  // `retain:` obligations: the prompt is sealed into the tenant's vault before the upstream call, the reply as it passes.
  const retention = retentionFor(decision.obligations, {
    env: c.env,
    sink,
    requestId: state.requestId,
    receivedAt: state.receivedAt,
    tenant: { id: principal.tenant, jurisdiction: config.registry.tenants.get(principal.tenant)?.jurisdiction ?? "" },
    subject: principal.id,
    waitUntil: (promise) => c.executionCtx.waitUntil(promise),
  });

  let completed = false;
  const completion = (outcome: Partial<RelayOutcome> & { status: number; error?: string }) => {
    // One completion record per request: a reply the relay stopped is recorded there, not again here.
    if (completed) return;
    completed = true;
    if (outcome.pinViolation) workloadGate.markSuspect(backend);
    continuousOf(deps).observeUsage(c, sink, principal, (outcome.inputTokens ?? 0) + (outcome.outputTokens ?? 0));
    // Token budgets (worker/network): the call's tokens count against the principal's and tenant's.
    const limits = networkPlan(config.registry).tenants.get(principal.tenant)?.limits;
    if (limits) c.executionCtx.waitUntil(charge(c.env.RATE_LIMITER, principal, (outcome.inputTokens ?? 0) + (outcome.outputTokens ?? 0), limits, state.requestId));
    c.executionCtx.waitUntil(
      sink
        .commit({
          type: "completion",
          requestId: state.requestId,
          tenant: principal.tenant,
          time: new Date().toISOString(),
          backend: backend.id,
          ...outcome,
          ...replyFindings(filters.summary()),
        })
        .catch((error: unknown) => console.error(JSON.stringify({ event: "audit_completion_failed", requestId: state.requestId, error: String(error) }))),
    );
  };

  try {
    await retention.keepPrompt(body.bytes);
    // Authenticated hop (worker/network/hop.ts): the signed assertion and mTLS binding the backend asks for.
    const hop = await backendHop(c.env, backend, principal, {
      issuer: c.env.GATEWAY_ISSUER || DEFAULT_GATEWAY_ISSUER,
      requestId: state.requestId,
      configVersion: config.version,
      policyVersion: config.pdp.version,
      classification: classification.level,
      now: Date.now(),
    });
    const upstream = await egressFor(config)(`${backend.baseUrl}${provider.path}`, {
      method: "POST",
      headers: upstreamHeaders(c.req.raw.headers, { ...provider.credentials(apiKey, c.req.raw.headers), ...hop.headers }),
      body: JSON.stringify(upstreamBody),
      signal: c.req.raw.signal,
      timeoutMs: backend.timeoutMs,
      ...(hop.via ? { via: hop.via } : {}),
    });
    return retention.keepReply(await relayReply(provider, upstream, {
      stream: request.stream,
      requestId: state.requestId,
      timeoutMs: backend.timeoutMs,
      pin: { backendId: backend.id, requested: request.model, models: backend.models, ...(backend.systemFingerprints ? { systemFingerprints: backend.systemFingerprints } : {}) },
      replyFilter: filters,
      toolCalls: createProposalGate({ config, principal, environment, state, sink, offered: asked.tools }),
      done: completion,
    }));
  } catch (error) {
    const failure = asGatewayError(error);
    completion({ status: failure.status, stream: request.stream, error: failure.code });
    throw failure;
  }
}

