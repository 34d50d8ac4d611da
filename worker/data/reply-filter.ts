/**
 * Pure text filters for model replies, one per content block (per OpenAI choice / Anthropic content
 * block index), fed every text delta as it streams, or a whole reply as one delta. Two stages:
 *
 * 1. **Output scanning.** The model's text is classified as it streams. Findings above the caller's
 *    clearance are redacted (`[REDACTED:<TYPE>]`) before they are forwarded, or the reply is stopped
 *    (`stop` set: forward `text`, then end the reply with the provider's error event). The clearance:
 *    secrets (category SECRET) are never returned to a caller — redacted by default, stopped with
 *    `reply:stop=SECRET` — and policy adds categories with `reply:redact=<CATEGORY>` /
 *    `reply:stop=<CATEGORY>` obligations (CATEGORY as in transform.ts). Stop wins over redact.
 *
 *    Bounded look-back, never the whole answer: text is released in blocks of BLOCK (256) characters,
 *    each once WINDOW (256) characters after it have arrived (or at the end), and each block is
 *    classified inside a window reaching WINDOW characters before and after it. So a finding up to
 *    WINDOW characters long, split across any number of deltas, is seen whole; one that reaches the
 *    end of its window may be longer than the window (a long token), so its redaction goes on to the
 *    next whitespace, however far that is. At most BLOCK + WINDOW − 1 characters
 *    are held back, and between deltas at most BLOCK + 2 × WINDOW are kept. Each character is
 *    classified (BLOCK + 2 × WINDOW) / BLOCK = 3 times: a smaller block shortens a stream's delay but
 *    multiplies the classifier's work (64 cost 9 readings a character).
 *
 * 2. **Detokenizing.** Placeholders of the request's TokenVault (tokenize obligations) are replaced
 *    by the caller's original values, even when a placeholder is split across deltas (a possibly
 *    unfinished placeholder at the end is held back, at most the longest placeholder's length). The
 *    scan runs on the model's text, before restoring: the restored values are the caller's own.
 *
 * Both stages decide from the text alone, never from where the deltas were cut: for any split of a
 * reply into deltas, the concatenated output (and whether it stops) is that of the unsplit reply.
 */
import type { Obligation } from "../policy/types.ts";
import { GatewayError } from "../errors.ts";
import type { TokenVault } from "./tokens.ts";
import { countOne, inCategory, type Span, type TextDetector } from "./transform.ts";

/** What may be forwarded now; `stop` set: forward `text`, then end the reply with this error. */
export interface FilterStep {
  text: string;
  stop?: GatewayError;
}

export interface ReplyTextFilter {
  push(delta: string): FilterStep;
  /** At the end of the block (or of a whole reply): releases what was held back. */
  end(): FilterStep;
}

export type ReplyAction = "redact" | "stop";

export interface ReplyRule {
  category: string;
  action: ReplyAction;
}

/** What the caller may not receive in a reply, and what happens when the model sends it anyway. */
export interface ReplyClearance {
  rules: readonly ReplyRule[];
}

/** The gateway's default: secrets never reach a caller. */
export const DEFAULT_CLEARANCE: ReplyClearance = { rules: [{ category: "SECRET", action: "redact" }] };

/** The clearance for a request: the default, plus the allow's `reply:` obligations. */
export function replyClearance(obligations: readonly Obligation[]): ReplyClearance {
  const rules: ReplyRule[] = [...DEFAULT_CLEARANCE.rules];
  for (const o of obligations) if (o.kind === "reply") rules.push({ category: o.category, action: o.action });
  return { rules };
}

/** One finding in a reply, as reported for the completion record (no value). */
export interface OutputFinding {
  type: string;
  category: string;
  action: ReplyAction;
}

export interface ReplyFilterOptions {
  clearance: ReplyClearance;
  /** The request's vault, when it tokenized anything: its placeholders are restored. */
  tokens?: TokenVault;
  /** Called once per finding acted on (redacted, or the one that stopped the reply). */
  onFinding?: (finding: OutputFinding) => void;
  /** The classifier, with the tenant's rules (the same one the request was classified with). */
  detect: TextDetector;
}

/** Look-back and look-ahead of the scan, in UTF-16 code units: the longest finding always seen whole. */
export const WINDOW = 256;
/** Characters released at a time; each release classifies BLOCK + 2 × WINDOW characters. */
export const BLOCK = 256;

export function outputWithheld(): GatewayError {
  return new GatewayError("output_withheld", "the model's reply carried data this caller may not receive; it was stopped");
}

/** The scanning stage alone (see the module comment). */
function createScanner(options: ReplyFilterOptions) {
  const detect = options.detect;
  const rules = options.clearance.rules;
  /** The text from absolute position `base` on (what is still needed for look-back and release). */
  let buffer = "";
  let base = 0;
  let total = 0;
  /** The start of the next block to release. */
  let next = 0;
  /** The end of the redaction in progress (its marker already released). */
  let redactedUntil = 0;
  /** The redaction in progress reached the end of its window: it goes on to the next whitespace. */
  let open = false;
  let stopped: GatewayError | undefined;

  const actionFor = (span: Span): ReplyAction | undefined => {
    let action: ReplyAction | undefined;
    for (const rule of rules) if (inCategory(rule.category, span) && action !== "stop") action = rule.action;
    return action;
  };
  const slice = (from: number, to: number) => buffer.slice(from - base, to - base);
  const report = (span: Span, action: ReplyAction) => options.onFinding?.({ type: span.type, category: span.category, action });

  /** Releases [start, end), classified within [start − WINDOW, windowEnd). */
  function release(start: number, end: number, windowEnd: number): string {
    const windowStart = Math.max(0, start - WINDOW);
    const spans = detect(slice(windowStart, windowEnd))
      .map((s) => ({ ...s, start: s.start + windowStart, end: s.end + windowStart }))
      .sort((a, b) => a.start - b.start || b.end - a.end);
    if (open && redactedUntil < end) {
      let p = redactedUntil;
      while (p < end && !/\s/.test(buffer.charAt(p - base))) p++;
      redactedUntil = p;
      open = p === end;
    }
    let out = "";
    let pos = Math.max(start, Math.min(redactedUntil, end));
    for (const span of spans) {
      if (span.start >= end) break;
      if (span.end <= pos) continue;
      const action = actionFor(span);
      if (action === undefined) continue;
      if (span.start < redactedUntil) {
        // The redaction in progress turns out longer than first seen: it goes on, with no new marker.
        if (span.end >= redactedUntil) open = span.end >= windowEnd;
        redactedUntil = Math.max(redactedUntil, span.end);
        pos = Math.min(redactedUntil, end);
        continue;
      }
      out += slice(pos, Math.max(pos, span.start));
      report(span, action);
      if (action === "stop") {
        stopped = outputWithheld();
        return out;
      }
      out += `[REDACTED:${span.type}]`;
      redactedUntil = span.end;
      open = span.end >= windowEnd;
      pos = Math.min(span.end, end);
    }
    return out + slice(pos, end);
  }

  function drain(final: boolean): string {
    let out = "";
    const from = next;
    while (!stopped && (final ? next < total : next + BLOCK + WINDOW <= total)) {
      const end = Math.min(next + BLOCK, total);
      out += release(next, end, Math.min(end + WINDOW, total));
      next = end;
    }
    // Keep only what the next window still looks back at (trimmed only after a release: trimming on
    // every small delta would copy the kept text each time).
    if (next === from) return out;
    const keepFrom = Math.max(base, next - WINDOW);
    buffer = buffer.slice(keepFrom - base);
    base = keepFrom;
    return out;
  }

  return {
    get stopped() {
      return stopped;
    },
    push(delta: string): string {
      if (stopped) return "";
      buffer += delta;
      total += delta.length;
      return drain(false);
    },
    end(): string {
      return stopped ? "" : drain(true);
    },
  };
}

/** The detokenizing stage alone: restores the vault's placeholders, holding back an unfinished one. */
function createRestorer(tokens: TokenVault | undefined, restored: (n: number) => void) {
  let pending = "";
  const out = (text: string) => {
    if (!tokens) return text;
    const step = tokens.restore(text);
    if (step.restored > 0) restored(step.restored);
    return step.text;
  };
  return {
    push(text: string): string {
      if (!tokens || tokens.size === 0) return text;
      pending += text;
      const from = tokens.pendingFrom(pending);
      const ready = pending.slice(0, from);
      pending = pending.slice(from);
      return out(ready);
    },
    end(): string {
      const rest = pending;
      pending = "";
      return out(rest);
    },
  };
}

/** One filter for one content block: scan, then restore placeholders (see the module comment). */
export function createReplyFilter(options: ReplyFilterOptions, restored: (n: number) => void = () => undefined): ReplyTextFilter {
  const scanner = createScanner(options);
  const restorer = createRestorer(options.tokens, restored);
  let stopReported = false;
  const step = (text: string, final: boolean): FilterStep => {
    const stop = scanner.stopped;
    if (!stop) return { text: final ? restorer.push(text) + restorer.end() : restorer.push(text) };
    // Stopped: what was released before the finding goes out whole, then nothing more.
    const last = stopReported ? "" : restorer.push(text) + restorer.end();
    stopReported = true;
    return { text: last, stop };
  };
  return {
    push: (delta) => step(scanner.push(delta), false),
    end: () => step(scanner.end(), true),
  };
}

/**
 * Counts of a request's output findings per action and type, and placeholders restored (no values).
 * A type, not an interface, so it is JSON for the audit record.
 */
export type ReplySummary = {
  redact: Record<string, number>;
  stop: Record<string, number>;
  restored: number;
};

/** Builds the request's filters, one per content block, and sums what they did for the audit record. */
export interface ReplyFilters {
  (): ReplyTextFilter;
  summary(): ReplySummary;
}

/**
 * The per-request factory the pipeline builds and the relay calls once per content block:
 * `const filters = replyFilters({ clearance, tokens, onFinding }); const filter = filters();` then
 * `filter.push(delta)` for each text delta and `filter.end()` at the block's end; `filters.summary()`
 * for the completion record.
 */
export function replyFilters(options: ReplyFilterOptions): ReplyFilters {
  const summary: ReplySummary = { redact: {}, stop: {}, restored: 0 };
  const perBlock: ReplyFilterOptions = {
    ...options,
    onFinding: (finding) => {
      countOne(summary[finding.action], finding.type);
      options.onFinding?.(finding);
    },
  };
  const restored = (n: number) => {
    summary.restored += n;
  };
  return Object.assign(() => createReplyFilter(perBlock, restored), {
    summary: (): ReplySummary => ({ redact: { ...summary.redact }, stop: { ...summary.stop }, restored: summary.restored }),
  });
}
