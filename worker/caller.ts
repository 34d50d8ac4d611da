/**
 * The steps every authenticated route shares: the configuration in force, the caller's identity,
 * the environment facts every PDP question carries, and committing decisions to the audit log.
 */
import type { Context } from "hono";
import type { Principal, RequestState } from "./context.ts";
import type { AppEnv } from "./env.ts";
import { asGatewayError, GatewayError } from "./errors.ts";
import type { Authenticate } from "./identity/index.ts";
import { placementIn } from "./lib/tenant-placement.ts";
import { admit, createEgress, identityHeaders, LimitedError, networkPlan, originRefusal, segmentRefusal, type Egress } from "./network/index.ts";
import { AUTH_AGE_UNKNOWN, tenantActionRequest, type Obligation, type PrincipalRef, type RequestEnvironment, type TenantActionFacts } from "./policy/index.ts";
import type { BackendHealth } from "./providers/health.ts";
import type { AuditRecord, AuditSink } from "./verify/index.ts";
import { createContinuousVerification, type ContinuousVerification } from "./verify/risk/index.ts";
import type { ConfigAudit, ConfigSource, GatewayConfig, Tenant } from "./workload/index.ts";

export interface PipelineDeps {
  config: ConfigSource;
  authenticate: Authenticate;
  audit: (env: AppEnv["Bindings"]) => AuditSink;
  /** Revocation and risk (plane 6); tests pass one with options of their own. Default: one per isolate. */
  continuous?: ContinuousVerification;
  /** Backend health for fail-over ordering (worker/providers/health.ts); tests pass their own. Default: one per isolate. */
  health?: BackendHealth;
}

const isolateContinuous = createContinuousVerification();

export function continuousOf(deps: PipelineDeps): ContinuousVerification {
  return deps.continuous ?? isolateContinuous;
}

/** Where refusals of callers that proved no identity are recorded (no tenant is known for them). */
export const UNAUTHENTICATED_LOG = "_unauthenticated";

/** Where the configuration source's verdicts on signed bundles (put in force, refused) are recorded. */
export const CONFIG_LOG = "_config";

/** Records a bundle verdict in the `_config` log, under the id of the request that triggered the load. */
export function configAudit(sink: () => AuditSink, state: RequestState): ConfigAudit {
  return async function auditConfigEvent(event) {
    await sink().commit({ requestId: state.requestId, tenant: CONFIG_LOG, time: new Date(Date.now()).toISOString(), ...event });
  };
}

const egressByConfig = new WeakMap<GatewayConfig, Egress>();

/** One egress firewall per configuration version: its allowlist is the registry's origins. */
export function egressFor(config: GatewayConfig): Egress {
  let egress = egressByConfig.get(config);
  if (!egress) {
    egress = createEgress(config.registry.origins, { bounds: networkPlan(config.registry).bounds });
    egressByConfig.set(config, egress);
  }
  return egress;
}

/**
 * The principal as the PDP sees it. Groups its credential asserted are tenant-scoped names, so they
 * become the tenant's group entities (`acme/members`): an issuer can never place a principal in a
 * global role group (`auditors`) or another tenant's group by naming it.
 */
export function principalRef(principal: Principal): PrincipalRef {
  const ref: PrincipalRef = { type: principal.kind === "user" ? "User" : "Workload", id: principal.id };
  return principal.groups.length === 0 ? ref : { ...ref, groups: principal.groups.map((group) => `${principal.tenant}/${group}`) };
}

/** What every PDP question carries about the caller and where the request came from. */
export function requestEnvironment(principal: Principal, raw: Request, now: number): RequestEnvironment {
  const cf = (raw as Request & { cf?: { country?: unknown; continent?: unknown } }).cf;
  const { authn } = principal;
  return {
    authn: {
      method: authn.method,
      mfa: authn.mfa,
      acr: authn.acr,
      binding: authn.binding,
      authAge: authn.authTime === undefined ? AUTH_AGE_UNKNOWN : Math.max(0, Math.floor(now / 1000) - authn.authTime),
    },
    // Not assessed (no path through authenticateCaller) is treated as the worst case: fail closed.
    risk: principal.risk ?? "high",
    geo: {
      country: typeof cf?.country === "string" ? cf.country : "",
      continent: typeof cf?.continent === "string" ? cf.continent : "",
    },
  };
}

export function decisionRecord(state: RequestState, principal: Principal | undefined, fields: Record<string, unknown>): AuditRecord {
  return {
    type: "decision",
    requestId: state.requestId,
    tenant: principal?.tenant ?? UNAUTHENTICATED_LOG,
    time: new Date(state.receivedAt).toISOString(),
    principal: principal
      ? {
          kind: principal.kind,
          id: principal.id,
          clientId: principal.clientId ?? null,
          method: principal.authn.method,
          issuer: principal.authn.issuer,
          binding: principal.authn.binding,
          sessionId: principal.sessionId ?? null,
        }
      : null,
    actor: principal?.actor ?? null,
    delegation: principal?.delegation ?? null,
    ...fields,
  };
}

/**
 * RFC 9470: a deny that a `step_up` obligation came with is answered 401
 * `insufficient_user_authentication` with the `acr_values` (and `max_age`) the policy named, so the
 * client can log the user in more strongly and retry; undefined when no denial asks for it.
 */
export function stepUpRequired(obligations: Iterable<Obligation>): GatewayError | undefined {
  for (const obligation of obligations) {
    if (obligation.kind !== "step_up") continue;
    return new GatewayError("insufficient_user_authentication", "a stronger authentication is required for this request", {
      challenge: { error: "insufficient_user_authentication", acrValues: obligation.acr, ...(obligation.maxAge ? { maxAge: obligation.maxAge } : {}) },
    });
  }
  return undefined;
}

/** Commits a decision before its effect; when the log cannot commit, the request is refused. */
export async function commit(sink: AuditSink, record: AuditRecord): Promise<void> {
  try {
    await sink.commit(record);
  } catch (cause) {
    throw new GatewayError("audit_unavailable", "the audit log is unavailable, so the request was refused", { cause });
  }
}

/** Authenticates the caller; a refusal is audited (in the unauthenticated log) before it is returned. */
export async function authenticateCaller(c: Context<AppEnv>, deps: PipelineDeps): Promise<{ config: GatewayConfig; principal: Principal }> {
  const state = c.var.state;
  const config = await deps.config.current(c.env, configAudit(() => deps.audit(c.env), state));
  let identified: Principal;
  try {
    const raw = c.req.raw;
    const principal = await deps.authenticate(
      // Header hygiene: identity sees the credential headers only, never a forwarded or asserted identity.
      { headers: identityHeaders(raw.headers), method: raw.method, url: raw.url, cf: (raw as Request & { cf?: unknown }).cf },
      config.registry,
      { fetch: egressFor(config), cache: c.env.CACHE, replay: c.env.REPLAY_CACHE },
    );
    state.principal = principal;
    identified = principal;
  } catch (error) {
    const refusal = asGatewayError(error);
    await commit(
      deps.audit(c.env),
      decisionRecord(state, undefined, { action: "authenticate", decision: "deny", code: refusal.code, reason: refusal.message, configVersion: config.version }),
    ).catch(() => undefined);
    throw refusal;
  }
  return { config, principal: await admitCaller(c, deps, config, identified) };
}

/**
 * The network plane's checks of an identified caller (worker/network): the route segment and browser
 * origin its tenant allows it (pure), then its abuse limits (one RateLimiter call, in parallel with
 * continuous verification). Each refusal is audited in the tenant's log before it is returned.
 */
async function admitCaller(c: Context<AppEnv>, deps: PipelineDeps, config: GatewayConfig, principal: Principal): Promise<Principal> {
  const state = c.var.state;
  const refused = async (refusal: GatewayError, who: Principal, extra: Record<string, unknown> = {}) => {
    await commit(
      deps.audit(c.env),
      decisionRecord(state, who, { action: "admit", decision: "deny", code: refusal.code, reason: refusal.message, configVersion: config.version, ...extra }),
    ).catch(() => undefined);
    return refusal;
  };
  const network = networkPlan(config.registry).tenants.get(principal.tenant);
  if (!network) throw await refused(new GatewayError("forbidden", "the principal's tenant is not configured"), principal);
  const early = segmentRefusal(c.req.path, principal.kind, network.segments) ?? originRefusal(c.req.raw, network.corsOrigins);
  if (early) throw await refused(early, principal);
  const [assessed, admitted] = await Promise.allSettled([assessCaller(c, deps, config, principal), admit(c.env.RATE_LIMITER, principal, network.limits, placementIn(config.registry.tenants, c.env))]);
  if (assessed.status === "rejected") throw assessed.reason;
  if (admitted.status === "rejected") {
    const refusal = asGatewayError(admitted.reason);
    // The risk engine sees a throttled request (worker/verify/risk observeRequests).
    if (refusal instanceof LimitedError) state.limited = refusal.refusal.limit;
    throw await refused(refusal, assessed.value, refusal instanceof LimitedError ? { limit: refusal.refusal } : {});
  }
  return assessed.value;
}

/**
 * Continuous verification of an identified caller: a revoked session, token or principal is refused
 * (401), and the principal's risk level joins it for this request. A refusal is audited in the
 * tenant's log, since the principal is known.
 */
async function assessCaller(c: Context<AppEnv>, deps: PipelineDeps, config: GatewayConfig, principal: Principal): Promise<Principal> {
  const state = c.var.state;
  try {
    const assessed = await continuousOf(deps).assess(principal, c.env);
    state.principal = assessed;
    return assessed;
  } catch (error) {
    const refusal = asGatewayError(error);
    await commit(
      deps.audit(c.env),
      decisionRecord(state, principal, { action: "authenticate", decision: "deny", code: refusal.code, reason: refusal.message, configVersion: config.version }),
    ).catch(() => undefined);
    throw refusal;
  }
}

/** Why a tenant action is refused before and after the PDP, in the route's own words. */
export interface TenantActionRefusals {
  notPerson: string;
  notAllowed: string;
}

/**
 * The tenant of the route (`:tenant`) on which an authenticated person may take a tenant action
 * (`read_audit` on its log, `administer` its configuration): a PDP decision, committed to the audit
 * log with `fields` and the facts asked about (so `audit replay` can re-ask), allow or deny. Refusals
 * before the PDP (no such tenant, not a person) are recorded all the same. Throws on any refusal.
 */
export async function authorizeTenantAction(
  c: Context<AppEnv>,
  deps: PipelineDeps,
  { config, principal }: { config: GatewayConfig; principal: Principal },
  action: "read_audit" | "administer",
  fields: Record<string, unknown>,
  refusals: TenantActionRefusals,
): Promise<Tenant> {
  const state = c.var.state;
  const sink = deps.audit(c.env);
  const tenantId = c.req.param("tenant") ?? "";
  const resource = { type: "Tenant", id: tenantId };
  const tenant = config.registry.tenants.get(tenantId);
  const refuse = async (refusal: GatewayError): Promise<never> => {
    await commit(sink, decisionRecord(state, principal, { action, ...fields, resource, decision: "deny", code: refusal.code, configVersion: config.version }));
    throw refusal;
  };
  if (tenant === undefined) return refuse(new GatewayError("not_found", "no such tenant"));
  if (principal.kind !== "user") return refuse(new GatewayError("forbidden", refusals.notPerson));
  const facts: TenantActionFacts = {
    ...requestEnvironment(principal, c.req.raw, state.receivedAt),
    principal: { ...principalRef(principal), type: "User" },
    tenant: tenant.id,
  };
  const decision = config.pdp.decide(tenantActionRequest(action, facts));
  await commit(
    sink,
    decisionRecord(state, principal, {
      action,
      ...fields,
      resource,
      decision: decision.effect,
      reasons: decision.reasons,
      errors: decision.errors,
      obligations: decision.obligations,
      policyVersion: decision.policyVersion,
      configVersion: config.version,
      facts,
      entitySlice: decision.entitySlice,
    }),
  );
  if (decision.effect !== "allow") throw stepUpRequired(decision.obligations) ?? new GatewayError("policy_denied", refusals.notAllowed);
  return tenant;
}
