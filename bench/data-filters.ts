/**
 * The data plane's per-request costs beyond classification (issue 6, items 2 and 3): transforming a
 * request body by obligation (with the re-check of what leaves), and filtering a reply's text
 * (output scanning with bounded look-back, and detokenizing), with the gateway's own classifier.
 *
 * Pure code, timed in Node (V8, as workerd); each figure is the median (p50) and p90 of per-run times.
 *
 *   npx tsx bench/data-filters.ts      # writes bench/DATA-FILTERS.md
 */
import { writeFileSync } from "node:fs";
import os from "node:os";
import { detectText } from "../worker/data/classify/detect.ts";
import { BLOCK, createReplyFilter, replyClearance, WINDOW } from "../worker/data/reply-filter.ts";
import { TokenVault } from "../worker/data/tokens.ts";
import { transformRequest, transformRules } from "../worker/data/transform.ts";
import { parseObligations } from "../worker/policy/obligations.ts";
import { openai } from "../worker/providers/openai.ts";

const detect = (text: string) => detectText(text);
const RUNS = 200;

function percentiles(samples: number[]): { p50: number; p90: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  return { p50: sorted[Math.floor(sorted.length * 0.5)]!, p90: sorted[Math.floor(sorted.length * 0.9)]! };
}

function time(runs: number, fn: () => void): { p50: number; p90: number } {
  for (let i = 0; i < 20; i++) fn();
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    fn();
    samples.push(performance.now() - start);
  }
  return percentiles(samples);
}

/** About `size` characters of ordinary prose with a personal finding every ~400 characters. */
function mixedText(size: number): string {
  const parts: string[] = [];
  let length = 0;
  for (let i = 0; length < size; i++) {
    const part =
      i % 8 === 7
        ? `Please write to jane.doe${i}@example.com or call +44 20 7946 ${String(1000 + (i % 9000)).padStart(4, "0")} about it. `
        : "The quarterly report covers revenue, hiring and the roadmap for next year in some detail. ";
    parts.push(part);
    length += part.length;
  }
  return parts.join("").slice(0, size);
}

const loadBefore = os.loadavg()[0]!;
const prompt = mixedText(4096);
const body = { model: "gpt-4o-mini", messages: [{ role: "system", content: "You are helpful." }, { role: "user", content: prompt }] };
const rules = transformRules(parseObligations("redact:PII; mask:PCI", "bench"));
const transformCost = time(RUNS * 5, () => void transformRequest(openai, body, rules, new TokenVault(), detect, ["pii"]));
const noRulesCost = time(RUNS * 5, () => void transformRequest(openai, body, [], new TokenVault(), detect, ["pii"]));

const answer = mixedText(64 * 1024);
const clearance = replyClearance(parseObligations("reply:redact=PII", "bench"));
function streamed(deltaSize: number): void {
  const filter = createReplyFilter({ clearance, detect, tokens: new TokenVault() });
  for (let i = 0; i < answer.length; i += deltaSize) filter.push(answer.slice(i, i + deltaSize));
  filter.end();
}
const stream16 = time(RUNS / 4, () => streamed(16));
const whole = time(RUNS / 4, () => streamed(answer.length));
const classifierAlone = time(RUNS / 4, () => void detectText(answer));
const mbPerS = (ms: number) => answer.length / 1e6 / (ms / 1e3);

const report = `# Data plane filters (bench/data-filters.ts)

Node ${process.version}, ${new Date().toISOString()}. Reproduce: \`npx tsx bench/data-filters.ts\`.

| what | p50 | p90 |
|---|---|---|
| transform a 4 KB OpenAI prompt (redact:PII; mask:PCI), re-check included | ${transformCost.p50.toFixed(3)} ms | ${transformCost.p90.toFixed(3)} ms |
| no transform owed: the re-check alone (secrets policy never saw) | ${noRulesCost.p50.toFixed(3)} ms | ${noRulesCost.p90.toFixed(3)} ms |
| reply filter, 64 KB answer in 16-character deltas | ${stream16.p50.toFixed(2)} ms (${mbPerS(stream16.p50).toFixed(1)} MB/s) | ${stream16.p90.toFixed(2)} ms |
| reply filter, the same answer whole | ${whole.p50.toFixed(2)} ms (${mbPerS(whole.p50).toFixed(1)} MB/s) | ${whole.p90.toFixed(2)} ms |
| for reference: the classifier once over the same answer | ${classifierAlone.p50.toFixed(2)} ms (${mbPerS(classifierAlone.p50).toFixed(1)} MB/s) | ${classifierAlone.p90.toFixed(2)} ms |

The reply filter classifies each ${BLOCK}-character block inside a ${BLOCK + 2 * WINDOW}-character window (${WINDOW} before, ${WINDOW}
after), so it reads every character about ${((BLOCK + 2 * WINDOW) / BLOCK).toFixed(0)} times (plus the classifier's fixed cost per call): it follows
the classifier's speed, whatever the delta size. A larger block reads less often but holds more back
(BLOCK + WINDOW − 1 = ${BLOCK + WINDOW - 1} characters at most); a 64-character block read every character nine times.

Machine: ${os.cpus().length} cores, 1-minute load average ${loadBefore.toFixed(1)} before and ${os.loadavg()[0]!.toFixed(1)} after (wall-clock
figures include time spent waiting for a core; bench/CLASSIFY-BENCH.md also reports CPU time).
`;
writeFileSync(new URL("./DATA-FILTERS.md", import.meta.url), report);
console.log(report);
