/**
 * The dev SPIFFE issuer for the trust domain SPIFFE_TRUST_DOMAIN, standing in for SPIRE:
 *
 * - `GET /bundle`: the trust domain's bundle (SPIFFE Trust Domain and Bundle §4): a JWK Set with the
 *   X.509-SVID CA (dev/pki/spiffe-ca.pem, `use: "x509-svid"`, `x5c`) and the JWT-SVID signing key
 *   (`use: "jwt-svid"`, `kid`), plus `spiffe_sequence` and `spiffe_refresh_hint`.
 * - `POST /jwt-svid` (form or JSON body with `audience`; HTTP Basic with a workload's client id and
 *   secret from dev/accounts.json): `{ svid }`, a JWT-SVID for `spiffe://<td>/workload/<name>`.
 *
 * SPIRE attests workloads by what they run as; here the workload's dev secret stands in for that.
 * The JWT-SVID key is generated at every start, so restarting rotates it (a new `kid`).
 * Run directly (`tsx dev/spiffe.ts`) it listens on SPIFFE_ORIGIN's port.
 */
import { createHash, timingSafeEqual, X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { join } from "node:path";
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT, type JWK } from "jose";
import { findWorkload } from "./accounts.ts";
import { SPIFFE_ORIGIN, SPIFFE_TRUST_DOMAIN } from "./config.ts";
import { closeServer, isEntryPoint, listen, readBodyAtMost } from "./lib/http-server.ts";

export interface SpiffeIssuerOptions {
  /** 0 picks a free port (tests). */
  port: number;
  host?: string;
}

export interface RunningSpiffeIssuer {
  /** `http://127.0.0.1:<port>`. */
  origin: string;
  /** Where the trust domain's bundle is served (the registry's `bundleUri`). */
  bundleUri: string;
  trustDomain: string;
  close(): Promise<void>;
}

/** SPIFFE JWT-SVID §3: short-lived; five minutes is SPIRE's default. */
const SVID_TTL_SECONDS = 300;
/** How often relying parties should refetch the bundle (Trust Domain and Bundle §4.1.2). */
const REFRESH_HINT_SECONDS = 300;
const MAX_BODY_BYTES = 16 * 1024;
const SPIFFE_CA = join(import.meta.dirname, "pki", "spiffe-ca.pem");

export function workloadSpiffeId(name: string): string {
  return `spiffe://${SPIFFE_TRUST_DOMAIN}/workload/${name}`;
}

export async function startSpiffeIssuer(options: SpiffeIssuerOptions): Promise<RunningSpiffeIssuer> {
  const { privateKey, publicKey } = await generateKeyPair("ES256", { extractable: true });
  const publicJwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(publicJwk);
  const bundle = {
    keys: [x509SvidEntry(), { ...publicJwk, kid, use: "jwt-svid" }],
    // Increases with every restart, which is also when the JWT-SVID key changes.
    spiffe_sequence: Math.floor(Date.now() / 1000),
    spiffe_refresh_hint: REFRESH_HINT_SECONDS,
  };

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      console.error("[spiffe] request failed:", error);
      if (!response.headersSent) send(response, 500, { error: "server_error" });
      else response.destroy();
    });
  });

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const path = new URL(request.url ?? "/", "http://localhost").pathname;
    if (path === "/bundle" && request.method === "GET") return send(response, 200, bundle);
    if (path === "/jwt-svid" && request.method === "POST") {
      const workload = authenticatedWorkload(request.headers.authorization);
      if (!workload) {
        response.setHeader("www-authenticate", 'Basic realm="spiffe"');
        return send(response, 401, { error: "invalid_client" });
      }
      const body = await readBodyAtMost(request, MAX_BODY_BYTES);
      if (body === undefined) return send(response, 413, { error: "invalid_request", error_description: "request body too large" });
      const audience = requestedAudience(request.headers["content-type"], body);
      if (audience === undefined) return send(response, 400, { error: "invalid_request", error_description: "audience is required" });
      const now = Math.floor(Date.now() / 1000);
      const svid = await new SignJWT({})
        .setProtectedHeader({ alg: "ES256", typ: "JWT", kid })
        .setSubject(workloadSpiffeId(workload))
        .setAudience([audience])
        .setIssuedAt(now)
        .setExpirationTime(now + SVID_TTL_SECONDS)
        .sign(privateKey);
      return send(response, 200, { svid });
    }
    send(response, 404, { error: "not_found" });
  }

  const host = options.host ?? "127.0.0.1";
  const port = await listen(server, options.port, host);
  const origin = `http://127.0.0.1:${port}`;
  return { origin, bundleUri: `${origin}/bundle`, trustDomain: SPIFFE_TRUST_DOMAIN, close: () => closeServer(server) };
}

/** The bundle entry for the X.509-SVID CA: its public key as a JWK, and the certificate in `x5c`. */
function x509SvidEntry(): JWK {
  const pem = readFileSync(SPIFFE_CA, "utf8");
  const base64 = pem.replace(/-----(BEGIN|END) CERTIFICATE-----|\s/g, "");
  const jwk: JWK = new X509Certificate(Buffer.from(base64, "base64")).publicKey.export({ format: "jwk" });
  return { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y, use: "x509-svid", x5c: [base64] };
}

/** RFC 6749 §2.3.1: HTTP Basic with the form-urlencoded client id and secret. */
function authenticatedWorkload(authorization: string | undefined): string | undefined {
  const match = /^Basic ([A-Za-z0-9+/]+=*)$/i.exec(authorization ?? "");
  if (!match?.[1]) return undefined;
  const decoded = Buffer.from(match[1], "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon === -1) return undefined;
  let id: string;
  let secret: string;
  try {
    id = decodeURIComponent(decoded.slice(0, colon).replace(/\+/g, " "));
    secret = decodeURIComponent(decoded.slice(colon + 1).replace(/\+/g, " "));
  } catch {
    return undefined;
  }
  const workload = findWorkload(id);
  // Compared as digests so the comparison takes the same time whatever the lengths.
  const digest = (value: string) => createHash("sha256").update(value).digest();
  return workload && timingSafeEqual(digest(secret), digest(workload.clientSecret)) ? workload.name : undefined;
}

function requestedAudience(contentType: string | undefined, body: string): string | undefined {
  let audience: unknown;
  if (contentType?.startsWith("application/json")) {
    try {
      audience = (JSON.parse(body) as { audience?: unknown }).audience;
    } catch {
      return undefined;
    }
  } else {
    audience = new URLSearchParams(body).get("audience") ?? undefined;
  }
  return typeof audience === "string" && audience.length > 0 ? audience : undefined;
}

function send(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { "content-type": "application/json", "cache-control": "no-store" });
  response.end(JSON.stringify(body));
}

if (isEntryPoint(import.meta.url)) {
  const issuer = await startSpiffeIssuer({ port: Number(new URL(SPIFFE_ORIGIN).port) });
  console.log(`dev SPIFFE issuer for ${issuer.trustDomain} at ${issuer.origin} (bundle ${issuer.bundleUri})`);
}
