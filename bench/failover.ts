/**
 * What health and fail-over add to a request that does not fail (bench/FAILOVER.md):
 *
 * - the stream relay's break-off guard (`endOnBreak`, worker/providers/relay.ts): one more stream hop
 *   per upstream chunk, measured as CPU per chunk against the same chunks read directly;
 * - ordering the candidates by health (`health.order`, worker/providers/health.ts) for the seeded three.
 *
 * CPU time (process.cpuUsage), rounds interleaved so load affects both sides alike. `npx tsx bench/failover.ts`.
 */
import { writeFileSync } from "node:fs";
import os from "node:os";
import { createBackendHealth } from "../worker/providers/health.ts";
import { endOnBreak } from "../worker/providers/break-off.ts";

const CHUNKS = 20_000;
const ROUNDS = 15;
const chunk = new TextEncoder().encode(`data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: "hello" } }] })}\n\n`);

function source(): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent++ < CHUNKS) controller.enqueue(chunk);
      else controller.close();
    },
  });
}

async function drain(stream: ReadableStream<Uint8Array>): Promise<void> {
  // As the relay does: through a TransformStream, then read to the end.
  const reader = stream.pipeThrough(new TransformStream<Uint8Array, Uint8Array>()).getReader();
  while (!(await reader.read()).done);
}

async function cpuMicros(run: () => Promise<void>): Promise<number> {
  const before = process.cpuUsage();
  await run();
  const used = process.cpuUsage(before);
  return used.user + used.system;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

const loadBefore = os.loadavg()[0]!;
const direct: number[] = [];
const guarded: number[] = [];
await drain(source());
await drain(endOnBreak(source(), () => undefined));
for (let round = 0; round < ROUNDS; round++) {
  direct.push(await cpuMicros(() => drain(source())));
  guarded.push(await cpuMicros(() => drain(endOnBreak(source(), () => undefined))));
}
const perChunkDirect = (median(direct) * 1000) / CHUNKS;
const perChunkGuarded = (median(guarded) * 1000) / CHUNKS;

const health = createBackendHealth();
const backends = [
  { id: "eu-public", baseUrl: "http://127.0.0.1:8791" },
  { id: "us-public", baseUrl: "http://127.0.0.1:8792" },
  { id: "eu-confidential", baseUrl: "http://127.0.0.1:8793" },
];
// eu-public open: the order is rebuilt (the slower path).
for (let i = 0; i < 5; i++) health.failed(backends[0]!);
const ORDERS = 200_000;
const orderMicros = await cpuMicros(async () => {
  for (let i = 0; i < ORDERS; i++) health.order(backends);
});
const loadAfter = os.loadavg()[0]!;

const report = `# Health and fail-over on the request path (bench/failover.ts)

Node ${process.version}, ${new Date().toISOString()}. Reproduce: \`npx tsx bench/failover.ts\`.
CPU time (process.cpuUsage), median of ${ROUNDS} interleaved rounds of ${CHUNKS} SSE chunks.

| what | CPU |
|---|---|
| ${CHUNKS} upstream chunks through a TransformStream, read directly | ${perChunkDirect.toFixed(0)} ns/chunk |
| the same through the break-off guard (\`endOnBreak\`) first | ${perChunkGuarded.toFixed(0)} ns/chunk (+${(perChunkGuarded - perChunkDirect).toFixed(0)} ns) |
| \`health.order\` of the seeded 3 backends (eu-public open: reordered, the slower path) | ${((orderMicros * 1000) / ORDERS).toFixed(0)} ns/request |

A request that does not fail asks the PDP and the workload plane no more than before (the eligible set
is walked lazily), writes the same records (one field, \`attempt\`, more on the decision record) and
pays the two lines above. Fail-over itself costs one more decision record, transform and upstream call
per failed attempt.

Machine: ${os.cpus().length} cores, 1-minute load average ${loadBefore.toFixed(1)} before and ${loadAfter.toFixed(1)} after.
`;
writeFileSync(new URL("./FAILOVER.md", import.meta.url), report);
console.log(report);
