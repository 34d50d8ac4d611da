import type { ClassificationLevel, Finding } from "../../context.ts";

/**
 * Rule-based detectors. Each pairs a pattern with a validator where one exists (Luhn, SSN ranges),
 * so that a number-shaped string is not reported as a card or an SSN by its shape alone.
 */
export interface Detector {
  type: string;
  category: "pii" | "pci" | "secret";
  level: ClassificationLevel;
  pattern: RegExp;
  score: number;
  validate?: (match: string) => boolean;
}

function luhn(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

function cardNumber(match: string): boolean {
  const digits = match.replace(/[ -]/g, "");
  return digits.length >= 13 && digits.length <= 19 && luhn(digits);
}

/** SSA rules: area 000, 666 and 900–999, group 00 and serial 0000 are never issued. */
function usSsn(match: string): boolean {
  const [area, group, serial] = match.split("-");
  if (!area || !group || !serial) return false;
  const a = Number(area);
  return a !== 0 && a !== 666 && a < 900 && group !== "00" && serial !== "0000";
}

export const DETECTORS: readonly Detector[] = [
  { type: "SECRET_PRIVATE_KEY", category: "secret", level: 3, score: 1, pattern: /-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----/g },
  { type: "SECRET_AWS_ACCESS_KEY", category: "secret", level: 3, score: 0.95, pattern: /\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/g },
  { type: "SECRET_OPENAI_API_KEY", category: "secret", level: 3, score: 0.95, pattern: /\bsk-(?:proj-)?[A-Za-z0-9_-]{20,}\b/g },
  { type: "SECRET_ANTHROPIC_API_KEY", category: "secret", level: 3, score: 0.99, pattern: /\bsk-ant-[A-Za-z0-9_-]{20,}\b/g },
  { type: "SECRET_GITHUB_TOKEN", category: "secret", level: 3, score: 0.95, pattern: /\bgh[pousr]_[A-Za-z0-9]{36,}\b/g },
  { type: "SECRET_JWT", category: "secret", level: 3, score: 0.8, pattern: /\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\b/g },
  { type: "CREDIT_CARD", category: "pci", level: 2, score: 0.9, pattern: /\b\d(?:[ -]?\d){12,18}\b/g, validate: cardNumber },
  { type: "US_SSN", category: "pii", level: 2, score: 0.85, pattern: /\b\d{3}-\d{2}-\d{4}\b/g, validate: usSsn },
  { type: "EMAIL_ADDRESS", category: "pii", level: 1, score: 0.9, pattern: /\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b/g },
];

export function detect(text: string, offset: number, detectors: readonly Detector[] = DETECTORS): Array<Finding & { detector: Detector }> {
  const findings: Array<Finding & { detector: Detector }> = [];
  for (const detector of detectors) {
    for (const match of text.matchAll(detector.pattern)) {
      if (detector.validate && !detector.validate(match[0])) continue;
      const start = offset + (match.index ?? 0);
      findings.push({ type: detector.type, start, end: start + match[0].length, score: detector.score, detector });
    }
  }
  return findings;
}
