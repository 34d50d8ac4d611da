/**
 * X.509-SVIDs (SPIFFE X509-SVID spec): a client certificate whose single URI SAN is a SPIFFE ID.
 * The edge has already verified the chain against the zone's CAs; this checks the SVID rules and,
 * as defence in depth, that the leaf was signed by a CA in its own trust domain's bundle (`use:
 * "x509-svid"` entries, never another trust domain's), so a CA trusted by the edge for plain mTLS
 * cannot mint identities in a trust domain.
 *
 * Limitation: the leaf must be signed directly by a bundle CA (no intermediate CAs).
 */
import { ECDSASigValue } from "@peculiar/asn1-ecc";
import { AsnConvert } from "@peculiar/asn1-schema";
import type { Certificate } from "@peculiar/asn1-x509";
import type { JWK } from "jose";
import { GatewayError } from "../errors.ts";
import { parseSpiffeId } from "../lib/spiffe-id.ts";
import type { TrustDomain } from "../workload/registry.ts";
import { readCertificate, type ClientCertificate } from "./client-certificate.ts";

export interface X509Svid {
  spiffeId: string;
  trustDomain: TrustDomain;
  /** The leaf's notAfter, seconds since the epoch. */
  expiresAt: number;
}

/** A trust domain's bundle: the RFC 7517 keys it publishes (only `use: "x509-svid"` ones are read). */
export type BundleKeys = (trustDomain: TrustDomain) => Promise<readonly JWK[]>;

function invalid(message: string, cause?: unknown): GatewayError {
  return new GatewayError("certificate_invalid", message, { cause });
}

/**
 * Verifies `certificate` (already verified by the edge and read by `clientCertificate`) as an
 * X.509-SVID of one of `trustDomains`. Throws `certificate_invalid` naming the rule broken.
 */
export async function verifyX509Svid(
  certificate: ClientCertificate,
  trustDomains: readonly TrustDomain[],
  bundleKeys: BundleKeys,
  now: number = Date.now(),
): Promise<X509Svid> {
  // X509-SVID §2: exactly one URI SAN; validators MUST reject more.
  if (certificate.uriSans.length !== 1) throw invalid("an X.509-SVID must carry exactly one URI name");
  const spiffeId = parseSpiffeId(certificate.uriSans[0]!);
  if (!spiffeId) throw invalid("the certificate's URI name is not a SPIFFE ID");
  // §3.1: a leaf's SPIFFE ID has a path; the bare trust domain identifies no workload.
  if (spiffeId.path === "") throw invalid("the certificate's SPIFFE ID names no workload");
  const trustDomain = trustDomains.find((d) => d.trustDomain === spiffeId.trustDomain);
  if (!trustDomain) throw invalid("the certificate's trust domain is not trusted");
  // §4.1 and §4.3: a leaf is not a CA, must sign, and must not sign certificates or CRLs.
  if (certificate.isCa) throw invalid("an X.509-SVID leaf must not be a CA");
  const usage = certificate.keyUsage ?? [];
  if (!usage.includes("digitalSignature")) throw invalid("an X.509-SVID leaf must allow digital signatures");
  if (usage.includes("keyCertSign") || usage.includes("crlSign")) throw invalid("an X.509-SVID leaf must not sign certificates or CRLs");

  const authorities = await bundleAuthorities(await bundleKeys(trustDomain));
  const seconds = now / 1000;
  const issuer = AsnConvert.serialize(certificate.certificate.tbsCertificate.issuer);
  for (const authority of authorities) {
    if (!authority.isCa || seconds < authority.notBefore || seconds > authority.notAfter) continue;
    if (!equalBytes(issuer, AsnConvert.serialize(authority.certificate.tbsCertificate.subject))) continue;
    if (await signedBy(certificate.certificate, authority.certificate)) {
      return { spiffeId: spiffeId.id, trustDomain, expiresAt: certificate.notAfter };
    }
  }
  throw invalid("the certificate was not issued by its trust domain");
}

/** Parsed bundle CAs, per key object: a bundle is cached upstream, so its keys are parsed once. */
const parsedAuthorities = new WeakMap<JWK, Promise<ClientCertificate | undefined>>();

async function bundleAuthorities(keys: readonly JWK[]): Promise<ClientCertificate[]> {
  const parsed = keys
    .filter((key) => key.use === "x509-svid" && Array.isArray(key.x5c) && typeof key.x5c[0] === "string")
    .map((key) => {
      let authority = parsedAuthorities.get(key);
      if (!authority) {
        // SPIFFE bundle §4.2.2: `x5c` holds exactly the CA certificate, standard base64 DER.
        authority = readCertificate(Uint8Array.from(atob(key.x5c![0]!), (c) => c.charCodeAt(0))).catch(() => undefined);
        parsedAuthorities.set(key, authority);
      }
      return authority;
    });
  return (await Promise.all(parsed)).filter((a): a is ClientCertificate => a !== undefined);
}

interface SignatureScheme {
  verify: Parameters<SubtleCrypto["verify"]>[0];
  /** The import parameters for the signer's key, or undefined when its key type does not fit. */
  key: (spki: SpkiAlgorithm) => { name: string; namedCurve?: string; hash?: string } | undefined;
}

interface SpkiAlgorithm {
  oid: string;
  parameters: Uint8Array | undefined;
}

const ID_EC_PUBLIC_KEY = "1.2.840.10045.2.1";
const ID_RSA_ENCRYPTION = "1.2.840.113549.1.1.1";
const ID_ED25519 = "1.3.101.112";
/** DER of the named-curve OIDs in an EC SubjectPublicKeyInfo (RFC 5480 §2.1.1.1), and their sizes. */
const CURVES: readonly { der: string; name: string; bytes: number }[] = [
  { der: "06082a8648ce3d030107", name: "P-256", bytes: 32 },
  { der: "06052b81040022", name: "P-384", bytes: 48 },
  { der: "06052b81040023", name: "P-521", bytes: 66 },
];

const ecdsa = (hash: string): SignatureScheme => ({
  verify: { name: "ECDSA", hash },
  key: ({ oid, parameters }) => {
    const curve = oid === ID_EC_PUBLIC_KEY && parameters ? CURVES.find((c) => c.der === hexOf(parameters)) : undefined;
    return curve && { name: "ECDSA", namedCurve: curve.name };
  },
});
const rsa = (hash: string): SignatureScheme => ({
  verify: { name: "RSASSA-PKCS1-v1_5" },
  key: ({ oid }) => (oid === ID_RSA_ENCRYPTION ? { name: "RSASSA-PKCS1-v1_5", hash } : undefined),
});

/** Certificate signature algorithms accepted (RFC 5758, RFC 4055, RFC 8410); SHA-1 and PSS are not. */
const SIGNATURE_SCHEMES: Record<string, SignatureScheme> = {
  "1.2.840.10045.4.3.2": ecdsa("SHA-256"),
  "1.2.840.10045.4.3.3": ecdsa("SHA-384"),
  "1.2.840.10045.4.3.4": ecdsa("SHA-512"),
  "1.2.840.113549.1.1.11": rsa("SHA-256"),
  "1.2.840.113549.1.1.12": rsa("SHA-384"),
  "1.2.840.113549.1.1.13": rsa("SHA-512"),
  [ID_ED25519]: { verify: { name: "Ed25519" }, key: ({ oid }) => (oid === ID_ED25519 ? { name: "Ed25519" } : undefined) },
};

/** True when `authority`'s key verifies `leaf`'s signature over its TBSCertificate. */
async function signedBy(leaf: Certificate, authority: Certificate): Promise<boolean> {
  const algorithm = leaf.signatureAlgorithm.algorithm;
  // RFC 5280 §4.1.1.2: the outer algorithm must equal the signed one, or the signature is ambiguous.
  if (algorithm !== leaf.tbsCertificate.signature.algorithm || !leaf.tbsCertificateRaw) return false;
  const scheme = SIGNATURE_SCHEMES[algorithm];
  const spki = authority.tbsCertificate.subjectPublicKeyInfo;
  const parameters = spki.algorithm.parameters;
  const keyAlgorithm = scheme?.key({ oid: spki.algorithm.algorithm, parameters: parameters ? new Uint8Array(parameters) : undefined });
  if (!scheme || !keyAlgorithm) return false;
  try {
    const key = await crypto.subtle.importKey("spki", AsnConvert.serialize(spki), keyAlgorithm, false, ["verify"]);
    let signature = new Uint8Array(leaf.signatureValue);
    if (keyAlgorithm.name === "ECDSA") {
      const size = CURVES.find((c) => c.name === keyAlgorithm.namedCurve)!.bytes;
      signature = ecdsaRawSignature(signature, size);
    }
    return await crypto.subtle.verify(scheme.verify, key, signature, leaf.tbsCertificateRaw);
  } catch {
    return false;
  }
}

/** X.509 carries ECDSA-Sig-Value (DER r, s); WebCrypto wants r ‖ s, each left-padded to the curve size. */
function ecdsaRawSignature(der: Uint8Array, size: number): Uint8Array<ArrayBuffer> {
  const { r, s } = AsnConvert.parse(der, ECDSASigValue);
  const raw = new Uint8Array(size * 2);
  for (const [index, part] of [r, s].entries()) {
    let bytes = new Uint8Array(part);
    while (bytes.length > size && bytes[0] === 0) bytes = bytes.subarray(1);
    if (bytes.length > size) throw new Error("ECDSA signature component too long");
    raw.set(bytes, index * size + size - bytes.length);
  }
  return raw;
}

function equalBytes(a: ArrayBuffer, b: ArrayBuffer): boolean {
  if (a.byteLength !== b.byteLength) return false;
  const x = new Uint8Array(a);
  const y = new Uint8Array(b);
  return x.every((value, i) => value === y[i]);
}

function hexOf(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
