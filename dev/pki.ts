/**
 * The dev PKI: CAs and certificates for the mTLS and X.509-SVID paths of the local stack and tests.
 * `tsx dev/pki.ts` regenerates dev/pki/ (the output is committed; it is test-only material). Every key
 * is ECDSA P-256; certificates are valid for 10 years from generation.
 *
 * - `client-ca`: the CA the dev edge verifies client certificates against.
 * - `spiffe-ca`: the X.509-SVID CA of the dev trust domain (in its bundle; also trusted by the edge).
 * - `server-ca` / `server`: TLS server certificate for 127.0.0.1 and localhost (dev edge, IdP mTLS).
 * - Leaves, each for a case the gateway must accept or refuse (see LEAVES).
 *
 * Regenerating changes every thumbprint: re-seed the registry from dev/pki/thumbprints.json.
 */
import "reflect-metadata";
import { createHash, webcrypto } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as x509 from "@peculiar/x509";
import { SPIFFE_TRUST_DOMAIN } from "./config.ts";
import { isEntryPoint } from "./lib/http-server.ts";

export const PKI_DIR = join(dirname(fileURLToPath(import.meta.url)), "pki");

const ALGORITHM = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
const VALIDITY_YEARS = 10;

type Authority = "client-ca" | "spiffe-ca" | "server-ca";
type Purpose = "client" | "server" | "svid";

interface LeafSpec {
  name: string;
  subject: string;
  /** Undefined: self-signed. */
  issuer?: Authority;
  uris?: string[];
  purpose: Purpose;
  /** A leaf that claims to be a CA (refused as an X.509-SVID). */
  ca?: boolean;
  /** Overrides the purpose's key usage (to build a wrong one). */
  keyUsage?: x509.KeyUsageFlags;
}

const spiffeId = (path: string) => `spiffe://${SPIFFE_TRUST_DOMAIN}${path}`;

export const LEAVES: readonly LeafSpec[] = [
  { name: "server", subject: "CN=127.0.0.1", issuer: "server-ca", purpose: "server" },
  // The acme-batch workload's X.509-SVID: exactly one spiffe:// URI SAN.
  { name: "acme-batch-svid", subject: "O=SPIFFE", issuer: "spiffe-ca", uris: [spiffeId("/workload/acme-batch")], purpose: "svid" },
  // A plain client certificate registered for acme-batch by its thumbprint.
  { name: "acme-batch-client", subject: "CN=acme-batch,O=acme", issuer: "client-ca", purpose: "client" },
  // User devices, for certificate-bound tokens (RFC 8705).
  { name: "alice-device", subject: "CN=alice-device,O=acme", issuer: "client-ca", purpose: "client" },
  { name: "bob-device", subject: "CN=bob-device,O=acme", issuer: "client-ca", purpose: "client" },
  // A valid chain that no workload registers.
  { name: "unregistered-client", subject: "CN=unregistered,O=acme", issuer: "client-ca", purpose: "client" },
  // The dev edge reports this one as revoked (certRevoked "1").
  { name: "revoked-client", subject: "CN=revoked,O=acme", issuer: "client-ca", purpose: "client" },
  // X.509-SVID rule breakers, all chained to the SPIFFE CA.
  {
    name: "bad-svid-two-uris",
    subject: "O=SPIFFE",
    issuer: "spiffe-ca",
    uris: [spiffeId("/workload/acme-batch"), spiffeId("/workload/other")],
    purpose: "svid",
  },
  { name: "svid-ca-leaf", subject: "O=SPIFFE", issuer: "spiffe-ca", uris: [spiffeId("/workload/acme-batch")], purpose: "svid", ca: true },
  {
    name: "bad-svid-key-usage",
    subject: "O=SPIFFE",
    issuer: "spiffe-ca",
    uris: [spiffeId("/workload/acme-batch")],
    purpose: "svid",
    keyUsage: x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyCertSign,
  },
  { name: "bad-svid-no-path", subject: "O=SPIFFE", issuer: "spiffe-ca", uris: [spiffeId("")], purpose: "svid" },
  { name: "bad-svid-http-uri", subject: "O=SPIFFE", issuer: "spiffe-ca", uris: [`https://${SPIFFE_TRUST_DOMAIN}/workload/acme-batch`], purpose: "svid" },
  // A well-formed SVID of a trust domain the gateway does not configure.
  { name: "foreign-domain-svid", subject: "O=SPIFFE", issuer: "spiffe-ca", uris: ["spiffe://globex.verity.local/workload/batch"], purpose: "svid" },
  // A SPIFFE ID for the dev trust domain signed by the client CA: the edge accepts the chain, but the
  // trust domain's bundle does not hold its issuer.
  { name: "forged-svid", subject: "O=SPIFFE", issuer: "client-ca", uris: [spiffeId("/workload/acme-batch")], purpose: "svid" },
  // Self-signed: the edge reports certVerified "FAILED:…".
  { name: "stranger", subject: "CN=stranger", purpose: "client" },
];

const AUTHORITIES: readonly { name: Authority; subject: string }[] = [
  { name: "client-ca", subject: "CN=Verity Dev Client CA" },
  { name: "spiffe-ca", subject: `CN=Verity Dev SPIFFE CA,O=SPIFFE` },
  { name: "server-ca", subject: "CN=Verity Dev Server CA" },
];

interface Issued {
  certificate: x509.X509Certificate;
  keys: CryptoKeyPair;
}

/** Positive, at most 20 octets (RFC 5280 §4.1.2.2): 16 random bytes with the top bit cleared. */
function serialNumber(): string {
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  bytes[0] = (bytes[0] ?? 0) & 0x7f;
  return Buffer.from(bytes).toString("hex");
}

function validity(): { notBefore: Date; notAfter: Date } {
  // A day back, so a freshly generated set is already valid on a clock that is slightly behind.
  const notBefore = new Date(Date.now() - 86_400_000);
  const notAfter = new Date(notBefore);
  notAfter.setUTCFullYear(notAfter.getUTCFullYear() + VALIDITY_YEARS);
  return { notBefore, notAfter };
}

async function generateKeys(): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(ALGORITHM, true, ["sign", "verify"])) as CryptoKeyPair;
}

async function createAuthority(subject: string): Promise<Issued> {
  const keys = await generateKeys();
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serialNumber(),
    name: subject,
    ...validity(),
    keys,
    signingAlgorithm: ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certificate, keys };
}

async function createLeaf(spec: LeafSpec, authorities: ReadonlyMap<Authority, Issued>): Promise<Issued> {
  const keys = await generateKeys();
  const usage =
    spec.keyUsage ??
    (spec.ca
      ? x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyCertSign
      : spec.purpose === "server"
        ? x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment
        : x509.KeyUsageFlags.digitalSignature);
  const extendedUsage =
    spec.purpose === "server"
      ? [x509.ExtendedKeyUsage.serverAuth]
      : spec.purpose === "svid"
        ? [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]
        : [x509.ExtendedKeyUsage.clientAuth];
  const names: x509.JsonGeneralName[] =
    spec.purpose === "server"
      ? [
          { type: "ip", value: "127.0.0.1" },
          { type: "dns", value: "localhost" },
        ]
      : (spec.uris ?? []).map((value) => ({ type: "url", value }));
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(spec.ca === true, undefined, true),
    new x509.KeyUsagesExtension(usage, true),
    new x509.ExtendedKeyUsageExtension(extendedUsage),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
  ];
  // SPIFFE X509-SVID §2: an SVID's subject may be empty, so its SAN is critical.
  if (names.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(names, spec.purpose === "svid"));

  if (spec.issuer === undefined) {
    const certificate = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: serialNumber(),
      name: spec.subject,
      ...validity(),
      keys,
      signingAlgorithm: ALGORITHM,
      extensions,
    });
    return { certificate, keys };
  }
  const authority = authorities.get(spec.issuer);
  if (!authority) throw new Error(`unknown authority ${spec.issuer}`);
  extensions.push(await x509.AuthorityKeyIdentifierExtension.create(authority.certificate));
  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber: serialNumber(),
    subject: spec.subject,
    issuer: authority.certificate.subject,
    ...validity(),
    publicKey: keys.publicKey,
    signingKey: authority.keys.privateKey,
    signingAlgorithm: ALGORITHM,
    extensions,
  });
  return { certificate, keys };
}

/** RFC 8705 `x5t#S256`: base64url SHA-256 of the certificate's DER. */
export function thumbprint(der: ArrayBuffer | Uint8Array): string {
  return createHash("sha256").update(new Uint8Array(der)).digest("base64url");
}

async function privateKeyPem(key: CryptoKey): Promise<string> {
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey("pkcs8", key)).toString("base64");
  return `-----BEGIN PRIVATE KEY-----\n${pkcs8.match(/.{1,64}/g)?.join("\n")}\n-----END PRIVATE KEY-----\n`;
}

/** Writes `<name>.pem` and `<name>.key.pem` for every CA and leaf, and `thumbprints.json`. */
export async function generatePki(dir = PKI_DIR): Promise<Record<string, string>> {
  await mkdir(dir, { recursive: true });
  const authorities = new Map<Authority, Issued>();
  for (const { name, subject } of AUTHORITIES) authorities.set(name, await createAuthority(subject));
  const issued = new Map<string, Issued>(authorities);
  for (const spec of LEAVES) issued.set(spec.name, await createLeaf(spec, authorities));

  const thumbprints: Record<string, string> = {};
  for (const [name, { certificate, keys }] of issued) {
    thumbprints[name] = thumbprint(certificate.rawData);
    await writeFile(join(dir, `${name}.pem`), `${certificate.toString("pem")}\n`);
    await writeFile(join(dir, `${name}.key.pem`), await privateKeyPem(keys.privateKey), { mode: 0o600 });
  }
  await writeFile(join(dir, "thumbprints.json"), `${JSON.stringify(thumbprints, null, 2)}\n`);
  await writeFile(
    join(dir, "README.md"),
    [
      "# dev/pki — TEST-ONLY key material",
      "",
      "Generated by `tsx dev/pki.ts` for the local stack and the tests. These private keys are public:",
      "never trust these CAs anywhere but on a developer machine. `thumbprints.json` maps each certificate",
      "to its RFC 8705 `x5t#S256` thumbprint (registry seeds refer to it).",
      "",
    ].join("\n"),
  );
  return thumbprints;
}

if (isEntryPoint(import.meta.url)) {
  const thumbprints = await generatePki();
  console.log(`wrote ${Object.keys(thumbprints).length} certificates to ${PKI_DIR}`);
}
