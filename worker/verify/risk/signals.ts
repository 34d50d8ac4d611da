/**
 * What a verified Shared Signals event means here: the revocations and risk assertions it asks for,
 * tenant by tenant. Pure: the route applies the plan (audit first, then effect).
 *
 * Subjects (RFC 9493 and SSF 1.0 complex subjects), each mapped onto one kind of principal:
 * - a user: `iss_sub` (top level, or the complex subject's `user`) whose `iss` is an identity issuer of
 *   the gateway; its `sub` is the id of the `user` principal (the identity plane's rule for a person);
 * - a workload: the complex subject's `application` as `iss_sub` of such an issuer; its `sub` is the
 *   client id, which is the id the identity plane gives a client-credentials caller (`workload`).
 *   Workloads that authenticate with SPIFFE or a registered certificate have no issuer subject and are
 *   not addressable by a SET;
 * - a session: `opaque` (its `id` is the IdP's `sid`); optionally the tenant as `opaque`.
 * A complex subject naming both a user and an application is about the user (the application only
 * narrows it; acting on the user is broader, so fail closed). A transmitter acts only within its
 * configured tenants.
 */
import type { Registry } from "../../workload/index.ts";
import type { PrincipalIdentity } from "./principal-key.ts";
import type { Revocation } from "./revocations.ts";
import type { RiskLevel } from "./score.ts";
import { CLOCK_SKEW_SECONDS, SetRefusal, type VerifiedSet } from "./set.ts";

export type SignalAction =
  | { kind: "revoke"; tenant: string; revocation: Revocation }
  /** `at`: the event's time (epoch s), which orders a transmitter's assertions (risk-engine.ts). */
  | { kind: "risk"; tenant: string; principal: PrincipalIdentity; level: RiskLevel; reason: string; at: number };

export interface SignalPlan {
  tenants: string[];
  /** The subject as understood (for the audit record). */
  subject: { principal?: PrincipalIdentity; sessionId?: string };
  actions: SignalAction[];
}

/** How long a transmitter's risk level holds unless it sends another: an hour. */
export const ASSERTION_TTL_MS = 3600_000;

interface Subject {
  user?: { iss: string; sub: string };
  /** SSF 1.0 complex subject `application`: a client of an identity issuer, i.e. a workload. */
  application?: { iss: string; sub: string };
  session?: string;
  tenant?: string;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function text(value: unknown): value is string {
  return typeof value === "string" && value.length > 0 && value.length <= 256;
}

function issSub(value: unknown, what = "user"): { iss: string; sub: string } {
  if (isObject(value) && value.format === "iss_sub" && text(value.iss) && text(value.sub)) return { iss: value.iss, sub: value.sub };
  throw new SetRefusal("subject", `a ${what} subject must be an iss_sub identifier`);
}

function opaque(value: unknown, what: string): string {
  if (isObject(value) && value.format === "opaque" && text(value.id)) return value.id;
  throw new SetRefusal("subject", `a ${what} subject must be an opaque identifier`);
}

function parseSubject(raw: unknown): Subject {
  if (!isObject(raw)) throw new SetRefusal("subject", "the SET names no subject");
  if (raw.format === "iss_sub") return { user: issSub(raw) };
  if (raw.format === "opaque") return { session: opaque(raw, "session") };
  if (raw.format === "complex" || (raw.format === undefined && ("user" in raw || "session" in raw || "application" in raw))) {
    const subject: Subject = {};
    if (raw.user !== undefined) subject.user = issSub(raw.user);
    if (raw.application !== undefined) subject.application = issSub(raw.application, "application");
    if (raw.session !== undefined) subject.session = opaque(raw.session, "session");
    if (raw.tenant !== undefined) subject.tenant = opaque(raw.tenant, "tenant");
    if (!subject.user && !subject.application && !subject.session) throw new SetRefusal("subject", "the subject names no user, application or session");
    return subject;
  }
  throw new SetRefusal("subject", "the subject's format is not supported");
}

/** The tenants this event may act in: the transmitter's, narrowed by the user's issuer and the named tenant. */
function tenantsFor(set: VerifiedSet, subject: Subject, registry: Registry): string[] {
  let tenants = set.transmitter.tenants;
  if (subject.tenant !== undefined) {
    if (!tenants.includes(subject.tenant)) throw new SetRefusal("tenant", "the transmitter may not act in that tenant");
    tenants = [subject.tenant];
  }
  const named = subject.user ?? subject.application;
  if (named) {
    const issuer = registry.issuers.find((i) => i.issuer === named.iss);
    if (!issuer) throw new SetRefusal("subject", "the subject's issuer is not an identity issuer of this gateway");
    // A user's id is the issuer's subject claim; a client's is its client id whatever that claim is.
    if (subject.user && issuer.subjectClaim !== undefined && issuer.subjectClaim !== "sub") {
      throw new SetRefusal("subject", "the user's issuer names principals by another claim than sub");
    }
    tenants = tenants.filter((t) => issuer.tenants.includes(t));
    if (tenants.length === 0) throw new SetRefusal("tenant", "the transmitter may not act for that issuer's tenants");
  }
  return tenants;
}

function eventTime(set: VerifiedSet, nowSeconds: number): number {
  const at = set.payload.event_timestamp;
  return typeof at === "number" && Number.isFinite(at) && at <= nowSeconds + CLOCK_SKEW_SECONDS ? Math.floor(at) : set.issuedAt;
}

const RISK_OF: Record<string, RiskLevel> = { LOW: "low", MEDIUM: "medium", HIGH: "high" };

/** The principal the subject names, with its kind (see the header): a user first, else a workload. */
function principalOf(subject: Subject): PrincipalIdentity | undefined {
  if (subject.user) return { kind: "user", id: subject.user.sub };
  if (subject.application) return { kind: "workload", id: subject.application.sub };
  return undefined;
}

export function planSignal(set: VerifiedSet, registry: Registry, nowSeconds: number): SignalPlan {
  if (set.event === "verification") return { tenants: [], subject: {}, actions: [] };
  const subject = parseSubject(set.subject);
  const tenants = tenantsFor(set, subject, registry);
  const reason = `ssf:${set.event}`;
  const at = eventTime(set, nowSeconds);
  const principal = principalOf(subject);

  /** Ends the named session, or every session of the user that began before the event. */
  const endSessions = (): SignalAction[] =>
    tenants.flatMap((tenant): SignalAction[] => {
      if (subject.session !== undefined) return [{ kind: "revoke", tenant, revocation: { kind: "session", sessionId: subject.session, reason } }];
      return [{ kind: "revoke", tenant, revocation: { kind: "principal", principal: principal!, notBefore: at, reason } }];
    });
  const assert = (level: RiskLevel): SignalAction[] => {
    if (principal === undefined) throw new SetRefusal("subject", "a risk event must name a user or an application");
    return tenants.map((tenant) => ({ kind: "risk", tenant, principal, level, reason, at }));
  };

  let actions: SignalAction[];
  switch (set.event) {
    case "session-revoked":
    case "token-claims-change":
      // New claims cannot be applied to tokens already issued: end the session so fresh tokens are fetched.
      actions = endSessions();
      break;
    case "credential-change":
      // A credential added takes nothing away; one changed, revoked or deleted ends what it authenticated.
      actions = set.payload.change_type === "create" ? [] : endSessions();
      break;
    case "assurance-level-change":
      if (set.payload.change_direction !== "decrease") actions = [];
      else actions = principal !== undefined ? assert("medium") : endSessions();
      break;
    case "risk-level-change": {
      const level = typeof set.payload.current_level === "string" ? RISK_OF[set.payload.current_level.toUpperCase()] : undefined;
      if (level === undefined) throw new SetRefusal("claims", "current_level must be LOW, MEDIUM or HIGH");
      actions = [...assert(level), ...(level === "high" ? endSessions() : [])];
      break;
    }
  }
  return {
    tenants,
    subject: { ...(principal !== undefined ? { principal } : {}), ...(subject.session !== undefined ? { sessionId: subject.session } : {}) },
    actions,
  };
}
