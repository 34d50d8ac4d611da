/**
 * Egress address rules: every spelling of a private, loopback, link-local or metadata address is
 * judged after the URL parser's canonicalisation, and a registry naming one is refused.
 */
import { describe, expect, it } from "vitest";
import { addressClassOf, isLocalDevelopment, loopbackOrigins, refusedAddress } from "../../../worker/network/index.ts";
import { parseRegistry, RegistryError } from "../../../worker/workload/index.ts";
import { seedFiles } from "../../support/seed.ts";

const hostOf = (url: string) => new URL(url).hostname;
const classOf = (url: string) => addressClassOf(hostOf(url));

describe("address classes after URL canonicalisation", () => {
  it.each([
    ["http://127.0.0.1/", "loopback"],
    ["http://127.1/", "loopback"],
    ["http://2130706433/", "loopback"],
    ["http://0x7f000001/", "loopback"],
    ["http://0177.0.0.1/", "loopback"],
    ["http://0x7f.0.0.1/", "loopback"],
    ["http://localhost/", "loopback"],
    ["http://api.localhost/", "loopback"],
    ["http://[::1]/", "loopback"],
    ["http://[0:0:0:0:0:0:0:1]/", "loopback"],
    ["http://[::ffff:127.0.0.1]/", "loopback"],
    ["http://10.0.0.1/", "private"],
    ["http://167772161/", "private"],
    ["http://172.16.0.1/", "private"],
    ["http://172.31.255.255/", "private"],
    ["http://192.168.1.1/", "private"],
    ["http://0xc0a80101/", "private"],
    ["http://100.64.0.1/", "private"],
    ["http://[fc00::1]/", "private"],
    ["http://[fd12:3456::1]/", "private"],
    ["http://[::ffff:10.1.2.3]/", "private"],
    ["http://[::ffff:a01:203]/", "private"],
    ["http://[64:ff9b::10.0.0.1]/", "private"],
    ["http://[2002:c0a8:101::]/", "private"],
    ["http://169.254.1.1/", "link-local"],
    ["http://[fe80::1]/", "link-local"],
    ["http://[febf::1]/", "link-local"],
    ["http://169.254.169.254/", "metadata"],
    ["http://2852039166/", "metadata"],
    ["http://0xa9.0xfe.0xa9.0xfe/", "metadata"],
    ["http://[::ffff:169.254.169.254]/", "metadata"],
    ["http://[fd00:ec2::254]/", "metadata"],
    ["http://metadata.google.internal/", "metadata"],
    ["http://metadata.google.internal./", "metadata"],
    ["http://METADATA.GOOGLE.INTERNAL/", "metadata"],
    ["http://100.100.100.200/", "metadata"],
    ["http://0.0.0.0/", "reserved"],
    ["http://0/", "reserved"],
    ["http://[::]/", "reserved"],
    ["http://224.0.0.1/", "reserved"],
    ["http://255.255.255.255/", "reserved"],
    ["http://[ff02::1]/", "reserved"],
  ])("%s is %s", (url, expected) => {
    expect(classOf(url)).toBe(expected);
  });

  it.each(["https://api.openai.com/", "https://8.8.8.8/", "https://172.32.0.1/", "https://100.128.0.1/", "https://[2606:4700::1111]/", "https://[::ffff:8.8.8.8]/", "https://169.255.0.1/", "https://localhost.example.com/"])(
    "%s is public",
    (url) => {
      expect(classOf(url)).toBeUndefined();
    },
  );

  it("refuses all but loopback as a registry destination; loopback is for the load to judge", () => {
    expect(refusedAddress(new URL("http://127.0.0.1:8791"))).toBeUndefined();
    expect(refusedAddress(new URL("http://169.254.169.254"))).toBe("metadata");
    expect(loopbackOrigins(["http://127.0.0.1:8791", "https://api.example.com", "http://[::1]:9"])).toEqual(["http://127.0.0.1:8791", "http://[::1]:9"]);
  });

  it("reads the local-development setting strictly", () => {
    expect(isLocalDevelopment(undefined)).toBe(false);
    expect(isLocalDevelopment("")).toBe(false);
    expect(isLocalDevelopment("loopback")).toBe(true);
    expect(() => isLocalDevelopment("true")).toThrow(TypeError);
    expect(() => isLocalDevelopment("1")).toThrow(TypeError);
  });
});

describe("a registry entry naming a special address is refused at load", () => {
  function registryWith(mutate: (files: ReturnType<typeof seedFiles>) => void) {
    const files = seedFiles();
    mutate(files);
    return { tenants: files.tenants, issuers: files.issuers, trustDomains: files.trustDomains, workloads: files.workloads, backends: files.backends, tools: files.tools, transmitters: files.transmitters };
  }
  const refusal = (doc: unknown) => {
    try {
      parseRegistry(doc);
    } catch (error) {
      expect(error).toBeInstanceOf(RegistryError);
      return (error as Error).message;
    }
    throw new Error("the registry was accepted");
  };

  it.each([
    ["https://169.254.169.254/latest", "metadata"],
    ["https://[fd00:ec2::254]", "metadata"],
    ["https://metadata.google.internal", "metadata"],
    ["https://10.1.2.3", "private"],
    ["https://0x0a010203", "private"],
    ["https://[::ffff:192.168.0.1]", "private"],
    ["https://[fe80::1]", "link-local"],
  ])("backend baseUrl %s", (baseUrl, kind) => {
    const doc = registryWith((files) => {
      (files.backends as Array<{ id: string; baseUrl: string }>)[0]!.baseUrl = baseUrl;
    });
    expect(refusal(doc)).toMatch(new RegExp(`backends\\[eu-public\\]\\.baseUrl: .* is a ${kind} address`));
  });

  it("a tool endpoint, an issuer's JWKS and a transmitter's JWKS alike", () => {
    expect(refusal(registryWith((f) => void ((f.tools as Array<{ endpoint: string }>)[0]!.endpoint = "https://192.168.0.10/tool")))).toMatch(/tools\[.*\]\.endpoint/);
    expect(refusal(registryWith((f) => void ((f.issuers as Array<{ jwksUri?: string }>)[0]!.jwksUri = "https://100.100.100.200/jwks")))).toMatch(/jwksUri: 100\.100\.100\.200 is a metadata address/);
    const withTransmitter = registryWith((f) => {
      f.transmitters = [{ id: "t", issuer: "https://ssf.example", jwksUri: "https://[fc00::5]/jwks", audience: "a", algorithms: ["ES256"], tenants: ["acme"] }];
    });
    expect(refusal(withTransmitter)).toMatch(/transmitters\[t\]\.jwksUri: .* is a private address/);
  });
});
