/**
 * `tsx bench/profile.ts`: where Verity spends its CPU. Starts the same stack as `npm run bench`
 * (dev IdP, mock backends, the Verity build under Miniflare), drives it with autocannon for
 * BENCH_DURATION_S seconds (default 5) per mode while V8's sampling profiler runs inside workerd
 * (through its inspector on 127.0.0.1), and prints the functions with the most self time, grouped
 * by source file. Not part of `npm run bench`; a diagnostic for reading REPORT.md's CPU numbers.
 */
import { IDP_ORIGIN, MOCK_BACKENDS } from "../dev/config.ts";
import { startIdp } from "../dev/idp.ts";
import { startMockBackend } from "../dev/mock-backend.ts";
import { tokenFor } from "../test/support/tokens.ts";
import { buildWorker, readWranglerToml, removeBuild } from "./build.ts";
import { runLoad } from "./load.ts";
import { assertPortFree, freePort } from "./ports.ts";
import { chatBody } from "./prompt.ts";
import { benchSeedEntries, veritySpec } from "./verity-worker.ts";
import { startWorker } from "./workers.ts";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
}

class Inspector {
  #ws: WebSocket;
  #next = 1;
  #pending = new Map<number, (value: unknown) => void>();
  private constructor(ws: WebSocket) {
    this.#ws = ws;
    ws.addEventListener("message", (event) => {
      const message = JSON.parse(String(event.data)) as { id?: number; result?: unknown; error?: unknown };
      if (message.id !== undefined) this.#pending.get(message.id)?.(message.error ? Promise.reject(new Error(JSON.stringify(message.error))) : message.result);
    });
  }
  static open(url: string): Promise<Inspector> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url);
      ws.addEventListener("open", () => resolve(new Inspector(ws)));
      ws.addEventListener("error", () => reject(new Error(`cannot open ${url}`)));
    });
  }
  send<T>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    const id = this.#next++;
    return new Promise<T>((resolve) => {
      this.#pending.set(id, resolve as (value: unknown) => void);
      this.#ws.send(JSON.stringify({ id, method, params }));
    });
  }
  close(): void {
    this.#ws.close();
  }
}

function summarise(profile: Profile, top = 25): string[] {
  const interval = (profile.endTime - profile.startTime) / 1000 / Math.max(1, profile.nodes.reduce((s, n) => s + (n.hitCount ?? 0), 0));
  const byFunction = new Map<string, number>();
  const byFile = new Map<string, number>();
  let total = 0;
  for (const node of profile.nodes) {
    const hits = node.hitCount ?? 0;
    if (hits === 0) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const file = url === "" ? "(native/runtime)" : url.replace(/^.*\//, "");
    const name = `${functionName || "(anonymous)"}  ${file}:${lineNumber + 1}`;
    byFunction.set(name, (byFunction.get(name) ?? 0) + hits);
    const group = functionName.startsWith("(") ? functionName : file;
    byFile.set(group, (byFile.get(group) ?? 0) + hits);
    total += hits;
  }
  const pct = (n: number) => `${((100 * n) / total).toFixed(1).padStart(5)} %`;
  const lines = [`samples: ${total} (≈${interval.toFixed(2)} ms each)`, "", "self time by function:"];
  for (const [name, hits] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`  ${pct(hits)}  ${name}`);
  lines.push("", "self time by script:");
  for (const [name, hits] of [...byFile].sort((a, b) => b[1] - a[1]).slice(0, 10)) lines.push(`  ${pct(hits)}  ${name}`);
  return lines;
}

const durationS = Number(process.env.BENCH_DURATION_S ?? 5);
const closers: Array<() => unknown> = [];
try {
  await assertPortFree(Number(new URL(IDP_ORIGIN).port), "dev identity provider");
  for (const b of MOCK_BACKENDS) await assertPortFree(b.port, `mock backend ${b.id}`);
  const idp = await startIdp({ port: Number(new URL(IDP_ORIGIN).port) });
  closers.push(idp.close);
  for (const spec of MOCK_BACKENDS) closers.push((await startMockBackend(spec)).close);
  const build = await buildWorker("verity-profile");
  closers.push(() => removeBuild(build));
  const wrangler = readWranglerToml();
  const inspectorPort = await freePort();
  const worker = await startWorker({ ...veritySpec("verity", build.modules, wrangler), inspectorPort });
  closers.push(worker.dispose);
  const kv = await worker.mf.getKVNamespace("CONFIG");
  for (const entry of benchSeedEntries()) await kv.put(entry.key, entry.value);
  const token = await tokenFor("alice", idp.issuer);
  const target = { name: "verity", url: `${worker.url}/v1/chat/completions`, headers: { authorization: `Bearer ${token}` } };
  const targets = (await (await fetch(`http://127.0.0.1:${inspectorPort}/json`)).json()) as Array<{ id: string; title: string; webSocketDebuggerUrl: string }>;
  const entry = targets.find((t) => t.id.includes("verity") || t.title.includes("verity"));
  if (!entry) throw new Error(`no inspector target for verity among ${JSON.stringify(targets.map((t) => t.id))}`);
  for (const stream of [false, true]) {
    const body = chatBody(2048, stream);
    await runLoad(target, body, { connections: 50, durationS: 2, clientThread: true });
    const inspector = await Inspector.open(entry.webSocketDebuggerUrl);
    await inspector.send("Profiler.enable");
    await inspector.send("Profiler.setSamplingInterval", { interval: 200 });
    await inspector.send("Profiler.start");
    const result = await runLoad(target, body, { connections: 50, durationS, clientThread: true });
    const { profile } = await inspector.send<{ profile: Profile }>("Profiler.stop");
    inspector.close();
    console.log(`\n=== verity, ${stream ? "streaming" : "non-streaming"}: ${Math.round(result.rps)} req/s, ${result.non2xx} non-2xx ===`);
    for (const line of summarise(profile)) console.log(line);
  }
} finally {
  for (const close of closers.reverse()) await Promise.resolve(close()).catch(() => undefined);
}
