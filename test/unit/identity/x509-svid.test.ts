// Test-only: @peculiar/x509 (certificate generation) needs a Reflect polyfill; the gateway does not use it.
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import type { JWK } from "jose";
import { describe, expect, it } from "vitest";
import { GatewayError } from "../../../worker/errors.ts";
import { readCertificate, type ClientCertificate } from "../../../worker/identity/client-certificate.ts";
import { verifyX509Svid, type BundleKeys } from "../../../worker/identity/x509-svid.ts";
import type { TrustDomain } from "../../../worker/workload/registry.ts";
import { certificateBase64, certificateDer, type PkiName } from "./pki-fixtures.ts";

const ACME: TrustDomain = {
  id: "acme-spiffe",
  trustDomain: "acme.verity.local",
  tenant: "acme",
  bundleUri: "http://127.0.0.1:8794/bundle",
  audiences: ["https://gateway.verity.local"],
  algorithms: ["ES256"],
};
const GLOBEX: TrustDomain = { ...ACME, id: "globex-spiffe", trustDomain: "globex.verity.local", tenant: "globex", bundleUri: "http://127.0.0.1:8795/bundle" };

/** A bundle entry for a CA as the SPIFFE Trust Domain and Bundle spec publishes it (x5c = the CA). */
function bundleEntry(ca: PkiName, use = "x509-svid"): JWK {
  return { kty: "EC", crv: "P-256", use, x5c: [certificateBase64(ca)] };
}

/** Each trust domain's own bundle; records which bundles were asked for. */
function bundles(byDomain: Record<string, JWK[]>, asked: string[] = []): BundleKeys {
  return async (domain) => {
    asked.push(domain.trustDomain);
    return byDomain[domain.trustDomain] ?? [];
  };
}

const DEV_BUNDLES = bundles({ "acme.verity.local": [bundleEntry("spiffe-ca")], "globex.verity.local": [bundleEntry("client-ca")] });

function certificate(name: PkiName): Promise<ClientCertificate> {
  return readCertificate(certificateDer(name));
}

async function refusal(promise: Promise<unknown>, message?: string): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(GatewayError);
  expect((error as GatewayError).code).toBe("certificate_invalid");
  if (message) expect((error as GatewayError).message).toBe(message);
}

describe("verifyX509Svid", () => {
  it("accepts the acme-batch SVID signed by its trust domain's CA", async () => {
    const leaf = await certificate("acme-batch-svid");
    const asked: string[] = [];
    const svid = await verifyX509Svid(leaf, [GLOBEX, ACME], bundles({ "acme.verity.local": [bundleEntry("spiffe-ca")] }, asked));
    expect(svid).toEqual({ spiffeId: "spiffe://acme.verity.local/workload/acme-batch", trustDomain: ACME, expiresAt: leaf.notAfter });
    expect(asked).toEqual(["acme.verity.local"]);
  });

  it("finds the issuing CA among several bundle entries (rotation)", async () => {
    const keys = [bundleEntry("client-ca"), bundleEntry("server-ca"), bundleEntry("spiffe-ca")];
    const svid = await verifyX509Svid(await certificate("acme-batch-svid"), [ACME], bundles({ "acme.verity.local": keys }));
    expect(svid.spiffeId).toBe("spiffe://acme.verity.local/workload/acme-batch");
  });

  it("refuses two URI SANs", async () => {
    await refusal(verifyX509Svid(await certificate("bad-svid-two-uris"), [ACME], DEV_BUNDLES), "an X.509-SVID must carry exactly one URI name");
  });

  it("refuses a certificate without a URI SAN", async () => {
    await refusal(verifyX509Svid(await certificate("acme-batch-client"), [ACME], DEV_BUNDLES), "an X.509-SVID must carry exactly one URI name");
  });

  it("refuses a URI SAN that is not a SPIFFE ID", async () => {
    await refusal(verifyX509Svid(await certificate("bad-svid-http-uri"), [ACME], DEV_BUNDLES), "the certificate's URI name is not a SPIFFE ID");
  });

  it("refuses a SPIFFE ID without a path (the trust domain itself)", async () => {
    await refusal(verifyX509Svid(await certificate("bad-svid-no-path"), [ACME], DEV_BUNDLES), "the certificate's SPIFFE ID names no workload");
  });

  it("refuses a trust domain that is not configured", async () => {
    await refusal(verifyX509Svid(await certificate("foreign-domain-svid"), [ACME], DEV_BUNDLES), "the certificate's trust domain is not trusted");
  });

  it("refuses a leaf that is a CA", async () => {
    await refusal(verifyX509Svid(await certificate("svid-ca-leaf"), [ACME], DEV_BUNDLES), "an X.509-SVID leaf must not be a CA");
  });

  it("refuses a leaf whose key usage allows certificate signing", async () => {
    await refusal(verifyX509Svid(await certificate("bad-svid-key-usage"), [ACME], DEV_BUNDLES), "an X.509-SVID leaf must not sign certificates or CRLs");
  });

  it("refuses a leaf without digitalSignature or without key usage at all", async () => {
    const leaf = await certificate("acme-batch-svid");
    await refusal(verifyX509Svid({ ...leaf, keyUsage: ["keyEncipherment"] }, [ACME], DEV_BUNDLES), "an X.509-SVID leaf must allow digital signatures");
    await refusal(verifyX509Svid({ ...leaf, keyUsage: undefined }, [ACME], DEV_BUNDLES), "an X.509-SVID leaf must allow digital signatures");
    await refusal(verifyX509Svid({ ...leaf, keyUsage: ["digitalSignature", "crlSign"] }, [ACME], DEV_BUNDLES), "an X.509-SVID leaf must not sign certificates or CRLs");
  });

  it("refuses an SVID signed by a CA the edge trusts but the trust domain's bundle does not hold", async () => {
    await refusal(verifyX509Svid(await certificate("forged-svid"), [ACME], DEV_BUNDLES), "the certificate was not issued by its trust domain");
  });

  it("never uses another trust domain's bundle", async () => {
    const swapped = bundles({ "acme.verity.local": [bundleEntry("client-ca")], "globex.verity.local": [bundleEntry("spiffe-ca")] });
    await refusal(verifyX509Svid(await certificate("acme-batch-svid"), [ACME, GLOBEX], swapped), "the certificate was not issued by its trust domain");
  });

  it("uses only x509-svid bundle entries (not jwt-svid ones)", async () => {
    const jwtOnly = bundles({ "acme.verity.local": [bundleEntry("spiffe-ca", "jwt-svid")] });
    await refusal(verifyX509Svid(await certificate("acme-batch-svid"), [ACME], jwtOnly), "the certificate was not issued by its trust domain");
  });

  it("refuses when the bundle is empty or its entries are not certificates", async () => {
    await refusal(verifyX509Svid(await certificate("acme-batch-svid"), [ACME], bundles({})));
    const broken = bundles({ "acme.verity.local": [{ kty: "EC", use: "x509-svid", x5c: ["bm90IGEgY2VydGlmaWNhdGU="] }, { kty: "EC", use: "x509-svid" }] });
    await refusal(verifyX509Svid(await certificate("acme-batch-svid"), [ACME], broken));
  });

  it("refuses a leaf whose signature was tampered with", async () => {
    const der = certificateDer("acme-batch-svid").slice();
    der[der.length - 5] = der[der.length - 5]! ^ 0x01; // inside the ECDSA s value
    await refusal(verifyX509Svid(await readCertificate(der), [ACME], DEV_BUNDLES), "the certificate was not issued by its trust domain");
  });

  it("refuses when the bundle CA has expired", async () => {
    const ca = await certificate("spiffe-ca");
    await refusal(verifyX509Svid(await certificate("acme-batch-svid"), [ACME], DEV_BUNDLES, (ca.notAfter + 1) * 1000));
  });
});

describe("verifyX509Svid: CA key types", () => {
  /** A CA and an SVID signed by it, generated here (the dev PKI is P-256 only). */
  async function issue(algorithm: Parameters<SubtleCrypto["generateKey"]>[0], signing: { name: string; hash?: string }) {
    const ca = (await crypto.subtle.generateKey(algorithm, true, ["sign", "verify"])) as CryptoKeyPair;
    const leafKeys = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"])) as CryptoKeyPair;
    const caCertificate = await x509.X509CertificateGenerator.createSelfSigned({
      name: "CN=Test CA",
      keys: ca,
      signingAlgorithm: signing,
      extensions: [new x509.BasicConstraintsExtension(true, undefined, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true)],
    });
    const leaf = await x509.X509CertificateGenerator.create({
      subject: "O=SPIFFE",
      issuer: caCertificate.subject,
      publicKey: leafKeys.publicKey,
      signingKey: ca.privateKey,
      signingAlgorithm: signing,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.SubjectAlternativeNameExtension([{ type: "url", value: "spiffe://acme.verity.local/workload/acme-batch" }], true),
      ],
    });
    const keys = bundles({ "acme.verity.local": [{ kty: "x", use: "x509-svid", x5c: [caCertificate.toString("base64")] }] });
    return { leaf: await readCertificate(new Uint8Array(leaf.rawData)), keys };
  }

  const cases = [
    ["RSA PKCS#1 v1.5 SHA-256", { name: "RSASSA-PKCS1-v1_5", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" }, { name: "RSASSA-PKCS1-v1_5" }],
    ["ECDSA P-384 SHA-384", { name: "ECDSA", namedCurve: "P-384" }, { name: "ECDSA", hash: "SHA-384" }],
    ["Ed25519", { name: "Ed25519" }, { name: "Ed25519" }],
  ] as const;

  for (const [label, algorithm, signing] of cases) {
    it(`verifies an SVID signed by a ${label} CA`, async () => {
      const { leaf, keys } = await issue(algorithm, signing);
      const svid = await verifyX509Svid(leaf, [ACME], keys);
      expect(svid.spiffeId).toBe("spiffe://acme.verity.local/workload/acme-batch");
    });
  }

  it("refuses an SVID signed with SHA-1", async () => {
    const { leaf, keys } = await issue({ name: "ECDSA", namedCurve: "P-256" }, { name: "ECDSA", hash: "SHA-1" });
    await refusal(verifyX509Svid(leaf, [ACME], keys), "the certificate was not issued by its trust domain");
  });
});
