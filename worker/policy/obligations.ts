/**
 * The `@obligation("…")` annotation grammar (see policies/README.md). Parsed once per bundle at
 * compile time; an item this gateway does not know how to enforce refuses the bundle, because an
 * obligation silently ignored is an allow without its condition.
 *
 *   annotation := item (";" item)*
 *   item       := "max_tokens:" positive-integer
 *               | "redact:" CATEGORY                       (CATEGORY = [A-Z][A-Z0-9_]*)
 *               | "mask:" CATEGORY | "tokenize:" CATEGORY
 *               | "reply:" ("redact" | "stop") "=" CATEGORY
 *               | "route:tier=" ("public" | "confidential" | "self-hosted")
 *               | "step_up:acr=" acr ("," "max_age=" non-negative-integer)?
 *               | "tool_call:refuse_reply"
 *               | "retain:" ("prompt" | "output") ",days=" positive-integer   (at most 3650)
 */
import { PolicyAnnotationError } from "./errors.ts";
import type { Obligation } from "./types.ts";

const TIERS = new Set(["public", "confidential", "self-hosted"]);
const POSITIVE_INT = /^[1-9][0-9]{0,8}$/;
const NON_NEGATIVE_INT = /^(0|[1-9][0-9]{0,8})$/;
const CATEGORY = /^[A-Z][A-Z0-9_]*$/;
// An acr is an absolute URI or a short token (OIDC Core §2); no spaces, commas or semicolons.
const ACR = /^[A-Za-z0-9:._\/#~+-]+$/;

/** Parses one `@obligation` annotation of policy `policyId`; throws `PolicyAnnotationError`. */
export function parseObligations(annotation: string, policyId: string): Obligation[] {
  const items = annotation.split(";").map((item) => item.trim());
  return items.map((item) => parseItem(item, policyId));
}

function parseItem(item: string, policyId: string): Obligation {
  const fail = (why: string): never => {
    throw new PolicyAnnotationError("bad @obligation", [`policy ${policyId}: ${JSON.stringify(item)}: ${why}`]);
  };
  if (item === "") fail("empty obligation (stray ';'?)");
  const colon = item.indexOf(":");
  if (colon < 0) fail("expected <kind>:<value>");
  const kind = item.slice(0, colon);
  const value = item.slice(colon + 1);
  switch (kind) {
    case "max_tokens":
      if (!POSITIVE_INT.test(value)) fail("max_tokens needs a positive integer");
      return { kind: "max_tokens", limit: Number(value) };
    case "redact":
      if (!CATEGORY.test(value)) fail("redact needs an upper-case category such as PII");
      return { kind: "redact", category: value };
    case "mask":
    case "tokenize":
      if (!CATEGORY.test(value)) fail(`${kind} needs an upper-case category such as PII`);
      return { kind, category: value };
    case "reply": {
      const eq = value.indexOf("=");
      const action = value.slice(0, eq);
      const category = value.slice(eq + 1);
      if (eq < 0 || (action !== "redact" && action !== "stop") || !CATEGORY.test(category)) {
        fail("reply needs redact=<CATEGORY> or stop=<CATEGORY>");
      }
      return { kind: "reply", action: action as "redact" | "stop", category };
    }
    case "route": {
      const tier = value.startsWith("tier=") ? value.slice("tier=".length) : fail("route needs tier=<tier>");
      if (!TIERS.has(tier)) fail(`unknown tier (one of ${[...TIERS].join(", ")})`);
      return { kind: "route", tier };
    }
    case "step_up": {
      let acr: string | undefined;
      let maxAge: number | undefined;
      for (const param of value.split(",")) {
        const eq = param.indexOf("=");
        const key = eq < 0 ? param : param.slice(0, eq);
        const val = eq < 0 ? "" : param.slice(eq + 1);
        if (key === "acr" && acr === undefined && ACR.test(val)) acr = val;
        else if (key === "max_age" && maxAge === undefined && NON_NEGATIVE_INT.test(val)) maxAge = Number(val);
        else fail(`bad step_up parameter ${JSON.stringify(param)} (acr=<acr>[,max_age=<seconds>])`);
      }
      if (acr === undefined) return fail("step_up needs acr=<acr>");
      return maxAge === undefined ? { kind: "step_up", acr } : { kind: "step_up", acr, maxAge };
    }
    case "tool_call":
      if (value !== "refuse_reply") fail("tool_call needs refuse_reply");
      return { kind: "refuse_reply" };
    case "retain": {
      // Keep the request's prompt or the reply, envelope-encrypted, for `days` (worker/data/vault).
      const match = /^(prompt|output),days=([1-9][0-9]{0,3})$/.exec(value);
      if (!match || Number(match[2]) > 3650) fail("retain needs prompt|output,days=<1..3650>");
      return { kind: "retain", what: match![1] as "prompt" | "output", days: Number(match![2]) };
    }
    default:
      return fail(`unknown obligation kind ${JSON.stringify(kind)}`);
  }
}

/** A stable key for de-duplicating obligations gathered from several policies. */
export function obligationKey(obligation: Obligation): string {
  switch (obligation.kind) {
    case "max_tokens":
      return `max_tokens:${obligation.limit}`;
    case "redact":
      return `redact:${obligation.category}`;
    case "mask":
    case "tokenize":
      return `${obligation.kind}:${obligation.category}`;
    case "reply":
      return `reply:${obligation.action}=${obligation.category}`;
    case "route":
      return `route:tier=${obligation.tier}`;
    case "refuse_reply":
      return "tool_call:refuse_reply";
    case "retain":
      return `retain:${obligation.what},days=${obligation.days}`;
    case "step_up":
      return `step_up:acr=${obligation.acr}${obligation.maxAge === undefined ? "" : `,max_age=${obligation.maxAge}`}`;
  }
}
