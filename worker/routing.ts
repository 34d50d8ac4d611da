/**
 * Residency routing (plane "policy + route"): the eligible backends for one request, in the order they
 * are to be tried.
 *
 * A candidate serves the model and speaks the wire format. It is eligible when policy allows it for
 * this principal, classification and residency, with obligations this gateway can honour, and the
 * workload plane finds it fit (not suspect; attested where required). Candidates are tried by
 * preference, healthy ones first (worker/providers/health.ts): health orders the eligible set, it
 * never adds to it. Each eligible route carries its own decision and obligations, since they differ
 * per backend (redaction on the public tier, none on the confidential one).
 *
 * The set is walked lazily: the PDP and the workload plane are asked about the next candidate only
 * when the one before it was not eligible or failed, so the usual request asks once.
 */
import { egressFor, stepUpRequired } from "./caller.ts";
import type { NormalizedRequest } from "./context.ts";
import { FINDING_TYPES, knownCategory } from "./data/index.ts";
import { GatewayError } from "./errors.ts";
import { invokeModelRequest, type Decision, type InvokeModelFacts, type Obligation } from "./policy/index.ts";
import type { BackendHealth } from "./providers/health.ts";
import { workloadGate, type Backend, type GatewayConfig, type WorkloadVerdict } from "./workload/index.ts";

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

/** A candidate that was not eligible, and why. */
export interface Denial {
  backend: Backend;
  decision: Decision;
  /** Obligations of an allow that this gateway cannot honour (which made the allow unusable). */
  unhonoured: Obligation[];
  /** The workload plane's refusal of a backend policy allowed (suspect, or no valid attestation). */
  workload?: Extract<WorkloadVerdict, { eligible: false }>;
}

/** An eligible backend with its own decision (and the workload plane's verdict, attestation included). */
export interface EligibleRoute {
  backend: Backend;
  decision: Decision;
  verdict: Extract<WorkloadVerdict, { eligible: true }>;
}

export interface EligibleRoutes {
  /** The next eligible backend in order, or undefined when none is left. */
  next(): Promise<EligibleRoute | undefined>;
  /** The candidates found ineligible so far (all of them, once `next` returned undefined). */
  readonly denials: readonly Denial[];
}

export function eligibleRoutes(
  config: GatewayConfig,
  request: NormalizedRequest,
  facts: Omit<InvokeModelFacts, "backend">,
  health: BackendHealth,
): EligibleRoutes {
  const candidates = config.registry.backends.filter((b) => b.models.includes(request.model) && b.wireFormats.includes(request.format));
  if (candidates.length === 0) {
    throw new GatewayError("model_not_found", `the model "${request.model}" does not exist or is not offered on this API`);
  }
  // The registry lists backends by preference; health moves the unhealthy ones to the end.
  const ordered = health.order(candidates);
  const denials: Denial[] = [];
  let index = 0;
  return {
    denials,
    async next() {
      while (index < ordered.length) {
        const backend = ordered[index++]!;
        const decision = config.pdp.decide(invokeModelRequest({ ...facts, backend: backend.id }));
        const unhonoured = decision.effect === "allow" ? decision.obligations.filter((o) => !honourable(o, backend)) : [];
        if (decision.effect !== "allow" || unhonoured.length > 0) {
          denials.push({ backend, decision, unhonoured });
          continue;
        }
        const verdict = await workloadGate.check(backend, egressFor(config));
        if (verdict.eligible) return { backend, decision, verdict };
        denials.push({ backend, decision, unhonoured, workload: verdict });
      }
      return undefined;
    },
  };
}

/** Why no candidate was eligible: the most specific refusal the denials support. */
export function refusal(denials: readonly Denial[]): GatewayError {
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

/** The deny record's candidates: every candidate's own decision, so replay can re-evaluate each one. */
export function deniedCandidates(denials: readonly Denial[]) {
  return denials.map(({ backend, decision, unhonoured, workload }) => ({
    resource: { type: "Backend", id: backend.id },
    effect: decision.effect,
    reasons: decision.reasons,
    errors: decision.errors,
    obligations: decision.obligations,
    unhonoured,
    ...(workload ? { workload: { code: workload.code, reason: workload.reason, detail: workload.detail } } : {}),
    entitySlice: decision.entitySlice,
  }));
}
