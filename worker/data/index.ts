/**
 * Plane 4 entry: the gateway classifies; the caller does not. The classification of a request is the
 * high-water mark of what the detectors find in every text it carries; a label the caller sends can
 * raise the level, never lower it.
 */
import type { Classification, ClassificationLevel } from "../context.ts";
import { LEVEL_NAMES } from "../context.ts";
import { GatewayError } from "../errors.ts";
import { detectWithin } from "./classify/detect.ts";
import { MAX_SCAN_PER_CALL, MAX_SCAN_PER_TEXT } from "./classify/limits.ts";
import type { TenantRules } from "./classify/tenant-rules.ts";

export { detectText } from "./classify/detect.ts";
export { labelLevel } from "./classify/labels.ts";
export { compileTenantRules, TenantRulesError, type TenantPattern, type TenantRules, type TenantTerm } from "./classify/tenant-rules.ts";

export { jsonStringContent, TokenVault } from "./tokens.ts";
export { FINDING_TYPES, knownCategory, transformRequest, transformRules, type RequestTransform, type Span, type TextDetector, type TransformCounts } from "./transform.ts";
export {
  createReplyFilter,
  replyClearance,
  replyFilters,
  type FilterStep,
  type OutputFinding,
  type ReplyClearance,
  type ReplyFilterOptions,
  type ReplyFilters,
  type ReplySummary,
  type ReplyTextFilter,
} from "./reply-filter.ts";

/** Caller-supplied label: one of public, internal, confidential, restricted. */
export const LABEL_HEADER = "x-verity-classification";

function callerLevel(label: string | null): ClassificationLevel {
  if (label === null) return 0;
  const level = LEVEL_NAMES.indexOf(label.trim().toLowerCase() as (typeof LEVEL_NAMES)[number]);
  if (level < 0) throw new GatewayError("invalid_request", `${LABEL_HEADER} must be one of ${LEVEL_NAMES.join(", ")}`);
  return level as ClassificationLevel;
}

/**
 * Classifies texts laid end to end (offsets count across them, with one separator between texts),
 * with the tenant's own terms and patterns when given. Text past the scan caps
 * (classify/limits.ts) is counted in `unscanned` and makes the classification restricted.
 */
export function classify(texts: readonly string[], label: string | null = null, rules?: TenantRules): Classification {
  let level = callerLevel(label);
  const categories = new Set<string>();
  const findings: Classification["findings"] = [];
  let offset = 0;
  let budget = MAX_SCAN_PER_CALL;
  let unscanned = 0;
  for (const text of texts) {
    const detection = detectWithin(text, Math.min(MAX_SCAN_PER_TEXT, budget), rules);
    budget -= text.length - detection.unscanned;
    unscanned += detection.unscanned;
    // The findings are this call's own (detectWithin makes them): moved to the joined offsets in place.
    for (const finding of detection.findings) {
      finding.start += offset;
      finding.end += offset;
      findings.push(finding);
      categories.add(finding.category);
      if (finding.level > level) level = finding.level;
    }
    offset += text.length + 1;
  }
  if (unscanned === 0) return { level, categories: [...categories].sort(), findings };
  categories.add("unscanned");
  return { level: 3, categories: [...categories].sort(), findings, unscanned };
}
