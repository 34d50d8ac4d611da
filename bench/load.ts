/**
 * The two measurements of a target: throughput/latency under load (autocannon) and time to first
 * byte of a streamed reply (sequential requests, node:http, high-resolution clock).
 */
import autocannon from "autocannon";
import { request as httpRequest, Agent } from "node:http";

export interface Target {
  name: string;
  /** Full URL of the chat completions route. */
  url: string;
  headers: Record<string, string>;
}

export interface LoadResult {
  requests: number;
  rps: number;
  latencyMs: { mean: number; p50: number; p90: number; p99: number; max: number };
  non2xx: number;
  errors: number;
  timeouts: number;
  durationS: number;
  /** CPU seconds the gateway process spent during the run, divided by requests (ms). */
  gatewayCpuMsPerRequest?: number;
  gatewayCpuUtilisation?: number;
  /** CPU of this process (autocannon's thread, the mock backend, the IdP) over the run, in cores. */
  benchProcessCpuUtilisation?: number;
}

export interface LoadOptions {
  connections: number;
  durationS: number;
  clientThread: boolean;
}

/** Runs autocannon for `durationS` seconds (bounded by time, and by a 10 s per-request timeout). */
export async function runLoad(target: Target, body: string, options: LoadOptions): Promise<LoadResult> {
  const result = await autocannon({
    url: target.url,
    method: "POST",
    headers: { "content-type": "application/json", ...target.headers },
    body,
    connections: options.connections,
    duration: options.durationS,
    timeout: 10,
    pipelining: 1,
    ...(options.clientThread ? { workers: 1 } : {}),
  });
  const requests = result.requests.total;
  return {
    requests,
    rps: requests / result.duration,
    latencyMs: {
      mean: result.latency.mean,
      p50: result.latency.p50,
      p90: result.latency.p90,
      p99: result.latency.p99,
      max: result.latency.max,
    },
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    durationS: result.duration,
  };
}

export interface TtfbResult {
  samples: number;
  /** Medians, ms: response headers, first body byte, last body byte. */
  headersMs: number;
  firstByteMs: number;
  totalMs: number;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

interface Timing {
  status: number;
  headersMs: number;
  firstByteMs: number;
  totalMs: number;
  body: string;
}

/** One request, timed on the client from the first write: headers, first body chunk, end. */
export function timedRequest(url: string, headers: Record<string, string>, body: string, agent?: Agent): Promise<Timing> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    let headersMs = 0;
    let firstByteMs = 0;
    const chunks: Buffer[] = [];
    const req = httpRequest(
      url,
      { method: "POST", agent, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body), ...headers } },
      (res) => {
        headersMs = performance.now() - started;
        res.on("data", (chunk: Buffer) => {
          if (chunks.length === 0) firstByteMs = performance.now() - started;
          chunks.push(chunk);
        });
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, headersMs, firstByteMs, totalMs: performance.now() - started, body: Buffer.concat(chunks).toString("utf8") }),
        );
        res.on("error", reject);
      },
    );
    req.setTimeout(10_000, () => req.destroy(new Error(`${url}: no answer within 10 s`)));
    req.on("error", reject);
    req.end(body);
  });
}

/** `samples` sequential streamed requests on one keep-alive connection; medians. */
export async function measureTtfb(target: Target, streamBody: string, samples: number): Promise<TtfbResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const timings: Timing[] = [];
    for (let i = 0; i < samples; i++) {
      const timing = await timedRequest(target.url, target.headers, streamBody, agent);
      if (timing.status !== 200) throw new Error(`${target.name}: streamed request answered ${timing.status}: ${timing.body.slice(0, 300)}`);
      timings.push(timing);
    }
    return {
      samples,
      headersMs: median(timings.map((t) => t.headersMs)),
      firstByteMs: median(timings.map((t) => t.firstByteMs)),
      totalMs: median(timings.map((t) => t.totalMs)),
    };
  } finally {
    agent.destroy();
  }
}
