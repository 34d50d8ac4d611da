/**
 * The plane order for an AI request, as ARCHITECTURE.md draws it:
 *
 *   identity → network → parse → classify → policy + route → transform → workload → audit(decision)
 *   → upstream → stream back → audit(completion)
 *
 * Every step either extends the request's state or throws a GatewayError; a thrown error is a deny,
 * and every decision (allow or deny) is committed to the tenant's audit log before its effect.
 *
 * Fail-over (worker/routing.ts, worker/providers/failover.ts): when the upstream fails before anything
 * was relayed (unreachable, no headers in time, 5xx or 429), the next eligible route is tried with its
 * own decision, transforms and write-ahead decision record — inside the eligible set only, at most
 * MAX_ATTEMPTS calls within FAILOVER_BUDGET_MS. Once the reply is being relayed there is no retry.
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
  type PipelineDeps,
} from "./caller.ts";
import type { Classification, NormalizedRequest, Principal } from "./context.ts";
import type { AppEnv } from "./env.ts";
import {
  classify,
  detectText,
  LABEL_HEADER,
  replyClearance,
  replyFilters,
  TokenVault,
  transformRequest,
  transformRules,
  type ReplyFilters,
  type ReplySummary,
  type RequestTransform,
  type TextDetector,
} from "./data/index.ts";
import { retentionFor } from "./data/vault/index.ts";
import { asGatewayError, GatewayError } from "./errors.ts";
import { sha256Hex } from "./lib/encoding.ts";
import { placementIn } from "./lib/tenant-placement.ts";
import { backendHop, charge, networkPlan, readJsonBody, upstreamHeaders } from "./network/index.ts";
import { DEFAULT_GATEWAY_ISSUER, cutOffer, createProposalGate } from "./tools/index.ts";
import type { Decision, InvokeModelFacts } from "./policy/index.ts";
import {
  attemptTimeout,
  exhausted,
  failureOf,
  FAILOVER_BUDGET_MS,
  isolateHealth,
  MAX_ATTEMPTS,
  PROVIDERS,
  relayReply,
  retriableStatus,
  upstreamRefused,
  type FailedAttempt,
  type RelayOutcome,
} from "./providers/index.ts";
import { deniedCandidates, eligibleRoutes, refusal, type EligibleRoute } from "./routing.ts";
import { workloadGate, type Backend } from "./workload/index.ts";

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
  const health = deps.health ?? isolateHealth;
  const routes = eligibleRoutes(config, request, facts, health);
  let route = await routes.next();
  if (!route) {
    const refused = refusal(routes.denials);
    await commit(sink, decisionRecord(state, principal, { ...baseFields, decision: "deny", code: refused.code, facts, candidates: deniedCandidates(routes.denials) }));
    throw refused;
  }

  const detect: TextDetector = (text) => detectText(text, tenantRules);
  const tenant = { id: principal.tenant, jurisdiction: config.registry.tenants.get(principal.tenant)?.jurisdiction ?? "" };
  // Upstream attempts that failed before anything reached the caller (each one failed over).
  const failures: FailedAttempt[] = [];
  let lastFailure: GatewayError | undefined;
  let deadline = Number.POSITIVE_INFINITY;
  let promptKept = false;

  let completed = false;
  const completion = (backend: Backend, filters: ReplyFilters | undefined, outcome: Partial<RelayOutcome> & { status: number; error?: string }) => {
    // One completion record per request: a reply the relay stopped is recorded there, not again here.
    if (completed) return;
    completed = true;
    if (outcome.pinViolation) workloadGate.markSuspect(backend);
    continuousOf(deps).observeUsage(c, sink, principal, (outcome.inputTokens ?? 0) + (outcome.outputTokens ?? 0));
    // Token budgets (worker/network): the call's tokens count against the principal's and tenant's.
    const limits = networkPlan(config.registry).tenants.get(principal.tenant)?.limits;
    if (limits) c.executionCtx.waitUntil(charge(c.env.RATE_LIMITER, principal, (outcome.inputTokens ?? 0) + (outcome.outputTokens ?? 0), limits, state.requestId, placementIn(config.registry.tenants, c.env)));
    c.executionCtx.waitUntil(
      sink
        .commit({
          type: "completion",
          requestId: state.requestId,
          tenant: principal.tenant,
          time: new Date().toISOString(),
          backend: backend.id,
          ...outcome,
          ...(failures.length > 0 ? { failedAttempts: [...failures] } : {}),
          ...(filters ? replyFindings(filters.summary()) : {}),
        })
        .catch((error: unknown) => console.error(JSON.stringify({ event: "audit_completion_failed", requestId: state.requestId, error: String(error) }))),
    );
  };
  const failed = (backend: Backend, filters: ReplyFilters | undefined, error: unknown): GatewayError => {
    const failure = asGatewayError(error);
    completion(backend, filters, { status: failure.status, stream: request.stream, error: failure.code });
    return failure;
  };
  // Fail-over stays inside the eligible set, within the attempt cap and the time budget, and stops
  // when the caller has gone (worker/providers/failover.ts).
  const nextRoute = () => (failures.length < MAX_ATTEMPTS && Date.now() < deadline && !c.req.raw.signal.aborted ? routes.next() : Promise.resolve(undefined));

  // The last backend an upstream call was prepared for (the exhausted completion names it).
  let tried: Backend = route.backend;
  for (let attempt = 1; route; attempt++) {
    const { backend, decision, verdict } = route;
    const attemptFields = { attempt, ...(failures.length > 0 ? { failedAttempts: [...failures] } : {}) };
    const prepared = prepareAttempt(c.env, route, request, classification, detect);
    if (!prepared.ok) {
      await commit(sink, decisionRecord(state, principal, { ...baseFields, decision: "deny", code: prepared.refused.code, ...attemptFields, ...prepared.fields }));
      // The preferred route's refusal is the request's; a fail-over route's only ends that try.
      if (failures.length === 0) throw prepared.refused;
      route = await nextRoute();
      continue;
    }
    tried = backend;
    // Authenticated hop (worker/network/hop.ts): the signed assertion and mTLS binding the backend asks
    // for, prepared while the allow record commits, since it sends nothing out of the gateway. Only the
    // upstream call below uses it, after the commit; a failed commit denies and the assertion is dropped.
    const hopReady = backendHop(c.env, backend, principal, {
      issuer: c.env.GATEWAY_ISSUER || DEFAULT_GATEWAY_ISSUER,
      requestId: state.requestId,
      configVersion: config.version,
      policyVersion: config.pdp.version,
      classification: classification.level,
      now: Date.now(),
    });
    // Handled here so a refusal is not unhandled when the commit fails first; awaited, and thrown, below.
    hopReady.catch(() => undefined);
    // Write-ahead: each attempt's allow is durable before its upstream call (the first failed ones included).
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
        ...prepared.transformed,
        ...attemptFields,
      }),
    );
    // Output scanning and detokenizing of the reply's text (worker/data/reply-filter.ts), one filter per block.
    const filters = replyFilters({ clearance: replyClearance(decision.obligations), tokens: prepared.vault, detect });
    // `retain:` obligations: the prompt is sealed into the tenant's vault before the upstream call (once
    // per request, whichever attempt first owes it), the reply as it passes.
    const retention = retentionFor(decision.obligations, {
      env: c.env,
      sink,
      requestId: state.requestId,
      receivedAt: state.receivedAt,
      tenant,
      subject: principal.id,
      waitUntil: (promise) => c.executionCtx.waitUntil(promise),
    });

    let upstream: Response;
    try {
      // Not with the commit: sealing stores the prompt and logs it, and a sealed payload cannot be removed
      // on its own (the vault erases per subject), so none may exist for a request a failed commit denied.
      if (!promptKept) {
        await retention.keepPrompt(body.bytes);
        promptKept = decision.obligations.some((o) => o.kind === "retain" && o.what === "prompt");
      }
      const hop = await hopReady;
      health.attempting(backend);
      // The time budget runs from the first upstream call.
      if (deadline === Number.POSITIVE_INFINITY) deadline = Date.now() + FAILOVER_BUDGET_MS;
      upstream = await egressFor(config)(`${backend.baseUrl}${provider.path}`, {
        method: "POST",
        headers: upstreamHeaders(c.req.raw.headers, { ...provider.credentials(prepared.apiKey, c.req.raw.headers), ...hop.headers }),
        body: JSON.stringify(prepared.body),
        signal: c.req.raw.signal,
        timeoutMs: attemptTimeout(backend.timeoutMs, deadline, Date.now()),
        ...(hop.via ? { via: hop.via } : {}),
      });
    } catch (error) {
      const failure = failureOf(error);
      // A caller that went away is not the backend's failure; anything but a dead or silent upstream is no reason to fail over.
      if (!failure || c.req.raw.signal.aborted) throw failed(backend, filters, error);
      health.failed(backend);
      failures.push({ attempt, backend: backend.id, failure });
      lastFailure = asGatewayError(error);
      route = await nextRoute();
      continue;
    }
    if (retriableStatus(upstream.status)) {
      health.failed(backend);
      failures.push({ attempt, backend: backend.id, failure: "status", status: upstream.status });
      await upstream.body?.cancel().catch(() => undefined);
      lastFailure = upstreamRefused(upstream.status);
      route = await nextRoute();
      continue;
    }
    health.succeeded(backend);

    // From here the reply is the caller's: whatever happens while it is relayed, there is no retry.
    try {
      return retention.keepReply(
        await relayReply(provider, upstream, {
          stream: request.stream,
          requestId: state.requestId,
          timeoutMs: backend.timeoutMs,
          pin: { backendId: backend.id, requested: request.model, models: backend.models, ...(backend.systemFingerprints ? { systemFingerprints: backend.systemFingerprints } : {}) },
          replyFilter: filters,
          toolCalls: createProposalGate({ config, principal, environment, state, sink, offered: asked.tools, tokens: prepared.vault }),
          done: (outcome) => completion(backend, filters, outcome),
        }),
      );
    } catch (error) {
      throw failed(backend, filters, error);
    }
  }
  // No eligible backend answered. One attempt keeps its own error (as without fail-over); several say so.
  throw failed(tried, undefined, failures.length === 1 && lastFailure ? lastFailure : exhausted(failures));
}

/** What one attempt sends, or the refusal that stops it (with the fields of its deny record). */
type PreparedAttempt =
  | { ok: true; body: Record<string, unknown>; apiKey: string; vault: TokenVault; transformed: { transforms?: RequestTransform["applied"] } }
  | { ok: false; refused: GatewayError; fields: Record<string, unknown> };

/** The route's own obligations applied to the request (they differ per backend), and its credentials. */
function prepareAttempt(env: AppEnv["Bindings"], route: EligibleRoute, request: NormalizedRequest, classification: Classification, detect: TextDetector): PreparedAttempt {
  const { backend, decision } = route;
  const resource = { type: "Backend", id: backend.id };
  // Tokenized values live in this vault, for this attempt only; the reply filters restore them.
  const vault = new TokenVault();
  const transform = applyObligations(request, decision, classification, vault, detect);
  // Which transforms were applied, as counts per type (never values), for the decision record.
  const transformed = Object.keys(transform.applied).length > 0 ? { transforms: transform.applied } : {};
  if (Object.keys(transform.survivors).length > 0) {
    return {
      ok: false,
      refused: new GatewayError("redaction_incomplete", "after the transforms policy requires, the request still carried data policy does not allow to leave; nothing was sent"),
      fields: { resource, reasons: decision.reasons, obligations: decision.obligations, ...transformed, survivors: transform.survivors },
    };
  }
  try {
    return { ok: true, body: transform.body, apiKey: apiKeyFor(env, backend), vault, transformed };
  } catch (error) {
    return { ok: false, refused: asGatewayError(error), fields: { resource, reasons: ["backend credentials missing"] } };
  }
}
