/**
 * The client certificate of a mutual-TLS connection, as Cloudflare's edge reports it in
 * `request.cf.tlsClientAuth`: the edge verifies the chain against the zone's CAs and checks revocation;
 * the Worker refuses anything the edge did not pass, then reads the leaf itself from `certRFC9440`
 * (RFC 9440 `Client-Cert` form, `:base64-DER:`). The edge's own summary fields (fingerprints, DNs,
 * dates) are display strings whose format is not specified: nothing here relies on them.
 *
 * Parsing uses @peculiar/asn1-x509 (the ASN.1 layer under @peculiar/x509): it needs no Reflect
 * polyfill and is about half the bundle size of the full library.
 */
import { AsnConvert } from "@peculiar/asn1-schema";
import {
  BasicConstraints,
  Certificate,
  KeyUsage,
  SubjectAlternativeName,
  id_ce_basicConstraints,
  id_ce_keyUsage,
  id_ce_subjectAltName,
  type KeyUsageType,
  type Name,
} from "@peculiar/asn1-x509";
import { GatewayError } from "../errors.ts";
import { base64url, toHex } from "../lib/encoding.ts";
import { CLOCK_SKEW_SECONDS } from "./access-token.ts";

/** A client certificate the edge verified, read from its DER. Times are seconds since the epoch. */
export interface ClientCertificate {
  /** RFC 8705 `x5t#S256`: base64url SHA-256 of the DER, computed here. */
  thumbprint: string;
  der: Uint8Array<ArrayBuffer>;
  /** RFC 4514 string forms, for the record only (decisions use thumbprints and SANs). */
  subject: string;
  issuer: string;
  /** Hexadecimal, uppercase, as in the certificate. */
  serialNumber: string;
  notBefore: number;
  notAfter: number;
  /** Every URI subjectAltName, in order (X.509-SVIDs carry their SPIFFE ID here). */
  uriSans: string[];
  /** basicConstraints cA; false when the extension is absent. */
  isCa: boolean;
  /** Key usage bits set; undefined when the certificate has no keyUsage extension. */
  keyUsage: KeyUsageType[] | undefined;
  /** The parsed structure, for signature checks (X.509-SVID). */
  certificate: Certificate;
}

/**
 * Cloudflare omits a leaf over 10 KiB (`certRFC9440TooLarge`); base64 makes that 4/3 larger, plus
 * the two colons. Anything longer did not come from the edge and is not parsed at all.
 */
const MAX_RFC9440_LENGTH = Math.ceil((10 * 1024) / 3) * 4 + 2;
const RFC9440_BYTE_SEQUENCE = /^:([A-Za-z0-9+/]+={0,2}):$/;

function invalid(message: string, cause?: unknown): GatewayError {
  return new GatewayError("certificate_invalid", message, { cause });
}

/**
 * The client certificate of this request, or undefined when none was presented. Refuses
 * (`certificate_invalid`) a certificate the edge did not verify, a revoked one, one the edge could not
 * forward (too large), one that does not parse, and one outside its validity period at `now` (ms).
 */
export async function clientCertificate(cf: unknown, now: number = Date.now()): Promise<ClientCertificate | undefined> {
  const auth = isRecord(cf) ? cf.tlsClientAuth : undefined;
  if (!isRecord(auth) || auth.certPresented !== "1") return undefined;
  // Exact values only: "FAILED:<reason>", "NONE" or anything unexpected is a refusal.
  if (auth.certVerified !== "SUCCESS") throw invalid("the client certificate was not verified");
  if (auth.certRevoked !== "0") throw invalid("the client certificate has been revoked");
  if (auth.certRFC9440TooLarge !== false) throw invalid("the client certificate is too large");
  const field = auth.certRFC9440;
  if (typeof field !== "string" || field === "") throw invalid("the client certificate could not be read");
  const certificate = await readCertificate(decodeRfc9440(field));
  const seconds = now / 1000;
  if (seconds < certificate.notBefore - CLOCK_SKEW_SECONDS || seconds > certificate.notAfter + CLOCK_SKEW_SECONDS) {
    throw invalid("the client certificate is outside its validity period");
  }
  return certificate;
}

/** RFC 9440 §2.1: an RFC 8941 Byte Sequence, standard base64 of the DER between colons. */
function decodeRfc9440(field: string): Uint8Array<ArrayBuffer> {
  const match = field.length <= MAX_RFC9440_LENGTH ? RFC9440_BYTE_SEQUENCE.exec(field) : null;
  if (!match?.[1] || match[1].length % 4 !== 0) throw invalid("the client certificate could not be read");
  return Uint8Array.from(atob(match[1]), (c) => c.charCodeAt(0));
}

/** Reads a DER certificate (a client's leaf or a bundle's CA). Throws `certificate_invalid`. */
export async function readCertificate(der: Uint8Array<ArrayBuffer>): Promise<ClientCertificate> {
  if (!isSingleDerSequence(der)) throw invalid("the client certificate could not be read");
  let certificate: Certificate;
  try {
    certificate = AsnConvert.parse(der, Certificate);
  } catch (error) {
    throw invalid("the client certificate could not be read", error);
  }
  const tbs = certificate.tbsCertificate;
  let uriSans: string[] = [];
  let isCa = false;
  let keyUsage: KeyUsageType[] | undefined;
  const seen = new Set<string>();
  try {
    for (const extension of tbs.extensions ?? []) {
      // RFC 5280 §4.2: "A certificate MUST NOT include more than one instance of a particular extension."
      if (seen.has(extension.extnID)) throw new Error(`duplicate extension ${extension.extnID}`);
      seen.add(extension.extnID);
      const value = extension.extnValue.buffer;
      if (extension.extnID === id_ce_subjectAltName) {
        uriSans = AsnConvert.parse(value, SubjectAlternativeName)
          .map((name) => name.uniformResourceIdentifier)
          .filter((uri): uri is string => uri !== undefined);
      } else if (extension.extnID === id_ce_basicConstraints) {
        isCa = AsnConvert.parse(value, BasicConstraints).cA;
      } else if (extension.extnID === id_ce_keyUsage) {
        keyUsage = AsnConvert.parse(value, KeyUsage).toJSON();
      }
    }
  } catch (error) {
    throw invalid("the client certificate could not be read", error);
  }
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", der));
  return {
    thumbprint: base64url(digest),
    der,
    subject: distinguishedName(tbs.subject),
    issuer: distinguishedName(tbs.issuer),
    serialNumber: hex(new Uint8Array(tbs.serialNumber)),
    notBefore: Math.floor(tbs.validity.notBefore.getTime().getTime() / 1000),
    notAfter: Math.floor(tbs.validity.notAfter.getTime().getTime() / 1000),
    uriSans,
    isCa,
    keyUsage,
    certificate,
  };
}

/**
 * The DER is one SEQUENCE whose definite length covers the input exactly: the BER parser underneath
 * would otherwise accept trailing bytes, and the thumbprint would then cover data nobody parsed.
 */
function isSingleDerSequence(der: Uint8Array): boolean {
  if (der.length < 2 || der[0] !== 0x30) return false;
  const first = der[1]!;
  if (first < 0x80) return 2 + first === der.length;
  const octets = first & 0x7f;
  // 0x80 is BER's indefinite length; four length octets already exceed any certificate we accept.
  if (octets === 0 || octets > 4 || der.length < 2 + octets) return false;
  let length = 0;
  for (let i = 0; i < octets; i++) length = length * 256 + der[2 + i]!;
  return 2 + octets + length === der.length;
}

const ATTRIBUTE_NAMES: Record<string, string> = {
  "2.5.4.3": "CN",
  "2.5.4.6": "C",
  "2.5.4.7": "L",
  "2.5.4.8": "ST",
  "2.5.4.10": "O",
  "2.5.4.11": "OU",
  "2.5.4.5": "serialNumber",
  "0.9.2342.19200300.100.1.25": "DC",
  "0.9.2342.19200300.100.1.1": "UID",
  "1.2.840.113549.1.9.1": "E",
};

/** RFC 4514: last RDN first, `+` inside a multi-valued RDN, special characters escaped. */
function distinguishedName(name: Name): string {
  return [...name]
    .reverse()
    .map((rdn) =>
      [...rdn]
        .map(({ type, value }) => {
          const text = value.anyValue ? `#${hex(new Uint8Array(value.anyValue))}` : value.toString();
          return `${ATTRIBUTE_NAMES[type] ?? type}=${escapeDnValue(text)}`;
        })
        .join("+"),
    )
    .join(",");
}

function escapeDnValue(value: string): string {
  return value.replace(/[,+"\\<>;=]/g, "\\$&").replace(/^[ #]/, "\\$&").replace(/ $/, "\\ ");
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null;
}

/** Upper-case hex, as certificates print serial numbers and DER values. */
function hex(bytes: Uint8Array): string {
  return toHex(bytes).toUpperCase();
}
