/**
 * The local stack: the dev identity provider and the mock model backends in this process, and the
 * gateway under `wrangler dev` in a child process group with local KV seeded from kv-seeds/.
 * Used by `npm start` and by the tests' global set-up; `stop()` kills the whole process group
 * (wrangler spawns workerd, and a stray one keeps port 8787), then checks the ports are free.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EDGE_ORIGIN, GATEWAY_ORIGIN, IDP_MTLS_ORIGIN, IDP_ORIGIN, MOCK_BACKENDS, SPIFFE_ORIGIN, SSF_ORIGIN, TOOLS_ORIGIN, MCP_SERVER_ORIGIN } from "./config.ts";
import { startEdge } from "./edge.ts";
import { startIdp } from "./idp.ts";
import { startSpiffeIssuer } from "./spiffe.ts";
import { startSsfTransmitter } from "./ssf.ts";
import { startMockBackend } from "./mock-backend.ts";
import { startMockTools } from "./tools.ts";
import { startDevMcpServer } from "./mcp-server.ts";
import { stopGroup } from "./lib/process-group.ts";
import { DEV_TRUSTED_KEYS } from "./signing/sign-bundle.ts";
import { DEV_VAULT_KEKS, LOCAL_WORKERD_PLACEMENT } from "./vault-keys.ts";
import { seedEntries } from "./seed.ts";

const root = join(import.meta.dirname, "..");
const wranglerBin = join(root, "node_modules", "wrangler", "bin", "wrangler.js");

export interface Stack {
  stop(): Promise<void>;
}

export interface StackOptions {
  /** Where wrangler keeps local KV and Durable Object state. */
  persistTo?: string;
  log?: (line: string) => void;
}

function portOf(origin: string): number {
  return Number(new URL(origin).port);
}

function assertPortFree(port: number, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", () => reject(new Error(`port ${port} (${what}) is in use: is another \`npm start\` running?`)));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve()));
  });
}

function run(args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [wranglerBin, ...args], { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr.on("data", (d: Buffer) => (output += d.toString()));
    child.once("error", reject);
    child.once("exit", (code) => (code === 0 ? resolve() : reject(new Error(`wrangler ${args[0]} failed (${code}):\n${output}`))));
  });
}

async function waitForHealth(url: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited early (code ${child.exitCode})`);
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(1000) });
      if (response.ok) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`the gateway did not become healthy at ${url} within ${timeoutMs} ms`);
}

export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const log = options.log ?? ((line: string) => console.log(line));
  const persistTo = options.persistTo ?? join(root, ".wrangler", "state");
  await assertPortFree(portOf(GATEWAY_ORIGIN), "gateway");
  await assertPortFree(portOf(IDP_ORIGIN), "identity provider");
  await assertPortFree(portOf(IDP_MTLS_ORIGIN), "identity provider (mTLS)");
  await assertPortFree(portOf(EDGE_ORIGIN), "dev edge");
  await assertPortFree(portOf(SPIFFE_ORIGIN), "SPIFFE issuer");
  await assertPortFree(portOf(SSF_ORIGIN), "Shared Signals transmitter");
  await assertPortFree(portOf(TOOLS_ORIGIN), "mock tools");
  await assertPortFree(portOf(MCP_SERVER_ORIGIN), "dev MCP server");
  for (const backend of MOCK_BACKENDS) await assertPortFree(backend.port, `mock backend ${backend.id}`);

  const closers: Array<() => Promise<void>> = [];
  let gateway: ChildProcess | undefined;
  const stop = async () => {
    if (gateway) await stopGroup(gateway);
    await Promise.allSettled(closers.map((close) => close()));
  };

  try {
    const idp = await startIdp({ port: portOf(IDP_ORIGIN), mtlsPort: portOf(IDP_MTLS_ORIGIN) });
    closers.push(idp.close);
    closers.push((await startSpiffeIssuer({ port: portOf(SPIFFE_ORIGIN) })).close);
    closers.push((await startSsfTransmitter({ port: portOf(SSF_ORIGIN) })).close);
    closers.push((await startMockTools({ port: portOf(TOOLS_ORIGIN), gatewayOrigin: GATEWAY_ORIGIN })).close);
    closers.push((await startDevMcpServer({ port: portOf(MCP_SERVER_ORIGIN), gatewayOrigin: GATEWAY_ORIGIN })).close);
    for (const backend of MOCK_BACKENDS) closers.push((await startMockBackend(backend)).close);

    const env = { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "true", NO_COLOR: "1" };
    const seedDir = mkdtempSync(join(tmpdir(), "verity-seed-"));
    const seedFile = join(seedDir, "entries.json");
    writeFileSync(seedFile, JSON.stringify(seedEntries()));
    try {
      await run(["kv", "bulk", "put", seedFile, "--binding", "CONFIG", "--local", "--persist-to", persistTo], env);
    } finally {
      rmSync(seedDir, { recursive: true, force: true });
    }

    // wrangler.toml pins no bundle key; the local stack trusts the dev key its seeds are signed with.
    const vars = [...MOCK_BACKENDS.flatMap((b) => ["--var", `${b.secret}:${b.apiKey}`]), "--var", `BUNDLE_TRUSTED_KEYS:${DEV_TRUSTED_KEYS}`,
      // The mock services listen on loopback; only local development may name it (worker/network/addresses.ts).
      "--var", "VERITY_LOCAL_DEV:loopback"];
    // Test-only vault keys, and no Durable Object jurisdictions (local workerd has none): dev/vault-keys.ts.
    for (const [name, value] of Object.entries({ ...DEV_VAULT_KEKS, ...LOCAL_WORKERD_PLACEMENT })) vars.push("--var", `${name}:${value}`);
    gateway = spawn(
      process.execPath,
      [wranglerBin, "dev", "--ip", "127.0.0.1", "--port", String(portOf(GATEWAY_ORIGIN)), "--persist-to", persistTo, "--show-interactive-dev-session=false", ...vars],
      { cwd: root, env, detached: true, stdio: ["ignore", "pipe", "pipe"] },
    );
    let gatewayLog = "";
    const keep = (d: Buffer) => {
      gatewayLog = (gatewayLog + d.toString()).slice(-20_000);
    };
    gateway.stdout?.on("data", keep);
    gateway.stderr?.on("data", keep);
    try {
      await waitForHealth(`${GATEWAY_ORIGIN}/healthz`, gateway, 60_000);
    } catch (error) {
      throw new Error(`${(error as Error).message}\n--- wrangler dev output ---\n${gatewayLog}`);
    }
    closers.push((await startEdge({ port: portOf(EDGE_ORIGIN), gatewayOrigin: GATEWAY_ORIGIN })).close);
    gateway.stdout?.off("data", keep);
    gateway.stderr?.off("data", keep);
    gateway.stdout?.on("data", (d: Buffer) => process.env.VERITY_GATEWAY_LOG && process.stdout.write(d));
    gateway.stderr?.on("data", (d: Buffer) => process.env.VERITY_GATEWAY_LOG && process.stderr.write(d));
  } catch (error) {
    await stop();
    throw error;
  }

  log(`gateway            ${GATEWAY_ORIGIN}  (wrangler dev; local KV and Durable Objects in ${persistTo})`);
  log(`identity provider  ${IDP_ORIGIN}  (OpenID Connect discovery at /.well-known/openid-configuration)`);
  log(`  mTLS token endpoint ${IDP_MTLS_ORIGIN}/token  (certificate-bound tokens; client certificates in dev/pki)`);
  log(`dev edge           ${EDGE_ORIGIN}  (TLS with client certificates in front of the gateway, as Cloudflare's edge)`);
  log(`SPIFFE issuer      ${SPIFFE_ORIGIN}  (trust bundle at /bundle, JWT-SVIDs at POST /jwt-svid)`);
  log(`SSF transmitter    ${SSF_ORIGIN}  (keys at /jwks; POST /transmit pushes a CAEP event to the gateway)`);
  log(`mock tools         ${TOOLS_ORIGIN}  (the seeded tools at /tools/<id>; they verify the gateway's delegated tokens)`);
  log(`dev MCP server     ${MCP_SERVER_ORIGIN}/mcp  (acme-docs, reached through the gateway's /mcp/acme-docs)`);
  for (const b of MOCK_BACKENDS) log(`mock backend       http://127.0.0.1:${b.port}  ${b.id} (${b.region}, ${b.tier})`);
  return { stop };
}
