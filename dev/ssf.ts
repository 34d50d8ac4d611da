/**
 * The dev Shared Signals transmitter (SSF 1.0, push delivery RFC 8935), standing in for an identity
 * provider's or an EDR's transmitter:
 *
 * - `GET /jwks`: the public key its SETs are signed with (the registry's `jwksUri`).
 * - `POST /transmit` (JSON `{ event, subject, payload? }`, loopback only): signs a SET (dev/ssf-set.ts)
 *   and pushes it to the gateway's `POST /ssf/events`; answers with the gateway's status and body.
 *
 * The key is fixed and TEST-ONLY (dev/pki/ssf-transmitter.jwk.json), so tests can sign SETs themselves.
 * Run directly (`tsx dev/ssf.ts`) it listens on SSF_ORIGIN's port.
 */
import { createServer, type IncomingMessage } from "node:http";
import { GATEWAY_ORIGIN, SSF_ORIGIN } from "./config.ts";
import { closeServer, isEntryPoint, listen } from "./lib/http-server.ts";
import { signSet, transmitterJwks } from "./ssf-set.ts";

export interface SsfTransmitterOptions {
  /** 0 picks a free port (tests). */
  port: number;
  host?: string;
  /** Where SETs are pushed (default: the gateway's receiver). */
  receiver?: string;
}

export interface RunningSsfTransmitter {
  origin: string;
  jwksUri: string;
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 16 * 1024;

async function readJson(request: IncomingMessage): Promise<unknown> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new Error("body too large");
    chunks.push(chunk);
  }
  return JSON.parse(Buffer.concat(chunks).toString("utf8"));
}

export async function startSsfTransmitter(options: SsfTransmitterOptions): Promise<RunningSsfTransmitter> {
  const host = options.host ?? "127.0.0.1";
  const receiver = options.receiver ?? `${GATEWAY_ORIGIN}/ssf/events`;
  const server = createServer((request, response) => {
    const send = (status: number, body: unknown) => {
      response.writeHead(status, { "content-type": "application/json" });
      response.end(JSON.stringify(body));
    };
    const path = new URL(request.url ?? "/", "http://localhost").pathname;
    if (request.method === "GET" && path === "/jwks") return send(200, transmitterJwks());
    if (request.method === "POST" && path === "/transmit") {
      void (async () => {
        try {
          const body = (await readJson(request)) as { event?: unknown; subject?: unknown; payload?: unknown };
          if (typeof body.event !== "string") return send(400, { error: "event is required" });
          const set = await signSet({ event: body.event, subject: body.subject, payload: (body.payload ?? {}) as Record<string, unknown> });
          const pushed = await fetch(receiver, { method: "POST", headers: { "content-type": "application/secevent+jwt", accept: "application/json" }, body: set });
          send(200, { status: pushed.status, body: await pushed.text() });
        } catch (error) {
          send(500, { error: String(error) });
        }
      })();
      return;
    }
    send(404, { error: "not found" });
  });
  const port = await listen(server, options.port, host);
  const origin = `http://${host}:${port}`;
  return { origin, jwksUri: `${origin}/jwks`, close: () => closeServer(server) };
}

if (isEntryPoint(import.meta.url)) {
  const running = await startSsfTransmitter({ port: Number(new URL(SSF_ORIGIN).port) });
  console.log(`dev SSF transmitter on ${running.origin} (keys at ${running.jwksUri})`);
}
