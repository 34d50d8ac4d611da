import { describe, expect, it } from "vitest";
import { GatewayError } from "../../../worker/errors.ts";
import { clientCertificate, readCertificate } from "../../../worker/identity/client-certificate.ts";
import { certificateDer, cfWith, rfc9440, THUMBPRINTS } from "./pki-fixtures.ts";

/** The edge's placeholder when the connection presented no certificate (workers-types). */
const NO_CERTIFICATE = {
  tlsClientAuth: {
    certPresented: "0",
    certVerified: "NONE",
    certRevoked: "0",
    certRFC9440: "",
    certRFC9440TooLarge: false,
  },
};

const hex = (bytes: Uint8Array) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");

async function refusal(promise: Promise<unknown>): Promise<GatewayError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(GatewayError);
  expect((error as GatewayError).code).toBe("certificate_invalid");
  return error as GatewayError;
}

describe("clientCertificate: no certificate", () => {
  it("is undefined when the connection presented none", async () => {
    expect(await clientCertificate(NO_CERTIFICATE)).toBeUndefined();
  });

  it("is undefined without a cf object or tlsClientAuth (not behind the edge's mTLS)", async () => {
    expect(await clientCertificate(undefined)).toBeUndefined();
    expect(await clientCertificate({})).toBeUndefined();
    expect(await clientCertificate({ tlsClientAuth: null })).toBeUndefined();
  });

  it("ignores an RFC 9440 value when certPresented is not exactly \"1\"", async () => {
    expect(await clientCertificate(cfWith("acme-batch-client", { certPresented: 1 }))).toBeUndefined();
    expect(await clientCertificate(cfWith("acme-batch-client", { certPresented: "true" }))).toBeUndefined();
  });
});

describe("clientCertificate: a verified certificate", () => {
  it("reads the leaf and recomputes its x5t#S256 thumbprint from the DER", async () => {
    const certificate = await clientCertificate(cfWith("acme-batch-client"));
    expect(certificate).toBeDefined();
    expect(certificate!.thumbprint).toBe(THUMBPRINTS["acme-batch-client"]);
    expect(certificate!.der).toEqual(certificateDer("acme-batch-client"));
    expect(certificate!.subject).toBe("O=acme,CN=acme-batch");
    expect(certificate!.issuer).toBe("CN=Verity Dev Client CA");
    expect(certificate!.serialNumber).toMatch(/^[0-9A-F]+$/);
    expect(certificate!.uriSans).toEqual([]);
    expect(certificate!.isCa).toBe(false);
    expect(certificate!.keyUsage).toEqual(["digitalSignature"]);
    expect(certificate!.notAfter - certificate!.notBefore).toBeGreaterThan(9 * 365 * 86_400);
  });

  it("never trusts the edge's fingerprint field", async () => {
    const certificate = await clientCertificate(
      cfWith("unregistered-client", { certFingerprintSHA256: hex(certificateDer("acme-batch-client")) }),
    );
    expect(certificate!.thumbprint).toBe(THUMBPRINTS["unregistered-client"]);
  });

  it("reads the URI SAN and CA flag of an X.509-SVID", async () => {
    const svid = await clientCertificate(cfWith("acme-batch-svid"));
    expect(svid!.uriSans).toEqual(["spiffe://acme.verity.local/workload/acme-batch"]);
    const two = await clientCertificate(cfWith("bad-svid-two-uris"));
    expect(two!.uriSans).toHaveLength(2);
    const ca = await clientCertificate(cfWith("svid-ca-leaf"));
    expect(ca!.isCa).toBe(true);
    expect(ca!.keyUsage).toContain("keyCertSign");
  });
});

describe("clientCertificate: refusals (attack class: certificate presented but not verified or revoked)", () => {
  it("refuses a certificate the edge could not verify (self-signed)", async () => {
    const error = await refusal(clientCertificate(cfWith("stranger", { certVerified: "FAILED:self signed certificate" })));
    expect(error.message).toBe("the client certificate was not verified");
  });

  it("refuses an unknown issuer, NONE with a certificate, and any value other than SUCCESS", async () => {
    for (const certVerified of ["FAILED:unable to get local issuer certificate", "NONE", "success", "SUCCESS ", undefined, true]) {
      await refusal(clientCertificate(cfWith("acme-batch-client", { certVerified })));
    }
  });

  it("refuses a revoked certificate", async () => {
    const error = await refusal(clientCertificate(cfWith("revoked-client", { certRevoked: "1" })));
    expect(error.message).toBe("the client certificate has been revoked");
  });

  it("refuses a missing or unexpected revocation status", async () => {
    for (const certRevoked of [undefined, 0, "", "false"]) {
      await refusal(clientCertificate(cfWith("acme-batch-client", { certRevoked })));
    }
  });

  it("refuses a leaf the edge could not forward (certRFC9440TooLarge)", async () => {
    const error = await refusal(clientCertificate(cfWith("acme-batch-client", { certRFC9440TooLarge: true, certRFC9440: "" })));
    expect(error.message).toBe("the client certificate is too large");
    await refusal(clientCertificate(cfWith("acme-batch-client", { certRFC9440TooLarge: "false" })));
  });

  it("refuses a presented certificate with no RFC 9440 value", async () => {
    await refusal(clientCertificate(cfWith("acme-batch-client", { certRFC9440: "" })));
    await refusal(clientCertificate(cfWith("acme-batch-client", { certRFC9440: undefined })));
  });

  it("refuses RFC 9440 values that are not a byte sequence of standard base64", async () => {
    const base64 = rfc9440(certificateDer("acme-batch-client")).slice(1, -1);
    const malformed = [
      base64, // no colons
      `:${base64}`,
      `:${base64.replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "")}x:`, // base64url alphabet
      `:${base64.slice(0, -1)}:`, // not a multiple of 4
      `: ${base64}:`,
      `:${base64}:, :${base64}:`, // a list, not one item
    ];
    for (const certRFC9440 of malformed) await refusal(clientCertificate(cfWith("acme-batch-client", { certRFC9440 })));
  });

  it("refuses bytes that are not one DER certificate", async () => {
    const der = certificateDer("acme-batch-client");
    const trailing = new Uint8Array([...der, 0x00]);
    const truncated = der.subarray(0, der.length - 10);
    const notCertificate = new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x01]);
    for (const bytes of [trailing, truncated, notCertificate, new Uint8Array([0x04, 0x00])]) {
      await refusal(clientCertificate(cfWith("acme-batch-client", { certRFC9440: rfc9440(bytes) })));
    }
  });

  it("refuses an oversized value without parsing it", async () => {
    const error = await refusal(clientCertificate(cfWith("acme-batch-client", { certRFC9440: `:${"A".repeat(20_000)}:` })));
    expect(error.message).toBe("the client certificate could not be read");
  });

  it("checks the validity period against now (60 s skew)", async () => {
    const { notBefore, notAfter } = await readCertificate(certificateDer("acme-batch-client"));
    await refusal(clientCertificate(cfWith("acme-batch-client"), (notAfter + 61) * 1000));
    await refusal(clientCertificate(cfWith("acme-batch-client"), (notBefore - 61) * 1000));
    expect(await clientCertificate(cfWith("acme-batch-client"), (notAfter + 59) * 1000)).toBeDefined();
    expect(await clientCertificate(cfWith("acme-batch-client"), (notBefore - 59) * 1000)).toBeDefined();
  });
});
