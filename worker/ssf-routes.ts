/**
 * `POST /ssf/events`: the Shared Signals receiver (SSF 1.0, push delivery RFC 8935). A trusted
 * transmitter (the registry's `transmitters`) pushes one Security Event Token (RFC 8417) per request;
 * the receiver verifies it (set.ts), works out what it asks for (signals.ts), records that in each
 * affected tenant's audit log and then applies it: revocations take effect on the next request
 * everywhere, risk assertions enter the principal's risk engine.
 *
 * Answers per RFC 8935 §2.2–2.4: 202 with an empty body once the event is in force (the transmitter
 * may forget it); 400 with `{"err","description"}` for a SET that is refused, a replay included
 * (`invalid_request`: resending it cannot help). A fault on this side (audit log, replay cache or
 * revocation store unavailable) is a 503 with `Retry-After` (RFC 8935 §2.4: a general HTTP error), so
 * the transmitter sends the same SET again later.
 *
 * Exactly-once effect. The SET's `jti` is held (ReplayCache `ssf <transmitter>`) before anything is
 * recorded or applied, settled only once every action is in force, and released when any step fails:
 * - a retry after a failed apply finds the jti free and is applied;
 * - a retry after a successful apply finds it settled: 400 replayed;
 * - a concurrent delivery finds it held: 503, so it is retried, and then is a replay or, if the
 *   first delivery failed, applied. The hold is one SQLite statement, so two deliveries never both hold it.
 * A delivery that dies between hold and settle leaves a lease (SET_HOLD_SECONDS) that lapses, after
 * which a retry is applied again; so is a delivery whose apply failed half-way. Is applying twice
 * safe? Revocations: yes, they are upserts and a principal's line only ever moves forward. Risk
 * assertions: a transmitter's level is last-writer-wins, so a duplicate landing after a newer event
 * would undo it; the engine therefore orders assertions by the event's time and ignores older ones
 * (risk-engine.ts), and a true duplicate only re-extends the same level's hold. The hold still keeps
 * duplicates from being recorded and applied twice in the normal case; the remaining edge, an apply
 * slower than the lease and overtaken by a retry, is logged (`ssf_hold_lapsed`).
 */
import type { Context } from "hono";
import { commit, configAudit, continuousOf, decisionRecord, egressFor, type PipelineDeps } from "./caller.ts";
import type { AppEnv, Env } from "./env.ts";
import { GatewayError } from "./errors.ts";
import { createKeySets } from "./identity/index.ts";
import { readBoundedBody } from "./network/index.ts";
import type { Transmitter } from "./workload/index.ts";
import {
  type JtiClaim,
  MAX_SET_CHARS,
  planSignal,
  principalKey,
  SetRefusal,
  type SignalAction,
  type SignalPlan,
  type VerifiedSet,
  verifySet,
} from "./verify/risk/index.ts";

const SET_MEDIA_TYPE = "application/secevent+jwt";

/** How long one delivery may hold a jti while it records and applies the event (seconds). */
export const SET_HOLD_SECONDS = 30;

/** What a 503 asks of the transmitter (RFC 9110 §10.2.3): a few seconds, the time a hold usually needs. */
const RETRY_AFTER = { "retry-after": "5" };

/** An action as the audit record states it. */
function describe(action: SignalAction): Record<string, string | number> {
  if (action.kind === "risk") return { risk: action.level, principal: principalKey(action.principal) };
  const r = action.revocation;
  if (r.kind === "session") return { revoke: "session", sessionId: r.sessionId };
  if (r.kind === "token") return { revoke: "token", tokenId: r.tokenId };
  return { revoke: "principal", principal: principalKey(r.principal), notBefore: r.notBefore };
}

function refused(c: Context<AppEnv>, refusal: SetRefusal): Response {
  return c.json({ err: refusal.err, description: refusal.message }, 400);
}

/** A fault on this side, answered so the transmitter retries. */
function retryLater(error: unknown, message: string): GatewayError {
  if (error instanceof GatewayError) return new GatewayError(error.code, error.message, { cause: error.cause, headers: { ...error.headers, ...RETRY_AFTER } });
  return new GatewayError("revocation_unavailable", message, { cause: error, headers: RETRY_AFTER });
}

/** The transmitter's jti store, as the two-step claim verifySet needs (see the header). */
async function claimJti(env: Pick<Env, "REPLAY_CACHE">, transmitter: Transmitter, jti: string, keepUntil: number): Promise<JtiClaim> {
  const cache = env.REPLAY_CACHE.get(env.REPLAY_CACHE.idFromName(`ssf ${transmitter.id}`));
  const hold = await cache.hold(jti, Math.min(keepUntil, Date.now() / 1000 + SET_HOLD_SECONDS));
  if (hold.state !== "held") return { state: hold.state };
  const holder = hold.holder;
  return {
    state: "first",
    settle: () => cache.settle(jti, holder, keepUntil),
    release: () => cache.release(jti, holder),
  };
}

export function createSsfReceiver(deps: PipelineDeps) {
  // The identity plane's key-set cache (memory, then KV), with its own instance for transmitters' keys.
  const keySets = createKeySets({ refetchCooldownMs: 30_000, maxAgeMs: 10 * 60_000 });

  /** Write-ahead: each affected tenant's log holds the event and what it asks before anything changes. */
  async function recordAndApply(c: Context<AppEnv>, set: VerifiedSet, plan: SignalPlan): Promise<void> {
    const state = c.var.state;
    const sink = deps.audit(c.env);
    for (const tenant of plan.tenants) {
      await commit(sink, {
        type: "security_event",
        requestId: state.requestId,
        tenant,
        time: new Date(state.receivedAt).toISOString(),
        transmitter: set.transmitter.id,
        jti: set.jti,
        event: set.eventUri,
        subject: plan.subject,
        actions: plan.actions.filter((a) => a.tenant === tenant).map(describe),
      });
    }
    const continuous = continuousOf(deps);
    const source = `ssf:${set.transmitter.id}`;
    for (const action of plan.actions) {
      const update = await continuous.apply(c.env, action, source);
      if (update?.change && action.kind === "risk") {
        await commit(sink, {
          type: "risk",
          requestId: state.requestId,
          tenant: action.tenant,
          time: new Date().toISOString(),
          principal: { kind: action.principal.kind, id: action.principal.id, sessionId: plan.subject.sessionId ?? null },
          previous: update.change.previous,
          level: update.change.level,
          reasons: update.change.reasons,
          source,
          action: "none",
        }).catch(() => undefined);
      }
    }
  }

  return async function receiveSecurityEvent(c: Context<AppEnv>): Promise<Response> {
    const state = c.var.state;
    const sink = deps.audit(c.env);
    const config = await deps.config.current(c.env, configAudit(() => deps.audit(c.env), state));
    const audited = async (refusal: SetRefusal): Promise<Response> => {
      await commit(
        sink,
        decisionRecord(state, undefined, { action: "receive_security_event", decision: "deny", code: refusal.err, reason: refusal.reason, configVersion: config.version }),
      ).catch(() => undefined);
      return refused(c, refusal);
    };

    const mediaType = (c.req.header("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
    if (mediaType !== SET_MEDIA_TYPE) return audited(new SetRefusal("malformed", `the body must be ${SET_MEDIA_TYPE} (RFC 8935 §2.2)`));
    // Bounded while it streams: a chunked body without Content-Length cannot make the receiver buffer more.
    let body: Uint8Array;
    try {
      body = await readBoundedBody(c.req.raw, MAX_SET_CHARS);
    } catch (error) {
      if (error instanceof GatewayError && error.code === "payload_too_large") return audited(new SetRefusal("malformed", "the SET is too large"));
      if (error instanceof GatewayError) return audited(new SetRefusal("malformed", "the request has no SET"));
      throw error;
    }
    const token = new TextDecoder().decode(body).trim();

    const source = { fetch: egressFor(config), cache: c.env.CACHE };
    let set: VerifiedSet;
    try {
      set = await verifySet(token, config.registry.transmitters, {
        keys: (transmitter) => keySets.resolver(transmitter.jwksUri, source),
        claim: (transmitter, jti, keepUntil) => claimJti(c.env, transmitter, jti, keepUntil),
        now: Date.now,
      });
    } catch (error) {
      if (error instanceof SetRefusal) return audited(error);
      throw retryLater(error, "the security event could not be checked; retry later");
    }

    // From here the jti is held: settled once the event is in force, released on any failure.
    try {
      const plan = planSignal(set, config.registry, Math.floor(Date.now() / 1000));
      await recordAndApply(c, set, plan);
    } catch (error) {
      await set.claim.release().catch((cause: unknown) => console.error(JSON.stringify({ event: "ssf_release_failed", jti: set.jti, error: String(cause) })));
      if (error instanceof SetRefusal) return audited(error);
      throw retryLater(error, "the security event could not be applied; retry later");
    }
    // In force whatever the store answers now; a lost settle only lets a later retry apply it again.
    const settled = await set.claim.settle().catch(() => false);
    if (!settled) console.error(JSON.stringify({ event: "ssf_hold_lapsed", requestId: state.requestId, jti: set.jti }));
    return c.body(null, 202);
  };
}
