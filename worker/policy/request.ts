/**
 * The translator: the one place that turns the gateway's typed per-request facts into Cedar
 * requests. Field names and shapes mirror `policies/schema.cedarschema` exactly; the schema is the
 * contract, and `decide` refuses (denies) a context that does not match it.
 */
import type { AuthzRequest, EntityRef } from "./types.ts";

/** How the principal authenticated (schema type `Authn`). */
export interface AuthnFacts {
  method: string;
  mfa: boolean;
  /** "" when the identity provider asserted none. */
  acr: string;
  /** "none" | "dpop" | "mtls". */
  binding: string;
  /** Seconds since the user last authenticated; `AUTH_AGE_UNKNOWN` when the credential does not say. */
  authAge: number;
}

/** `authAge` when no authentication time is known: older than any `max_age` a policy can ask for. */
export const AUTH_AGE_UNKNOWN = 2_147_483_647;

/** The gateway's classification (schema type `Classification`). */
export interface ClassificationFacts {
  /** 0 public, 1 internal, 2 confidential, 3 restricted. */
  level: 0 | 1 | 2 | 3;
  /** "pii", "pci", "phi", "secret", … */
  categories: readonly string[];
}

/** Schema type `Geo`; "" when unknown. */
export interface GeoFacts {
  country: string;
  continent: string;
}

export type RiskLevel = "low" | "medium" | "high";

/** What every action's context carries. */
export interface RequestEnvironment {
  authn: AuthnFacts;
  risk: RiskLevel;
  geo: GeoFacts;
}

/**
 * The principal as an entity reference: `User::"alice"`, `Workload::"acme-batch"`; `groups`: the group
 * entity ids its credential asserted (e.g. `acme/members`), which join its parents for the decision.
 */
export type PrincipalRef = { type: "User" | "Workload"; id: string; groups?: readonly string[] };

export interface InvokeModelFacts extends RequestEnvironment {
  principal: PrincipalRef;
  backend: string;
  model: string;
  classification: ClassificationFacts;
  request: { wireFormat: string; stream: boolean; tools: readonly string[] };
}

export function invokeModelRequest(facts: InvokeModelFacts): AuthzRequest {
  return {
    ...principalOf(facts.principal),
    action: "invoke_model",
    resource: { type: "Backend", id: facts.backend },
    context: {
      model: facts.model,
      classification: classification(facts.classification),
      authn: authn(facts.authn),
      request: { wireFormat: facts.request.wireFormat, stream: facts.request.stream, tools: [...facts.request.tools] },
      risk: facts.risk,
      geo: geo(facts.geo),
    },
  };
}

export interface CallToolFacts extends RequestEnvironment {
  principal: PrincipalRef;
  tool: string;
  /** "caller" (direct invocation, MCP tools/call) or "model" (proposed in a model's answer). */
  origin: "caller" | "model";
  /** Of the call's arguments. */
  classification: ClassificationFacts;
  /**
   * Facts the gateway derives from the call's validated arguments (schema type `ToolArguments`;
   * `worker/tools/argument-facts.ts`). Absent: the facts of an empty argument object.
   */
  arguments?: ToolArgumentFacts;
}

/** Schema type `ToolArguments`: derived from the arguments, never the arguments themselves (Cedar records are closed). */
export interface ToolArgumentFacts {
  /** Lower-cased domains of the addresses in top-level `to`/`cc`/`bcc`; "" for an address without one. */
  recipientDomains: readonly string[];
  /** The top-level `matter` string; "" when there is none. */
  matter: string;
}

export function callToolRequest(facts: CallToolFacts): AuthzRequest {
  return {
    ...principalOf(facts.principal),
    action: "call_tool",
    resource: { type: "Tool", id: facts.tool },
    context: {
      origin: facts.origin,
      classification: classification(facts.classification),
      arguments: {
        recipientDomains: [...new Set(facts.arguments?.recipientDomains ?? [])].sort(),
        matter: facts.arguments?.matter ?? "",
      },
      authn: authn(facts.authn),
      risk: facts.risk,
      geo: geo(facts.geo),
    },
  };
}

export interface ReadDocumentFacts extends RequestEnvironment {
  principal: PrincipalRef;
  document: string;
}

export function readDocumentRequest(facts: ReadDocumentFacts): AuthzRequest {
  return {
    ...principalOf(facts.principal),
    action: "read_document",
    resource: { type: "Document", id: facts.document },
    context: environment(facts),
  };
}

export interface TenantActionFacts extends RequestEnvironment {
  principal: PrincipalRef & { type: "User" };
  tenant: string;
}

/** `read_audit` (the tenant's audit log) or `administer` (its configuration). */
export function tenantActionRequest(action: "read_audit" | "administer", facts: TenantActionFacts): AuthzRequest {
  return {
    ...principalOf(facts.principal),
    action,
    resource: { type: "Tenant", id: facts.tenant },
    context: environment(facts),
  };
}

/** Sorted and unique, so equal requests serialise equally (the PDP memoises by the request's JSON). */
function principalOf(principal: PrincipalRef): Pick<AuthzRequest, "principal" | "principalGroups"> {
  if (!principal.groups || principal.groups.length === 0) return { principal: ref(principal) };
  return { principal: ref(principal), principalGroups: [...new Set(principal.groups)].sort().map((id) => ({ type: "Group", id })) };
}

function ref(entity: EntityRef): EntityRef {
  return { type: entity.type, id: entity.id };
}

function environment(facts: RequestEnvironment): AuthzRequest["context"] {
  return { authn: authn(facts.authn), risk: facts.risk, geo: geo(facts.geo) };
}

function authn(facts: AuthnFacts): AuthzRequest["context"] {
  return { method: facts.method, mfa: facts.mfa, acr: facts.acr, binding: facts.binding, authAge: facts.authAge };
}

function classification(facts: ClassificationFacts): AuthzRequest["context"] {
  return { level: facts.level, categories: [...new Set(facts.categories)].sort() };
}

function geo(facts: GeoFacts): AuthzRequest["context"] {
  return { country: facts.country, continent: facts.continent };
}
