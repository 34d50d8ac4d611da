/**
 * A small, deterministic detector for the data plane's pure tests, so that transforms and reply
 * filters are tested on their own logic while the classifier evolves (the classifier has its own
 * tests; the worker tests run the real one end to end).
 */
import type { Span, TextDetector } from "../../../worker/data/transform.ts";

const RULES: ReadonlyArray<{ type: string; category: string; pattern: RegExp }> = [
  { type: "EMAIL_ADDRESS", category: "pii", pattern: /\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b/g },
  { type: "CREDIT_CARD", category: "pci", pattern: /\b4\d{3}(?:[ -]?\d{4}){3}\b/g },
  { type: "US_SSN", category: "pii", pattern: /\b\d{3}-\d{2}-\d{4}\b/g },
  { type: "SECRET_AWS_ACCESS_KEY", category: "secret", pattern: /\bAKIA[0-9A-Z]{16}\b/g },
  { type: "SECRET_OPENAI_API_KEY", category: "secret", pattern: /\bsk-[A-Za-z0-9]{20,}/g },
];

export const fakeDetect: TextDetector = (text) => {
  const spans: Span[] = [];
  for (const rule of RULES) {
    for (const match of text.matchAll(rule.pattern)) {
      spans.push({ type: rule.type, category: rule.category, start: match.index, end: match.index + match[0].length });
    }
  }
  return spans;
};

export const FAKE_TYPES: ReadonlySet<string> = new Set(RULES.map((r) => r.type));
