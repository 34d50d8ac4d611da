/**
 * Plane 4 entry: the gateway classifies; the caller does not. The classification of a request is the
 * high-water mark of what the detectors find in every text it carries; a label the caller sends can
 * raise the level, never lower it.
 */
import type { Classification, ClassificationLevel } from "../context.ts";
import { LEVEL_NAMES } from "../context.ts";
import { GatewayError } from "../errors.ts";
import { detect } from "./classify/detectors.ts";

/** Caller-supplied label: one of public, internal, confidential, restricted. */
export const LABEL_HEADER = "x-verity-classification";

function callerLevel(label: string | null): ClassificationLevel {
  if (label === null) return 0;
  const level = LEVEL_NAMES.indexOf(label.trim().toLowerCase() as (typeof LEVEL_NAMES)[number]);
  if (level < 0) throw new GatewayError("invalid_request", `${LABEL_HEADER} must be one of ${LEVEL_NAMES.join(", ")}`);
  return level as ClassificationLevel;
}

/** Classifies texts laid end to end (offsets count across them, with one separator between texts). */
export function classify(texts: readonly string[], label: string | null = null): Classification {
  let level = callerLevel(label);
  const categories = new Set<string>();
  const findings: Classification["findings"] = [];
  let offset = 0;
  for (const text of texts) {
    for (const { detector, ...finding } of detect(text, offset)) {
      findings.push(finding);
      categories.add(detector.category);
      if (detector.level > level) level = detector.level;
    }
    offset += text.length + 1;
  }
  return { level, categories: [...categories].sort(), findings };
}
