/**
 * Continuous verification of a principal, the risk and revocation part of plane 6. The pipeline
 * calls `assess` before any decision (revocation, then the risk level that enters every PDP context)
 * and reports each request and its usage afterwards (`observeRequest`, `observeUsage`), off the
 * request path (`waitUntil`). The Shared Signals route applies transmitters' events with `apply`.
 *
 * Cost on the request path, and the trade-off behind it:
 * - Revocation is asked of the tenant's `Revocations` object on every request, never cached, so a
 *   revoked session is refused on the next request in every isolate.
 * - The risk level is read from the principal's `RiskEngine` at most once per RISK_CACHE_MS per
 *   isolate (in parallel with the revocation check), and this isolate's own observations refresh it
 *   at once. So another isolate's raise to `medium` reaches this one within RISK_CACHE_MS. A raise
 *   to `high` does not wait for that: it also revokes the session, which every isolate sees at once.
 *
 * Both objects are the tenant's (worker/lib/tenant-placement.ts): created in its jurisdiction when
 * `jurisdictionOf` is given (worker/index.ts gives it; tests without it address them by name alone).
 * Both are keyed by the principal's kind and id (principal-key.ts), so a user and a workload sharing
 * an id share neither a baseline nor a revocation.
 */
import type { Context } from "hono";
import type { Principal } from "../../context.ts";
import type { AppEnv, Env } from "../../env.ts";
import { GatewayError } from "../../errors.ts";
import { tenantId, type TenantPlacement } from "../../lib/tenant-placement.ts";
import type { AuditSink } from "../sink.ts";
import { riskEngineName } from "./principal-key.ts";
import type { RiskUpdate } from "./risk-engine.ts";
import type { Revocation, Revoked } from "./revocations.ts";
import type { Observation, Place, RiskLevel } from "./score.ts";
import { ASSERTION_TTL_MS, type SignalAction } from "./signals.ts";

export { RiskEngine, type RiskChange, type RiskUpdate, SqlRiskStore } from "./risk-engine.ts";
export { Revocations, type Revocation, type RevocationQuery, type Revoked, RETENTION_SECONDS, REVOCATION_SCHEMA_VERSION, SqlRevocationStore } from "./revocations.ts";
export { DEFAULT_TUNING, emptyState, impossibleTravel, observe, type Observation, type RiskLevel, type RiskState } from "./score.ts";
export { planSignal, type SignalAction, type SignalPlan } from "./signals.ts";
export { isPrincipalIdentity, type PrincipalIdentity, principalKey, riskEngineName } from "./principal-key.ts";
export {
  EVENT_TYPES,
  type HeldJti,
  type JtiClaim,
  MAX_SET_CHARS,
  SET_TYPE,
  SetCheckUnavailable,
  SetRefusal,
  type SetErrorCode,
  type SetVerifier,
  type VerifiedSet,
  verifySet,
} from "./set.ts";

/** The bindings continuous verification uses. */
export type ContinuousBindings = Pick<Env, "RISK" | "REVOCATIONS" | "DO_JURISDICTIONS">;

export interface ContinuousOptions {
  /**
   * A tenant's jurisdiction (from the configuration in force): its `Revocations` and its principals'
   * `RiskEngine`s are created there when `DO_JURISDICTIONS` is on. Absent, they are addressed by name alone.
   */
  jurisdictionOf?: TenantPlacement["jurisdictionOf"];
  /** How long an isolate reuses a principal's risk level (ms); 0 reads it on every request. */
  riskCacheMs?: number;
  /** Principals whose level an isolate keeps; the oldest entry goes first beyond this. */
  riskCacheSize?: number;
  now?: () => number;
}

/** Two seconds: a medium raised in another isolate is honoured here within 2 s (see the header). */
export const RISK_CACHE_MS = 2000;

function refusedFor(revoked: Exclude<Revoked, undefined>): GatewayError {
  const challenge = { error: "invalid_token" as const };
  if (revoked === "token") return new GatewayError("token_revoked", "the access token has been revoked", { challenge });
  return new GatewayError("session_revoked", "the session has ended; sign in again", { challenge });
}

function placeOf(raw: Request): Place {
  const cf = (raw as Request & { cf?: Record<string, unknown> }).cf ?? {};
  const number = (value: unknown) => (typeof value === "number" ? value : typeof value === "string" && value !== "" ? Number(value) : NaN);
  const latitude = number(cf.latitude);
  const longitude = number(cf.longitude);
  const asn = number(cf.asn);
  return {
    ...(typeof cf.country === "string" && cf.country !== "" ? { country: cf.country.slice(0, 8) } : {}),
    ...(Number.isInteger(asn) ? { asn } : {}),
    ...(Number.isFinite(latitude) && Number.isFinite(longitude) ? { latitude, longitude } : {}),
  };
}

export function createContinuousVerification(options: ContinuousOptions = {}) {
  const now = options.now ?? Date.now;
  const jurisdictionOf = options.jurisdictionOf;
  const placement = (env: ContinuousBindings): TenantPlacement | undefined => (jurisdictionOf ? { vars: env, jurisdictionOf } : undefined);
  // Ids, not stubs, come out of these (see tenantId); each call site then takes the stub synchronously.
  const riskEngineId = (env: ContinuousBindings, principal: Pick<Principal, "tenant" | "kind" | "id">) =>
    tenantId(env.RISK, riskEngineName(principal), principal.tenant, placement(env));
  const revocationsId = (env: ContinuousBindings, tenant: string) => tenantId(env.REVOCATIONS, tenant, tenant, placement(env));
  const cacheMs = options.riskCacheMs ?? RISK_CACHE_MS;
  const cacheSize = options.riskCacheSize ?? 10_000;
  const levels = new Map<string, { level: RiskLevel; until: number }>();

  function remember(name: string, level: RiskLevel): void {
    if (cacheMs === 0) return;
    levels.delete(name);
    if (levels.size >= cacheSize) levels.delete(levels.keys().next().value!);
    levels.set(name, { level, until: now() + cacheMs });
  }

  async function riskLevel(env: ContinuousBindings, principal: Principal): Promise<RiskLevel> {
    const name = riskEngineName(principal);
    const cached = levels.get(name);
    if (cached && cached.until > now()) return cached.level;
    let level: RiskLevel;
    try {
      ({ level } = await env.RISK.get(await riskEngineId(env, principal)).level());
    } catch (cause) {
      throw new GatewayError("risk_unavailable", "the risk of this request could not be assessed, so it was refused", { cause });
    }
    remember(name, level);
    return level;
  }

  async function revoked(env: ContinuousBindings, principal: Principal): Promise<Revoked> {
    const { authn } = principal;
    try {
      return await env.REVOCATIONS.get(await revocationsId(env, principal.tenant)).check({
        principal: { kind: principal.kind, id: principal.id },
        ...(principal.sessionId !== undefined ? { sessionId: principal.sessionId } : {}),
        ...(authn.tokenId !== undefined ? { tokenId: authn.tokenId } : {}),
        ...(authn.authTime !== undefined ? { authenticatedAt: authn.authTime } : authn.issuedAt !== undefined ? { authenticatedAt: authn.issuedAt } : {}),
      });
    } catch (cause) {
      throw new GatewayError("revocation_unavailable", "the session could not be checked for revocation, so the request was refused", { cause });
    }
  }

  async function revoke(env: ContinuousBindings, tenant: string, revocation: Revocation): Promise<void> {
    await env.REVOCATIONS.get(await revocationsId(env, tenant)).revoke(revocation);
  }

  /** A raise to high ends the session it was seen on (or the token, or the principal's current logins). */
  function endSession(env: ContinuousBindings, principal: Principal): Promise<void> {
    const reason = "risk:high";
    if (principal.sessionId !== undefined) return revoke(env, principal.tenant, { kind: "session", sessionId: principal.sessionId, reason });
    if (principal.authn.tokenId !== undefined) {
      return revoke(env, principal.tenant, { kind: "token", tokenId: principal.authn.tokenId, expiresAt: principal.authn.expiresAt, reason });
    }
    return revoke(env, principal.tenant, { kind: "principal", principal: { kind: principal.kind, id: principal.id }, notBefore: Math.floor(now() / 1000), reason });
  }

  /** Audits a change of level in the tenant's log, then ends the session when it reached high. */
  async function changed(env: ContinuousBindings, sink: AuditSink, principal: Principal, requestId: string, update: RiskUpdate, source: string): Promise<void> {
    const change = update.change;
    if (!change) return;
    const results = await Promise.allSettled([
      sink.commit({
        type: "risk",
        requestId,
        tenant: principal.tenant,
        time: new Date(now()).toISOString(),
        principal: { kind: principal.kind, id: principal.id, sessionId: principal.sessionId ?? null },
        previous: change.previous,
        level: change.level,
        reasons: change.reasons,
        source,
        action: change.level === "high" ? "end_session" : "none",
      }),
      // Not conditional on the audit: ending a session only ever tightens access.
      change.level === "high" ? endSession(env, principal) : Promise.resolve(),
    ]);
    for (const result of results) {
      if (result.status === "rejected") console.error(JSON.stringify({ event: "risk_change_failed", requestId, error: String(result.reason) }));
    }
  }

  async function report(env: ContinuousBindings, sink: AuditSink, principal: Principal, requestId: string, observations: Observation[]): Promise<void> {
    try {
      const update = await env.RISK.get(await riskEngineId(env, principal)).observe(observations);
      remember(riskEngineName(principal), update.level);
      await changed(env, sink, principal, requestId, update, observations.map((o) => o.kind).join("+"));
    } catch (error) {
      console.error(JSON.stringify({ event: "risk_observation_failed", requestId, error: String(error) }));
    }
  }

  return {
    /**
     * Before any decision: refuses a revoked session, token or principal (401) and returns the
     * principal with this request's risk level. Fails closed: an object that cannot answer refuses.
     */
    async assess(principal: Principal, env: ContinuousBindings): Promise<Principal> {
      const [revocation, level] = await Promise.allSettled([revoked(env, principal), riskLevel(env, principal)]);
      if (revocation.status === "rejected") throw revocation.reason;
      if (revocation.value !== undefined) throw refusedFor(revocation.value);
      if (level.status === "rejected") throw level.reason;
      return { ...principal, risk: level.value };
    },

    /**
     * After the response (Hono middleware): reports an assessed request to its principal's engine
     * in `waitUntil`. A refusal the risk level itself caused is not counted as a deny, or an
     * elevated level would feed itself.
     */
    observeRequests(audit: (env: Env) => AuditSink) {
      return async function observeRisk(c: Context<AppEnv>, next: () => Promise<void>): Promise<void> {
        await next();
        const state = c.var.state;
        const principal = state.principal;
        if (principal?.risk === undefined) return;
        const status = c.res.status;
        const observations: Observation[] = [
          {
            kind: "request",
            at: state.receivedAt,
            denied: principal.risk === "low" && (status === 401 || status === 403),
            ...(state.limited ? { limited: true } : {}),
            ...(state.observed ? { level: state.observed.level } : {}),
            tools: state.observed?.tools ?? [],
            place: placeOf(c.req.raw),
          },
        ];
        // A whole reply's usage is known by now (`observeUsage` kept it): one round trip for both.
        if (state.pendingUsage !== undefined) observations.push({ kind: "usage", at: state.receivedAt, tokens: state.pendingUsage });
        state.requestObserved = true;
        c.executionCtx.waitUntil(report(c.env, audit(c.env), principal, state.requestId, observations));
      };
    },

    /** Tokens a model call consumed, reported when its completion is known. */
    observeUsage(c: Context<AppEnv>, sink: AuditSink, principal: Principal, tokens: number): void {
      if (!(tokens > 0)) return;
      const state = c.var.state;
      // Before the response has left (a whole reply), the request's own observation carries it.
      if (!state.requestObserved) {
        state.pendingUsage = tokens;
        return;
      }
      c.executionCtx.waitUntil(report(c.env, sink, principal, state.requestId, [{ kind: "usage", at: now(), tokens }]));
    },

    /** Applies one action of a Shared Signals event. */
    async apply(env: ContinuousBindings, action: SignalAction, source: string): Promise<RiskUpdate | undefined> {
      if (action.kind === "revoke") {
        await revoke(env, action.tenant, action.revocation);
        return undefined;
      }
      const principal = { tenant: action.tenant, ...action.principal };
      const update = await env.RISK.get(await riskEngineId(env, principal)).assert(action.level, source, action.reason, ASSERTION_TTL_MS, action.at);
      remember(riskEngineName(principal), update.level);
      return update;
    },
  };
}

export type ContinuousVerification = ReturnType<typeof createContinuousVerification>;
