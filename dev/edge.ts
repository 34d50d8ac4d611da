/**
 * A stand-in for Cloudflare's edge in front of the local gateway (only the local stack has it):
 * terminates TLS on EDGE_ORIGIN, asks for a client certificate, verifies it against the dev client CAs
 * (dev/pki client-ca and spiffe-ca), and forwards the request to the gateway with the result as
 * `request.cf.tlsClientAuth`, shaped as the edge builds it (see workers-types
 * `IncomingRequestCfPropertiesTLSClientAuth` and Cloudflare's "client certificate variables").
 *
 * How `cf` reaches the Worker: miniflare's entry worker turns the `MF-CF-Blob` request header (JSON)
 * into `request.cf`, and `MF-Original-URL` into `request.url`, so the gateway sees the URL the client
 * called, as behind the real edge. A client's own `MF-CF-Blob` is dropped: only the edge sets `cf`.
 * (Whoever can reach the gateway's port directly can still set it; in production only the edge can.)
 *
 * Revocation: the dev PKI publishes no CRL; the edge reports `certRevoked: "1"` for the thumbprints in
 * `revoked` (by default dev/pki's `revoked-client`).
 * Run directly (`tsx dev/edge.ts`) it listens on EDGE_ORIGIN's port and forwards to GATEWAY_ORIGIN.
 */
import "reflect-metadata";
import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from "node:http";
import { createServer } from "node:https";
import { join } from "node:path";
import type { TLSSocket } from "node:tls";
import * as x509 from "@peculiar/x509";
import { EDGE_ORIGIN, GATEWAY_ORIGIN } from "./config.ts";
import { closeServer, isEntryPoint, listen } from "./lib/http-server.ts";

export interface EdgeOptions {
  /** 0 picks a free port (tests). */
  port: number;
  /** Where the gateway listens (`wrangler dev`), e.g. GATEWAY_ORIGIN. */
  gatewayOrigin: string;
  host?: string;
  /** SHA-256 thumbprints (base64url) the edge reports as revoked; default dev/pki's revoked-client. */
  revoked?: Iterable<string>;
}

export interface RunningEdge {
  /** `https://127.0.0.1:<port>`; clients trust dev/pki/server-ca.pem. */
  origin: string;
  close(): Promise<void>;
}

/** The header miniflare's entry worker reads `request.cf` from (miniflare `CoreHeaders.CF_BLOB`). */
export const CF_BLOB_HEADER = "mf-cf-blob";
/** Replaces `request.url` in miniflare's entry worker (`CoreHeaders.ORIGINAL_URL`). */
const ORIGINAL_URL_HEADER = "mf-original-url";
/** Cloudflare leaves `certRFC9440` empty when the encoded leaf exceeds 10 KiB. */
const MAX_RFC9440_LENGTH = 10 * 1024;
/** RFC 9110 §7.6.1 hop-by-hop headers, which a proxy does not forward. */
const HOP_BY_HOP = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te", "trailer", "host"]);
/** Node's verification codes, as OpenSSL (and so Cloudflare's `certVerified`) words them. */
const VERIFY_ERRORS: Record<string, string> = {
  DEPTH_ZERO_SELF_SIGNED_CERT: "self signed certificate",
  SELF_SIGNED_CERT_IN_CHAIN: "self signed certificate in certificate chain",
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: "unable to verify the first certificate",
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: "unable to get local issuer certificate",
  UNABLE_TO_GET_ISSUER_CERT: "unable to get issuer certificate",
  CERT_NOT_YET_VALID: "certificate is not yet valid",
  CERT_HAS_EXPIRED: "certificate has expired",
  CERT_SIGNATURE_FAILURE: "certificate signature failure",
  INVALID_PURPOSE: "unsupported certificate purpose",
};

const PKI_DIR = join(import.meta.dirname, "pki");
const pem = (name: string) => readFileSync(join(PKI_DIR, name), "utf8");

/** What the edge reports when no certificate was presented (workers-types' placeholder). */
const NO_CERTIFICATE = {
  certPresented: "0",
  certVerified: "NONE",
  certRevoked: "0",
  certIssuerDN: "",
  certSubjectDN: "",
  certIssuerDNRFC2253: "",
  certSubjectDNRFC2253: "",
  certIssuerDNLegacy: "",
  certSubjectDNLegacy: "",
  certSerial: "",
  certIssuerSerial: "",
  certSKI: "",
  certIssuerSKI: "",
  certFingerprintSHA1: "",
  certFingerprintSHA256: "",
  certNotBefore: "",
  certNotAfter: "",
  certRFC9440: "",
  certRFC9440TooLarge: false,
  certChainRFC9440: "",
  certChainRFC9440TooLarge: false,
} as const;

export type TlsClientAuth = Record<keyof typeof NO_CERTIFICATE, string | boolean>;

export async function startEdge(options: EdgeOptions): Promise<RunningEdge> {
  const gateway = new URL(options.gatewayOrigin);
  const revoked = new Set(options.revoked ?? [revokedClientThumbprint()]);
  const authorities = [pem("client-ca.pem"), pem("spiffe-ca.pem")];
  const server = createServer({
    cert: pem("server.pem"),
    key: pem("server.key.pem"),
    ca: authorities,
    requestCert: true,
    // The Worker decides: a failed verification is reported in `certVerified`, as Cloudflare does
    // when the zone's mTLS rule does not block.
    rejectUnauthorized: false,
  });
  const issuers = authorities.map((text) => new X509Certificate(text));
  let origin = "";

  server.on("request", (request: IncomingMessage, response: ServerResponse) => {
    const tlsClientAuth = clientAuth(request.socket as TLSSocket, issuers, revoked);
    const headers: IncomingHttpHeaders = {};
    for (const [name, value] of Object.entries(request.headers)) {
      if (!HOP_BY_HOP.has(name) && name !== CF_BLOB_HEADER && name !== ORIGINAL_URL_HEADER && value !== undefined) headers[name] = value;
    }
    headers.host = gateway.host;
    headers[CF_BLOB_HEADER] = JSON.stringify({ tlsClientAuth });
    headers[ORIGINAL_URL_HEADER] = new URL(request.url ?? "/", origin).href;
    // Cloudflare sets the client's address and drops any value the client sent.
    headers["cf-connecting-ip"] = request.socket.remoteAddress ?? "";
    const upstream = httpRequest(
      { host: gateway.hostname, port: gateway.port, method: request.method, path: request.url, headers },
      (answer) => {
        response.writeHead(answer.statusCode ?? 502, answer.statusMessage, stripHopByHop(answer.headers));
        answer.pipe(response);
      },
    );
    upstream.on("error", (error) => {
      if (response.headersSent) return void response.destroy(error);
      response.writeHead(502, { "content-type": "application/json" });
      response.end(JSON.stringify({ error: { message: "The dev edge could not reach the gateway.", code: "upstream_error" } }));
    });
    request.pipe(upstream);
  });

  const port = await listen(server, options.port, options.host ?? "127.0.0.1");
  origin = `https://127.0.0.1:${port}`;
  return { origin, close: () => closeServer(server) };
}

/** `request.cf.tlsClientAuth` for this connection. */
export function clientAuth(socket: TLSSocket, issuers: readonly X509Certificate[], revoked: ReadonlySet<string>): TlsClientAuth {
  const leaf = socket.getPeerX509Certificate();
  if (!leaf) return { ...NO_CERTIFICATE };
  const issuer = issuers.find((ca) => leaf.checkIssued(ca) && leaf.verify(ca.publicKey));
  const thumbprint = Buffer.from(leaf.fingerprint256.replace(/:/g, ""), "hex");
  const rfc9440 = `:${leaf.raw.toString("base64")}:`;
  const tooLarge = rfc9440.length > MAX_RFC9440_LENGTH;
  const verified = socket.authorized ? "SUCCESS" : `FAILED:${verifyError(socket.authorizationError)}`;
  return {
    certPresented: "1",
    certVerified: verified,
    // Revocation is only checked for certificates that verified (a revoked one is also "SUCCESS").
    certRevoked: socket.authorized && revoked.has(thumbprint.toString("base64url")) ? "1" : "0",
    certIssuerDN: commaDn(leaf.issuer),
    certSubjectDN: commaDn(leaf.subject),
    certIssuerDNRFC2253: rfc2253(leaf.issuer),
    certSubjectDNRFC2253: rfc2253(leaf.subject),
    certIssuerDNLegacy: legacyDn(leaf.issuer),
    certSubjectDNLegacy: legacyDn(leaf.subject),
    certSerial: leaf.serialNumber.toUpperCase(),
    certIssuerSerial: issuer?.serialNumber.toUpperCase() ?? "",
    certSKI: subjectKeyIdentifier(leaf),
    certIssuerSKI: issuer ? subjectKeyIdentifier(issuer) : "",
    certFingerprintSHA1: leaf.fingerprint.replace(/:/g, "").toLowerCase(),
    certFingerprintSHA256: thumbprint.toString("hex"),
    certNotBefore: leaf.validFrom,
    certNotAfter: leaf.validTo,
    certRFC9440: tooLarge ? "" : rfc9440,
    certRFC9440TooLarge: tooLarge,
    // Clients of the dev stack send their leaf only.
    certChainRFC9440: "",
    certChainRFC9440TooLarge: false,
  };
}

/** `authorizationError` is typed as an Error but is, on a server socket, the OpenSSL code as a string. */
function verifyError(error: Error | string | null | undefined): string {
  const code = typeof error === "string" ? error : ((error as (Error & { code?: string }) | null | undefined)?.code ?? error?.message ?? "");
  return VERIFY_ERRORS[code] ?? (code.toLowerCase().replace(/_/g, " ") || "unknown error");
}

/** Node prints one `type=value` per line, in certificate order. */
const dnParts = (dn: string) => dn.split("\n").filter((part) => part !== "");
const commaDn = (dn: string) => dnParts(dn).join(", ");
const rfc2253 = (dn: string) => [...dnParts(dn)].reverse().join(",");
const legacyDn = (dn: string) => dnParts(dn).map((part) => `/${part}`).join("");

/** The subjectKeyIdentifier as `AB:CD:…`, or "" without one. */
function subjectKeyIdentifier(certificate: X509Certificate): string {
  const keyId = new x509.X509Certificate(certificate.raw).getExtension(x509.SubjectKeyIdentifierExtension)?.keyId ?? "";
  return keyId.toUpperCase().replace(/(..)(?!$)/g, "$1:");
}

function stripHopByHop(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !HOP_BY_HOP.has(name)));
}

function revokedClientThumbprint(): string {
  const thumbprints = JSON.parse(pem("thumbprints.json")) as Record<string, string>;
  const revoked = thumbprints["revoked-client"];
  if (!revoked) throw new Error("dev/pki/thumbprints.json has no revoked-client: run `tsx dev/pki.ts`");
  return revoked;
}

if (isEntryPoint(import.meta.url)) {
  const edge = await startEdge({ port: Number(new URL(EDGE_ORIGIN).port), gatewayOrigin: GATEWAY_ORIGIN });
  console.log(`dev edge at ${edge.origin}, forwarding to ${GATEWAY_ORIGIN}`);
}
