/**
 * One text in, findings out: fold odd Unicode, run every detector over the folded text (within the
 * scan cap), resolve overlaps, and map offsets back to the text as given (UTF-16 code units).
 * Pure and synchronous; the cost is linear in min(text length, cap).
 */
import type { Finding } from "../../context.ts";
import { emails, ipv6s, segwitAddresses } from "./identifiers.ts";
import { MAX_SCAN_PER_TEXT } from "./limits.ts";
import { fold, type Folded } from "./normalize.ts";
import { contextFor, type Emit } from "./scan.ts";
import { secretsByLiteral } from "./secrets.ts";
import { codesOf, releaseCodes, sweep } from "./sweep.ts";
import { compileTenantRules, scanTenantRules, type TenantRules } from "./tenant-rules.ts";

export interface Detection {
  findings: Finding[];
  /** Code units past the cap, not read. */
  unscanned: number;
}

const GENERIC_SECRETS = new Set(["SECRET_GENERIC", "SECRET_PASSWORD"]);

/**
 * Overlaps: a finding inside a specific secret's span is dropped (the secret covers it: the password
 * part of a connection string is not also an e-mail address, a keyword-found value that is an OpenAI
 * key is that key), a finding inside another that is as long or longer and scores at least as high
 * is dropped (digits inside an IBAN are not also a phone number; a routing number is not also a
 * phone number), and of two overlapping findings of one type
 * the earlier, longer one is kept.
 */
function resolve(raw: Finding[]): Finding[] {
  raw.sort((a, b) => a.start - b.start || b.end - a.end || b.score - a.score);
  const specific = (f: Finding) => f.category === "secret" && !GENERIC_SECRETS.has(f.type);
  const kept: Finding[] = [];
  const lastEndByType = new Map<string, number>();
  let secretEnd = -1;
  let cover: Finding | undefined;
  for (const finding of raw) {
    if (!specific(finding) && finding.end <= secretEnd) continue;
    if (cover && finding.end <= cover.end && finding.end - finding.start <= cover.end - cover.start && finding.score <= cover.score) continue;
    if ((lastEndByType.get(finding.type) ?? -1) > finding.start) continue;
    if (specific(finding)) secretEnd = Math.max(secretEnd, finding.end);
    lastEndByType.set(finding.type, finding.end);
    if (!cover || finding.end > cover.end) cover = finding;
    kept.push(finding);
  }
  return kept;
}

/** Detects in the first `cap` code units of `text`; the rest is counted as unscanned. */
export function detectWithin(text: string, cap: number, rules?: TenantRules): Detection {
  const scanned = text.length > cap ? text.slice(0, cap) : text;
  // One list per scanner, joined in a fixed order: overlaps are resolved by a stable sort, so findings
  // that tie on span and score keep this order.
  const lists: Finding[][] = [];
  const list = (): Emit => {
    const found: Finding[] = [];
    lists.push(found);
    return (finding) => void found.push(finding);
  };
  // Made one by one, in this order (a generic Array.from and destructuring cost more than the rest of
  // a short text's classification).
  const emits = {
    keys: list(), otherSecrets: list(), numbers: list(), mails: list(), ibans: list(), ips: list(), nifs: list(),
    deas: list(), icd10s: list(), base58s: list(), wallets: list(), names: list(), tenant: list(),
  };
  let folded: Folded = { text: scanned };
  try {
    // Text that is all ASCII (most of it) has nothing to fold, and its code units are read as they are.
    const given = codesOf(scanned);
    if (!given.ascii) folded = fold(scanned);
    const foldedText = folded.text;
    const { codes, ascii } = given.ascii ? given : codesOf(foldedText);
    contextFor(foldedText, ascii ? codes : undefined);
    sweep(foldedText, codes, emits);
    secretsByLiteral(foldedText, emits.otherSecrets);
    if (foldedText.includes("@")) emails(foldedText, emits.mails);
    if (foldedText.includes(":")) ipv6s(foldedText, emits.ips);
    segwitAddresses(foldedText, emits.wallets);
    if (rules) scanTenantRules(foldedText, compileTenantRules(rules), emits.tenant);
  } finally {
    contextFor(undefined);
    releaseCodes();
  }
  const raw: Finding[] = [];
  for (const found of lists) for (const finding of found) raw.push(finding);
  const findings = resolve(raw);
  if (folded.toOriginal) {
    for (const finding of findings) Object.assign(finding, folded.toOriginal(finding.start, finding.end));
  }
  return { findings, unscanned: text.length - scanned.length };
}

/**
 * Findings in one text, offsets into `text` as given. Text past MAX_SCAN_PER_TEXT is reported as one
 * UNSCANNED finding over the unread tail (restricted), so a redacting caller removes it too.
 */
export function detectText(text: string, rules?: TenantRules): Finding[] {
  const { findings, unscanned } = detectWithin(text, MAX_SCAN_PER_TEXT, rules);
  if (unscanned > 0) findings.push(unscannedFinding(text.length - unscanned, text.length));
  return findings;
}

export function unscannedFinding(start: number, end: number): Finding {
  return { type: "UNSCANNED", start, end, score: 1, category: "secret", level: 3 };
}
