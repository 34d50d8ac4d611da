/**
 * `audit replay`'s core: every recorded PDP decision asked again, of the gateway's own PDP code
 * (`worker/policy/pdp.ts`; the CLI provides cedar-wasm the Node way, see cli/cedar-node.ts, and the
 * worker tests the Workers way), with the policy bundle of the recorded
 * `policyVersion` and the recorded entity slice as the whole entity store. The slice is closed under
 * parents and references (types.ts, `Decision.entitySlice`), so the answer must be the same: same
 * effect, same determining policies, same obligations.
 *
 * Which records carry a decision, and how the request is rebuilt from their `facts` (the
 * translator's input, recorded by the pipeline and the audit routes):
 *
 *   invoke_model, allow   facts + resource (the chosen backend)      → invokeModelRequest
 *   invoke_model, deny    facts + each of `candidates` (one per backend policy refused)
 *   read_audit            facts (principal, tenant, environment)     → tenantActionRequest
 *   call_tool             facts (principal, tool, arguments' facts)  → callToolRequest; the PDP's
 *                         own `effect` (a gateway check may have refused an allow afterwards)
 *   administer            facts (principal, tenant, environment)     → tenantActionRequest (erasure)
 *
 * Decision records without a PDP decision (authentication refusals; a deny the gateway took after
 * policy allowed, such as missing backend credentials) are skipped and counted.
 */
import { canonicalJson } from "../lib/canonical-json.ts";
import {
  callToolRequest,
  compilePolicy,
  invokeModelRequest,
  tenantActionRequest,
  type AuthzRequest,
  type CallToolFacts,
  type EntityJson,
  type InvokeModelFacts,
  type PolicyBundle,
  type TenantActionFacts,
} from "../policy/pdp.ts";

export type ReplayStatus = "same" | "differs" | "unreplayable" | "skipped";

export interface ReplayOutcome {
  index: number;
  requestId: string;
  action: string;
  status: ReplayStatus;
  /** For anything but "same": what differs or why it could not be replayed. */
  detail?: string;
}

export interface ReplaySummary {
  outcomes: ReplayOutcome[];
  counts: Record<ReplayStatus, number>;
}

/** What the record says the PDP answered (for one backend, in a multi-candidate deny). */
interface Recorded {
  effect: unknown;
  reasons: unknown;
  obligations: unknown;
  entitySlice: unknown;
  request: AuthzRequest;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function sorted(value: unknown): string {
  return Array.isArray(value) ? canonicalJson([...value].map((v) => canonicalJson(v)).sort()) : canonicalJson(value ?? null);
}

/** The PDP questions a decision record answered; a string says why there are none. */
function questionsOf(record: Record<string, unknown>): Recorded[] | string {
  const facts = record.facts;
  const resource = record.resource;
  switch (record.action) {
    case "invoke_model": {
      if (!isObject(facts)) return "no recorded facts";
      if (record.decision === "allow") {
        if (!isObject(resource) || typeof resource.id !== "string") return "no recorded backend";
        const request = invokeModelRequest({ ...(facts as unknown as Omit<InvokeModelFacts, "backend">), backend: resource.id });
        return [{ effect: "allow", reasons: record.reasons, obligations: record.obligations, entitySlice: record.entitySlice, request }];
      }
      if (!Array.isArray(record.candidates)) return "a deny taken outside policy";
      return record.candidates.map((candidate: unknown) => {
        const c = isObject(candidate) ? candidate : {};
        const backend = isObject(c.resource) && typeof c.resource.id === "string" ? c.resource.id : "";
        const request = invokeModelRequest({ ...(facts as unknown as Omit<InvokeModelFacts, "backend">), backend });
        return { effect: c.effect, reasons: c.reasons, obligations: c.obligations, entitySlice: c.entitySlice, request };
      });
    }
    case "read_audit":
    case "administer": {
      if (!isObject(facts)) return "no recorded facts";
      const request = tenantActionRequest(record.action, facts as unknown as TenantActionFacts);
      return [{ effect: record.decision, reasons: record.reasons, obligations: record.obligations, entitySlice: record.entitySlice, request }];
    }
    case "call_tool": {
      // A refusal before policy (unknown tool, bad arguments) asked the PDP nothing.
      if (!isObject(facts)) return "a deny taken before policy";
      const request = callToolRequest(facts as unknown as CallToolFacts);
      return [{ effect: record.effect ?? record.decision, reasons: record.reasons, obligations: record.obligations, entitySlice: record.entitySlice, request }];
    }
    default:
      return `no PDP decision for action ${JSON.stringify(record.action)}`;
  }
}

function replayOne(question: Recorded, bundle: PolicyBundle): string | undefined {
  if (!Array.isArray(question.entitySlice)) return "no recorded entity slice";
  const pdp = compilePolicy(bundle, question.entitySlice as EntityJson[]);
  const now = pdp.decide(question.request);
  const backend = question.request.resource.id;
  if (now.effect !== question.effect) return `${backend}: recorded ${String(question.effect)}, now ${now.effect} (${now.reasons.join(", ")})`;
  if (sorted(now.reasons) !== sorted(question.reasons)) return `${backend}: recorded reasons ${sorted(question.reasons)}, now ${sorted(now.reasons)}`;
  if (sorted(now.obligations) !== sorted(question.obligations ?? [])) return `${backend}: recorded obligations ${sorted(question.obligations ?? [])}, now ${sorted(now.obligations)}`;
  return undefined;
}

/**
 * Replays every decision record of `records` (parsed, in log order). `bundles` maps policy versions
 * to bundles; a decision whose version is missing is `unreplayable`, never assumed the same.
 */
export function replayDecisions(records: readonly unknown[], bundles: ReadonlyMap<string, PolicyBundle>): ReplaySummary {
  const outcomes: ReplayOutcome[] = [];
  records.forEach((value, index) => {
    if (!isObject(value) || value.type !== "decision") return;
    const base = { index, requestId: String(value.requestId), action: String(value.action) };
    let questions: Recorded[] | string;
    try {
      questions = questionsOf(value);
    } catch (error) {
      outcomes.push({ ...base, status: "unreplayable", detail: `the recorded facts do not form a request: ${String(error)}` });
      return;
    }
    if (typeof questions === "string") {
      outcomes.push({ ...base, status: "skipped", detail: questions });
      return;
    }
    const version = value.policyVersion;
    const bundle = typeof version === "string" ? bundles.get(version) : undefined;
    if (bundle === undefined) {
      outcomes.push({ ...base, status: "unreplayable", detail: `no policy bundle of version ${String(version)}` });
      return;
    }
    try {
      const differences = questions.map((q) => replayOne(q, bundle)).filter((d): d is string => d !== undefined);
      outcomes.push(differences.length === 0 ? { ...base, status: "same" } : { ...base, status: "differs", detail: differences.join("; ") });
    } catch (error) {
      outcomes.push({ ...base, status: "unreplayable", detail: `the PDP refused the recorded slice: ${String(error)}` });
    }
  });
  const counts: Record<ReplayStatus, number> = { same: 0, differs: 0, unreplayable: 0, skipped: 0 };
  for (const outcome of outcomes) counts[outcome.status]++;
  return { outcomes, counts };
}
