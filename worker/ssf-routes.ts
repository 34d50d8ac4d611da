/**
 * `POST /ssf/events`: the Shared Signals receiver (SSF 1.0, push delivery RFC 8935). A trusted
 * transmitter (the registry's `transmitters`) pushes one Security Event Token (RFC 8417) per request;
 * the receiver verifies it (set.ts), works out what it asks for (signals.ts), records that in each
 * affected tenant's audit log and then applies it: revocations take effect on the next request
 * everywhere, risk assertions enter the principal's risk engine.
 *
 * Answers per RFC 8935 §2.2–2.4: 202 with an empty body once the event is in force; 400 with
 * `{"err","description"}` for a SET that is refused. A fault on this side (audit log, replay cache or
 * revocation store unavailable) is a 503, so the transmitter retries later.
 */
import type { Context } from "hono";
import { commit, configAudit, continuousOf, decisionRecord, egressFor, type PipelineDeps } from "./caller.ts";
import type { AppEnv } from "./env.ts";
import { GatewayError } from "./errors.ts";
import { createKeySets } from "./identity/index.ts";
import { readBoundedBody } from "./network/index.ts";
import { MAX_SET_CHARS, planSignal, SetRefusal, verifySet, type SignalAction } from "./verify/risk/index.ts";

const SET_MEDIA_TYPE = "application/secevent+jwt";

/** An action as the audit record states it. */
function describe(action: SignalAction): Record<string, string | number> {
  if (action.kind === "risk") return { risk: action.level, principal: action.principal };
  const r = action.revocation;
  if (r.kind === "session") return { revoke: "session", sessionId: r.sessionId };
  if (r.kind === "token") return { revoke: "token", tokenId: r.tokenId };
  return { revoke: "principal", principal: r.principal, notBefore: r.notBefore };
}

function refused(c: Context<AppEnv>, refusal: SetRefusal): Response {
  return c.json({ err: refusal.err, description: refusal.message }, 400);
}

export function createSsfReceiver(deps: PipelineDeps) {
  // The identity plane's key-set cache (memory, then KV), with its own instance for transmitters' keys.
  const keySets = createKeySets({ refetchCooldownMs: 30_000, maxAgeMs: 10 * 60_000 });

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
    let set;
    let actions: SignalAction[];
    let plan;
    try {
      set = await verifySet(token, config.registry.transmitters, {
        keys: (transmitter) => keySets.resolver(transmitter.jwksUri, source),
        claim: (transmitter, jti, keepUntil) => c.env.REPLAY_CACHE.get(c.env.REPLAY_CACHE.idFromName(`ssf ${transmitter.id}`)).claim(jti, keepUntil),
        now: Date.now,
      });
      plan = planSignal(set, config.registry, Math.floor(Date.now() / 1000));
      actions = plan.actions;
    } catch (error) {
      if (error instanceof SetRefusal) return audited(error);
      throw new GatewayError("revocation_unavailable", "the security event could not be checked; retry later", { cause: error });
    }

    // Write-ahead: each affected tenant's log holds the event and what it asks before anything changes.
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
        actions: actions.filter((a) => a.tenant === tenant).map(describe),
      });
    }
    const continuous = continuousOf(deps);
    try {
      for (const action of actions) {
        const update = await continuous.apply(c.env, action, `ssf:${set.transmitter.id}`);
        if (update?.change && action.kind === "risk") {
          await commit(sink, {
            type: "risk",
            requestId: state.requestId,
            tenant: action.tenant,
            time: new Date().toISOString(),
            principal: { kind: null, id: action.principal, sessionId: plan.subject.sessionId ?? null },
            previous: update.change.previous,
            level: update.change.level,
            reasons: update.change.reasons,
            source: `ssf:${set.transmitter.id}`,
            action: "none",
          }).catch(() => undefined);
        }
      }
    } catch (cause) {
      throw new GatewayError("revocation_unavailable", "the security event could not be applied; retry later", { cause });
    }
    return c.body(null, 202);
  };
}
