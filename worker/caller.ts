/**
 * The steps every authenticated route shares: the configuration in force, the caller's identity,
 * the environment facts every PDP question carries, and committing decisions to the audit log.
 */
import type { Context } from "hono";
import type { Principal, RequestState } from "./context.ts";
import type { AppEnv } from "./env.ts";
import { asGatewayError, GatewayError } from "./errors.ts";
import type { Authenticate } from "./identity/index.ts";
import { createEgress, type Egress } from "./network/index.ts";
import type { RequestEnvironment } from "./policy/index.ts";
import type { AuditRecord, AuditSink } from "./verify/index.ts";
import type { ConfigSource, GatewayConfig } from "./workload/index.ts";

export interface PipelineDeps {
  config: ConfigSource;
  authenticate: Authenticate;
  audit: (env: AppEnv["Bindings"]) => AuditSink;
}

/** Where refusals of callers that proved no identity are recorded (no tenant is known for them). */
export const UNAUTHENTICATED_LOG = "_unauthenticated";

const egressByConfig = new WeakMap<GatewayConfig, Egress>();

/** One egress firewall per configuration version: its allowlist is the registry's origins. */
export function egressFor(config: GatewayConfig): Egress {
  let egress = egressByConfig.get(config);
  if (!egress) {
    egress = createEgress(config.registry.origins);
    egressByConfig.set(config, egress);
  }
  return egress;
}

/** What every PDP question carries about the caller and where the request came from. */
export function requestEnvironment(principal: Principal, raw: Request): RequestEnvironment {
  const cf = (raw as Request & { cf?: { country?: unknown; continent?: unknown } }).cf;
  return {
    authn: { method: principal.authn.method, mfa: principal.authn.mfa, acr: principal.authn.acr },
    risk: "low",
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
    principal: principal ? { kind: principal.kind, id: principal.id, clientId: principal.clientId ?? null } : null,
    actor: principal?.actor ?? null,
    ...fields,
  };
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
  const config = await deps.config.current(c.env.CONFIG, Number(c.env.CONFIG_REFRESH_MS));
  try {
    const principal = await deps.authenticate(c.req.raw.headers, config.registry, egressFor(config));
    state.principal = principal;
    return { config, principal };
  } catch (error) {
    const refusal = asGatewayError(error);
    await commit(
      deps.audit(c.env),
      decisionRecord(state, undefined, { action: "authenticate", decision: "deny", code: refusal.code, reason: refusal.message, configVersion: config.version }),
    ).catch(() => undefined);
    throw refusal;
  }
}

