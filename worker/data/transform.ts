/**
 * Transform by obligation: what leaves the gateway is exactly what policy allowed. The obligations of
 * the chosen backend's allow (`redact:`, `mask:`, `tokenize:` followed by a CATEGORY) are applied to
 * every text of the request body in place, through the wire format's `mapTexts`; then what will
 * actually leave is classified again, and a finding of an obligated category that survived refuses the
 * request (defence in depth: a transform that missed something is a deny, never a leak).
 *
 * CATEGORY is either a classifier category, upper-cased — `PII`, `PCI`, `PHI`, `SECRET`, `CUSTOM`
 * (every finding of that category) — or one finding type, e.g. `EMAIL_ADDRESS`, `CREDIT_CARD`,
 * `SECRET_AWS_ACCESS_KEY` (Presidio's names; see CONTRACTS.md). Per finding:
 *
 *   redact    → `[REDACTED:<TYPE>]`
 *   mask      → cards, IBANs, SSNs, phone and account numbers (8 or more digits): every letter and digit
 *               but the last four becomes `*`, separators kept (`**** **** **** 1111`); an email keeps
 *               its first character and top-level domain (`j***@***.com`); secrets and everything else
 *               become `****` (not even the length is kept)
 *   tokenize  → a placeholder from the request's TokenVault (`⟦EMAIL_ADDRESS_1:9f3a0c1d⟧`), restored
 *               in the reply by the reply filter (reply-filter.ts)
 *
 * When several obligations match one finding, or findings overlap, the strongest wins
 * (redact > tokenize > mask) over the union of the overlapping spans.
 */
import type { Obligation } from "../policy/types.ts";
import type { WireProvider } from "../providers/types.ts";
import type { TokenVault } from "./tokens.ts";

export type TransformAction = "redact" | "mask" | "tokenize";

/** One finding in one text (offsets in UTF-16 code units into that text) with its category. */
export interface Span {
  type: string;
  category: string;
  start: number;
  end: number;
}

/**
 * Finds the spans of one text. The pipeline passes the classifier's `detectText` with the tenant's
 * rules, so that transforms and output scanning see exactly what classification saw.
 */
export type TextDetector = (text: string) => readonly Span[];

/** Obligation categories that name a whole classifier category rather than one finding type. */
const CATEGORY_GROUPS: ReadonlyMap<string, string> = new Map([
  ["PII", "pii"],
  ["PCI", "pci"],
  ["PHI", "phi"],
  ["SECRET", "secret"],
  ["CUSTOM", "custom"],
]);

/**
 * The finding types the gateway's classifier (worker/data/classify) reports. An obligation naming a
 * type not listed here is not honoured (the request is refused, never sent with the obligation
 * ignored), so a classifier that learns a new type fails closed until the type is added here.
 */
export const FINDING_TYPES: ReadonlySet<string> = new Set([
  "ABA_ROUTING_NUMBER", "CREDIT_CARD", "CRYPTO", "DE_TAX_ID", "EMAIL_ADDRESS", "ES_NIF", "IBAN_CODE", "ICD10_CODE",
  "IP_ADDRESS", "LOCATION", "MEDICAL_LICENSE", "MEDICAL_RECORD_NUMBER", "PERSON", "PHONE_NUMBER", "SE_PERSONNUMMER",
  "UK_NHS", "US_BANK_NUMBER", "US_SSN", "UNSCANNED",
  "SECRET_ANTHROPIC_API_KEY", "SECRET_AWS_ACCESS_KEY", "SECRET_AZURE_CLIENT_SECRET", "SECRET_AZURE_STORAGE_KEY",
  "SECRET_CONNECTION_STRING", "SECRET_DIGITALOCEAN_TOKEN", "SECRET_GCP_API_KEY", "SECRET_GCP_SERVICE_ACCOUNT",
  "SECRET_GENERIC", "SECRET_GITHUB_TOKEN", "SECRET_GITLAB_TOKEN", "SECRET_GROQ_API_KEY", "SECRET_HUGGINGFACE_TOKEN",
  "SECRET_JWT", "SECRET_NPM_TOKEN", "SECRET_OPENAI_API_KEY", "SECRET_PASSWORD", "SECRET_PERPLEXITY_API_KEY",
  "SECRET_PRIVATE_KEY", "SECRET_REPLICATE_TOKEN", "SECRET_SENDGRID_API_KEY", "SECRET_SHOPIFY_TOKEN", "SECRET_SLACK_TOKEN",
  "SECRET_SLACK_WEBHOOK", "SECRET_STRIPE_KEY", "SECRET_URL_PASSWORD", "SECRET_XAI_API_KEY",
]);

/**
 * Whether the gateway can act on this obligation category: a category group, or one of the finding
 * types the classifier reports (`types`). Any other one would match nothing, so an obligation naming
 * it cannot be honoured.
 */
export function knownCategory(category: string, types: ReadonlySet<string>): boolean {
  return CATEGORY_GROUPS.has(category) || types.has(category);
}

/** Whether a finding falls under an obligation's CATEGORY. */
export function inCategory(category: string, span: Pick<Span, "type" | "category">): boolean {
  const group = CATEGORY_GROUPS.get(category);
  return group === undefined ? span.type === category : span.category === group;
}

export interface TransformRule {
  action: TransformAction;
  category: string;
}

/** The request transforms an allow's obligations ask for. */
export function transformRules(obligations: readonly Obligation[]): TransformRule[] {
  const rules: TransformRule[] = [];
  for (const o of obligations) {
    if (o.kind === "redact" || o.kind === "mask" || o.kind === "tokenize") rules.push({ action: o.kind, category: o.category });
  }
  return rules;
}

/** Counts per action and finding type, e.g. `{ redact: { EMAIL_ADDRESS: 2 } }`; never values. */
export type TransformCounts = Partial<Record<TransformAction, Record<string, number>>>;

const STRENGTH: Readonly<Record<TransformAction, number>> = { mask: 1, tokenize: 2, redact: 3 };

function strongest(span: Span, rules: readonly TransformRule[]): TransformAction | undefined {
  let action: TransformAction | undefined;
  for (const rule of rules) {
    if (inCategory(rule.category, span) && (action === undefined || STRENGTH[rule.action] > STRENGTH[action])) action = rule.action;
  }
  return action;
}

export function countOne(counts: Record<string, number>, type: string): void {
  counts[type] = (counts[type] ?? 0) + 1;
}

/** What a masked value looks like (see the module comment). */
export function masked(span: Pick<Span, "type" | "category">, value: string): string {
  if (span.category === "secret") return "****";
  if (span.type === "EMAIL_ADDRESS") {
    const at = value.lastIndexOf("@");
    const dot = value.lastIndexOf(".");
    if (at > 0 && dot > at) return `${value[0]}***@***${value.slice(dot)}`;
  }
  const digits = value.match(/\p{Nd}/gu)?.length ?? 0;
  if (digits < 8) return "****";
  let keep = 4;
  const chars = [...value];
  for (let i = chars.length - 1; i >= 0; i--) {
    if (!/[\p{L}\p{Nd}]/u.test(chars[i]!)) continue;
    if (keep > 0) keep--;
    else chars[i] = "*";
  }
  return chars.join("");
}

/**
 * One text with the rules applied to its spans; adds what it did to `counts`. Overlapping spans are
 * replaced together, by the strongest action among them.
 */
export function transformText(text: string, spans: readonly Span[], rules: readonly TransformRule[], vault: TokenVault, counts: TransformCounts): string {
  const chosen = spans
    .map((span) => ({ span, action: strongest(span, rules) }))
    .filter((c): c is { span: Span; action: TransformAction } => c.action !== undefined)
    .sort((a, b) => a.span.start - b.span.start || b.span.end - a.span.end);
  if (chosen.length === 0) return text;
  let out = "";
  let pos = 0;
  for (let i = 0; i < chosen.length; ) {
    let lead = chosen[i]!;
    const start = lead.span.start;
    let end = lead.span.end;
    for (i++; i < chosen.length && chosen[i]!.span.start < end; i++) {
      const next = chosen[i]!;
      end = Math.max(end, next.span.end);
      if (STRENGTH[next.action] > STRENGTH[lead.action]) lead = next;
    }
    const value = text.slice(start, end);
    out += text.slice(pos, start) + replacement(lead.action, lead.span, value, vault);
    countOne((counts[lead.action] ??= {}), lead.span.type);
    pos = end;
  }
  return out + text.slice(pos);
}

function replacement(action: TransformAction, span: Span, value: string, vault: TokenVault): string {
  switch (action) {
    case "redact":
      return `[REDACTED:${span.type}]`;
    case "mask":
      return masked(span, value);
    case "tokenize":
      return vault.placeholder(span.type, value);
  }
}

export interface RequestTransform {
  /** The body to send upstream (the caller's is left untouched). */
  body: Record<string, unknown>;
  applied: TransformCounts;
  /**
   * What must not leave but would, per finding type: must be empty, or the request is refused
   * (`redaction_incomplete`). See `transformRequest`.
   */
  survivors: Record<string, number>;
}

/**
 * Applies the rules to every text of `body`, then re-checks what would actually leave (defence in
 * depth), counting as survivors:
 *  - a finding of an obligated category in the texts the classifier read (`parse(body).texts`);
 *  - a secret anywhere in the body (every string, keys included: fields the classifier does not read,
 *    such as `metadata` or tool definitions), unless policy saw secrets in this request (`seen`, the
 *    classification's categories) and allowed them anyway.
 */
export function transformRequest(
  provider: WireProvider,
  body: Record<string, unknown>,
  rules: readonly TransformRule[],
  vault: TokenVault,
  detectText: TextDetector,
  seen: readonly string[],
): RequestTransform {
  const applied: TransformCounts = {};
  const out = rules.length === 0 ? body : provider.mapTexts(body, (text) => transformText(text, detectText(text), rules, vault, applied));
  const survivors: Record<string, number> = {};
  if (rules.length > 0) {
    for (const text of provider.parse(out).texts) {
      for (const span of detectText(text)) {
        if (rules.some((rule) => inCategory(rule.category, span))) countOne(survivors, span.type);
      }
    }
  }
  if (!seen.includes("secret")) {
    // Text past the classifier's cap is reported as an UNSCANNED "secret"; policy saw it as "unscanned".
    const unscannedSeen = seen.includes("unscanned");
    forEachString(out, (text) => {
      for (const span of detectText(text)) {
        if (span.category === "secret" && !(unscannedSeen && span.type === "UNSCANNED")) countOne(survivors, span.type);
      }
    });
  }
  return { body: out, applied, survivors };
}

/** Every string in a JSON value, object keys included. */
function forEachString(value: unknown, visit: (text: string) => void): void {
  if (typeof value === "string") visit(value);
  else if (Array.isArray(value)) for (const item of value) forEachString(item, visit);
  else if (typeof value === "object" && value !== null) {
    for (const [key, item] of Object.entries(value)) {
      visit(key);
      forEachString(item, visit);
    }
  }
}
