import { readFileSync } from "node:fs";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import { request as httpsRequest } from "node:https";
import { convertV4MiniflareOptions, Miniflare } from "miniflare";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CF_BLOB_HEADER, startEdge, type RunningEdge } from "../../dev/edge.ts";
import { closeServer, listen } from "../../dev/lib/http-server.ts";
import { clientCertificate } from "../../worker/identity/client-certificate.ts";

const pki = (file: string) => readFileSync(new URL(`../../dev/pki/${file}`, import.meta.url), "utf8");
const THUMBPRINTS = JSON.parse(pki("thumbprints.json")) as Record<string, string>;

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** An https call to the edge, trusting the dev server CA, presenting dev/pki/<certificate> if named. */
function call(origin: string, options: { certificate?: string; method?: string; path?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const url = new URL(options.path ?? "/", origin);
    const request = httpsRequest(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname + url.search,
        method: options.method ?? "GET",
        headers: options.headers,
        ca: pki("server-ca.pem"),
        ...(options.certificate ? { cert: pki(`${options.certificate}.pem`), key: pki(`${options.certificate}.key.pem`) } : {}),
        // A fresh TLS session per call, so each call presents its own certificate.
        agent: false,
      },
      (response) => {
        let body = "";
        response.setEncoding("utf8");
        response.on("data", (chunk: string) => (body += chunk));
        response.on("end", () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body }));
      },
    );
    request.on("error", reject);
    request.end(options.body);
  });
}

interface Echo {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** Stands in for the gateway: answers with what it received. */
let gateway: Server;
let gatewayOrigin: string;
let edge: RunningEdge;

beforeAll(async () => {
  gateway = createServer((request, response) => {
    let body = "";
    request.setEncoding("utf8");
    request.on("data", (chunk: string) => (body += chunk));
    request.on("end", () => {
      const echo: Echo = { method: request.method ?? "", url: request.url ?? "", headers: request.headers, body };
      response.writeHead(201, { "content-type": "application/json", "x-from-gateway": "yes" });
      response.end(JSON.stringify(echo));
    });
  });
  gatewayOrigin = `http://127.0.0.1:${await listen(gateway, 0, "127.0.0.1")}`;
  edge = await startEdge({ port: 0, gatewayOrigin });
});

afterAll(async () => {
  await edge?.close();
  await closeServer(gateway);
});

async function forwarded(options: Parameters<typeof call>[1] = {}): Promise<{ echo: Echo; tlsClientAuth: Record<string, unknown> }> {
  const answer = await call(edge.origin, options);
  expect(answer.status).toBe(201);
  const echo = JSON.parse(answer.body) as Echo;
  const blob = JSON.parse(String(echo.headers[CF_BLOB_HEADER])) as { tlsClientAuth: Record<string, unknown> };
  return { echo, tlsClientAuth: blob.tlsClientAuth };
}

describe("dev edge: tlsClientAuth", () => {
  it("reports no certificate as Cloudflare's placeholder", async () => {
    const { tlsClientAuth } = await forwarded();
    expect(tlsClientAuth).toMatchObject({ certPresented: "0", certVerified: "NONE", certRevoked: "0", certRFC9440: "", certRFC9440TooLarge: false });
  });

  it("reports a verified client certificate with its RFC 9440 leaf and details", async () => {
    const { tlsClientAuth } = await forwarded({ certificate: "acme-batch-client" });
    const der = Buffer.from(pki("acme-batch-client.pem").replace(/-----(BEGIN|END) CERTIFICATE-----|\s/g, ""), "base64");
    expect(tlsClientAuth).toMatchObject({
      certPresented: "1",
      certVerified: "SUCCESS",
      certRevoked: "0",
      certRFC9440: `:${der.toString("base64")}:`,
      certRFC9440TooLarge: false,
      certFingerprintSHA256: Buffer.from(THUMBPRINTS["acme-batch-client"]!, "base64url").toString("hex"),
      certIssuerDN: "CN=Verity Dev Client CA",
      certChainRFC9440: "",
    });
    expect(String(tlsClientAuth.certSubjectDN)).toContain("CN=acme-batch");
    expect(tlsClientAuth.certNotAfter).toMatch(/^[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \d{4} GMT$/);
    expect(tlsClientAuth.certSerial).toMatch(/^[0-9A-F]+$/);
    expect(tlsClientAuth.certSKI).toMatch(/^([0-9A-F]{2}:)+[0-9A-F]{2}$/);
    expect(tlsClientAuth.certIssuerSKI).toMatch(/^([0-9A-F]{2}:)+[0-9A-F]{2}$/);
  });

  it("verifies X.509-SVIDs against the SPIFFE CA", async () => {
    const { tlsClientAuth } = await forwarded({ certificate: "acme-batch-svid" });
    expect(tlsClientAuth).toMatchObject({ certPresented: "1", certVerified: "SUCCESS", certRevoked: "0" });
  });

  it("reports a self-signed certificate as FAILED", async () => {
    const { tlsClientAuth } = await forwarded({ certificate: "stranger" });
    expect(tlsClientAuth).toMatchObject({ certPresented: "1", certVerified: "FAILED:self signed certificate", certRevoked: "0" });
  });

  it("reports the revoked client as verified and revoked", async () => {
    const { tlsClientAuth } = await forwarded({ certificate: "revoked-client" });
    expect(tlsClientAuth).toMatchObject({ certVerified: "SUCCESS", certRevoked: "1" });
  });

  it("produces what the gateway's clientCertificate reads, and what it refuses", async () => {
    const accepted = await clientCertificate({ tlsClientAuth: (await forwarded({ certificate: "alice-device" })).tlsClientAuth });
    expect(accepted?.thumbprint).toBe(THUMBPRINTS["alice-device"]);
    for (const refused of ["stranger", "revoked-client"]) {
      const cf = { tlsClientAuth: (await forwarded({ certificate: refused })).tlsClientAuth };
      await expect(clientCertificate(cf)).rejects.toMatchObject({ code: "certificate_invalid" });
    }
  });
});

describe("dev edge: forwarding", () => {
  it("drops a client's own MF-CF-Blob and sets its own", async () => {
    const forged = JSON.stringify({ tlsClientAuth: { certPresented: "1", certVerified: "SUCCESS", certRevoked: "0", certRFC9440: ":AAAA:" } });
    const { tlsClientAuth } = await forwarded({ headers: { "MF-CF-Blob": forged } });
    expect(tlsClientAuth.certPresented).toBe("0");
  });

  it("forwards method, path, query, headers and body; the gateway sees the edge's URL", async () => {
    const { echo } = await forwarded({
      method: "POST",
      path: "/v1/chat/completions?x=1",
      headers: { "content-type": "application/json", authorization: "DPoP abc", dpop: "proof", "cf-connecting-ip": "6.6.6.6" },
      body: JSON.stringify({ model: "m" }),
    });
    expect(echo.method).toBe("POST");
    expect(echo.url).toBe("/v1/chat/completions?x=1");
    expect(echo.body).toBe('{"model":"m"}');
    expect(echo.headers).toMatchObject({ authorization: "DPoP abc", dpop: "proof", "cf-connecting-ip": "127.0.0.1" });
    expect(echo.headers["mf-original-url"]).toBe(`${edge.origin}/v1/chat/completions?x=1`);
    expect(echo.headers.host).toBe(new URL(gatewayOrigin).host);
  });

  it("passes the gateway's status and headers back", async () => {
    const answer = await call(edge.origin, { path: "/x" });
    expect(answer.status).toBe(201);
    expect(answer.headers["x-from-gateway"]).toBe("yes");
  });

  it("answers 502 when the gateway is down", async () => {
    const down = await startEdge({ port: 0, gatewayOrigin: "http://127.0.0.1:1" });
    try {
      const answer = await call(down.origin);
      expect(answer.status).toBe(502);
    } finally {
      await down.close();
    }
  });
});

describe("dev edge in front of a Worker (miniflare)", () => {
  let mf: Miniflare;
  let workerEdge: RunningEdge;

  beforeAll(async () => {
    mf = new Miniflare(
      convertV4MiniflareOptions({
        host: "127.0.0.1",
        port: 0,
        cf: false,
        telemetry: { enabled: false },
        logRequests: false,
        workers: [
          {
            name: "echo-cf",
            modules: true,
            compatibilityDate: "2025-01-01",
            script: `export default { fetch(request) { return Response.json({ url: request.url, tlsClientAuth: request.cf?.tlsClientAuth ?? null }); } };`,
          },
        ],
      } as Parameters<typeof convertV4MiniflareOptions>[0]),
    );
    const url = await mf.ready;
    workerEdge = await startEdge({ port: 0, gatewayOrigin: url.origin });
  });

  afterAll(async () => {
    await workerEdge?.close();
    await mf?.dispose();
  });

  it("the Worker sees request.cf.tlsClientAuth and the URL the client called", async () => {
    const answer = await call(workerEdge.origin, { certificate: "acme-batch-svid", path: "/v1/messages?q=1" });
    expect(answer.status).toBe(200);
    const seen = JSON.parse(answer.body) as { url: string; tlsClientAuth: Record<string, unknown> };
    expect(seen.url).toBe(`${workerEdge.origin}/v1/messages?q=1`);
    expect(seen.tlsClientAuth).toMatchObject({ certPresented: "1", certVerified: "SUCCESS", certRevoked: "0" });
    const certificate = await clientCertificate({ tlsClientAuth: seen.tlsClientAuth });
    expect(certificate?.thumbprint).toBe(THUMBPRINTS["acme-batch-svid"]);
    expect(certificate?.uriSans).toEqual(["spiffe://acme.verity.local/workload/acme-batch"]);
  });
});
