/**
 * Certificate-bound access tokens (RFC 8705 `cnf["x5t#S256"]`) from the dev identity provider's
 * mutual-TLS listener, and the client-certificate https requests they need. Node only: fetch in
 * workerd cannot present a client certificate.
 */
import { readFileSync } from "node:fs";
import { request } from "node:https";
import { join } from "node:path";
import { IDP_MTLS_ORIGIN } from "../../dev/config.ts";
import { tokenFor } from "./tokens.ts";

/** A PEM certificate and its PEM private key. */
export interface ClientCertificate {
  cert: string;
  key: string;
}

export interface MtlsTokenOptions {
  /** The identity provider's mutual-TLS origin; default IDP_MTLS_ORIGIN. */
  mtlsOrigin?: string;
  /** Also send a DPoP proof: the identity provider refuses a token bound twice. */
  dpop?: CryptoKeyPair | true;
}

/** A request sent with a client certificate; the answer is read whole, so keep it small. */
export type CertificateFetch = (url: string | URL, init?: RequestInit) => Promise<Response>;

const PKI_DIR = join(import.meta.dirname, "..", "..", "dev", "pki");

/** `dev/pki/<name>.pem` and `<name>.key.pem`, e.g. "alice-device" or "acme-batch-client". */
export function devCertificate(name: string): ClientCertificate {
  return { cert: readPki(`${name}.pem`), key: readPki(`${name}.key.pem`) };
}

/** The CA that signed the dev servers' TLS certificates (the identity provider's mTLS listener, the edge). */
export function devServerCa(): string {
  return readPki("server-ca.pem");
}

/** An access token for `name` bound to `certificate`, which the request presents in the TLS handshake. */
export function mtlsTokenFor(
  name: string,
  certificate: ClientCertificate,
  options: MtlsTokenOptions = {},
): Promise<string> {
  return tokenFor(name, {
    idpOrigin: options.mtlsOrigin ?? IDP_MTLS_ORIGIN,
    ...(options.dpop === undefined ? {} : { dpop: options.dpop }),
    fetch: fetchWithCertificate(certificate),
  });
}

/** An https fetch that presents `certificate` and trusts only `ca` (default: the dev server CA). */
export function fetchWithCertificate(certificate: ClientCertificate, ca: string = devServerCa()): CertificateFetch {
  return async function certificateFetch(url, init = {}) {
    const body = init.body === undefined || init.body === null ? undefined : String(init.body);
    return new Promise<Response>((resolve, reject) => {
      const outgoing = request(
        url,
        {
          method: init.method ?? "GET",
          headers: Object.fromEntries(new Headers(init.headers)),
          ...certificate,
          ca,
          // A fresh connection per request, so each one presents the certificate it was given.
          agent: false,
        },
        (incoming) => {
          const chunks: Buffer[] = [];
          incoming.on("data", (chunk: Buffer) => chunks.push(chunk));
          incoming.on("error", reject);
          incoming.on("end", () => {
            const headers = new Headers();
            for (let i = 0; i + 1 < incoming.rawHeaders.length; i += 2) {
              headers.append(incoming.rawHeaders[i] ?? "", incoming.rawHeaders[i + 1] ?? "");
            }
            resolve(new Response(Buffer.concat(chunks), { status: incoming.statusCode ?? 502, headers }));
          });
        },
      );
      outgoing.on("error", reject);
      outgoing.end(body);
    });
  };
}

function readPki(file: string): string {
  return readFileSync(join(PKI_DIR, file), "utf8");
}
