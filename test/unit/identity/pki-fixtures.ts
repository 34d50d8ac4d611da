/**
 * The committed dev PKI (dev/pki/, test-only material) as the Worker tests see it: certificates by
 * name, their thumbprints, and `request.cf` objects shaped as Cloudflare's edge builds them.
 */
import thumbprints from "../../../dev/pki/thumbprints.json";

const pems = import.meta.glob("../../../dev/pki/*.pem", { eager: true, query: "?raw", import: "default" }) as Record<string, string>;

export type PkiName = keyof typeof thumbprints;
export const THUMBPRINTS: Record<PkiName, string> = thumbprints;

/** Standard base64 of the certificate's DER (the PEM body). */
export function certificateBase64(name: PkiName): string {
  const pem = pems[`../../../dev/pki/${name}.pem`];
  if (pem === undefined) throw new Error(`no certificate dev/pki/${name}.pem`);
  return pem.replace(/-----(BEGIN|END) CERTIFICATE-----|\s/g, "");
}

export function certificateDer(name: PkiName): Uint8Array<ArrayBuffer> {
  return Uint8Array.from(atob(certificateBase64(name)), (c) => c.charCodeAt(0));
}

export function rfc9440(der: Uint8Array): string {
  return `:${btoa(String.fromCharCode(...der))}:`;
}

/** `request.cf` for a connection that presented `name`, verified and not revoked unless overridden. */
export function cfWith(name: PkiName, overrides: Record<string, unknown> = {}): { tlsClientAuth: Record<string, unknown> } {
  return {
    tlsClientAuth: {
      certPresented: "1",
      certVerified: "SUCCESS",
      certRevoked: "0",
      certIssuerDN: "",
      certSubjectDN: "",
      certSerial: "",
      certFingerprintSHA1: "",
      certFingerprintSHA256: "",
      certNotBefore: "",
      certNotAfter: "",
      certRFC9440: rfc9440(certificateDer(name)),
      certRFC9440TooLarge: false,
      certChainRFC9440: "",
      certChainRFC9440TooLarge: false,
      ...overrides,
    },
  };
}
