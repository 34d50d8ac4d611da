import { describe, expect, it } from "vitest";
import { parseRegistry, RegistryError } from "../../../worker/workload/index.ts";
import { seedFiles } from "../../support/seed.ts";

function seededRegistry() {
  const files = seedFiles();
  const { tenants, issuers, trustDomains, workloads, backends, tools } = files;
  return { tenants, issuers, trustDomains, workloads, backends, tools } as Record<string, any>;
}

function refusal(mutate: (doc: Record<string, any>) => void): string {
  const doc = seededRegistry();
  mutate(doc);
  try {
    parseRegistry(doc);
  } catch (error) {
    expect(error).toBeInstanceOf(RegistryError);
    return (error as Error).message;
  }
  throw new Error("the registry was accepted");
}

describe("backend registry", () => {
  it("accepts the seeded world, sorted by preference, with the egress allowlist derived from it", () => {
    const registry = parseRegistry(seededRegistry());
    expect(registry.backends.map((b) => b.id)).toEqual(["eu-public", "us-public", "eu-confidential"]);
    expect([...registry.tenants.keys()].sort()).toEqual(["acme", "globex"]);
    expect(registry.origins).toEqual(
      new Set([
        "http://127.0.0.1:8788",
        "http://127.0.0.1:8791",
        "http://127.0.0.1:8792",
        "http://127.0.0.1:8793",
        "http://127.0.0.1:8794",
        "http://127.0.0.1:8795",
      ]),
    );
  });

  it("names the missing field", () => {
    expect(refusal((d) => delete d.backends[0].secret)).toMatch(/\/backends\/0.*secret/);
  });

  it("refuses an unknown tier", () => {
    expect(refusal((d) => (d.backends[1].tier = "premium"))).toMatch(/\/backends\/1\/tier/);
  });

  it("refuses duplicate backend ids", () => {
    expect(refusal((d) => (d.backends[1].id = "eu-public"))).toBe('backends: duplicate id "eu-public"');
  });

  it("refuses plain http to anything but loopback", () => {
    expect(refusal((d) => (d.backends[0].baseUrl = "http://models.example.com"))).toMatch(/eu-public.*plain http/);
  });

  it("refuses credentials or a query in a backend URL", () => {
    expect(refusal((d) => (d.backends[0].baseUrl = "https://user:pw@models.example.com"))).toMatch(/credentials/);
    expect(refusal((d) => (d.backends[0].baseUrl = "https://models.example.com/?key=1"))).toMatch(/query/);
  });

  it("refuses a symmetric algorithm for an issuer (algorithm confusion)", () => {
    expect(refusal((d) => d.issuers[0].algorithms.push("HS256"))).toMatch(/\/issuers\/0\/algorithms/);
  });

  it("refuses a tool of an unknown tenant", () => {
    expect(refusal((d) => (d.tools[0].tenant = "initech"))).toMatch(/unknown tenant "initech"/);
  });

  it("refuses a secret name that is not an upper-case identifier", () => {
    expect(refusal((d) => (d.backends[0].secret = "sk-live-123"))).toMatch(/secret/);
  });
});

describe("identity sections of the registry", () => {
  it("indexes workloads by SPIFFE ID and certificate thumbprint", () => {
    const registry = parseRegistry(seededRegistry());
    const batch = registry.workloads.get("acme-batch");
    expect(batch?.tenant).toBe("acme");
    expect(registry.workloadBySpiffeId.get("spiffe://acme.verity.local/workload/acme-batch")).toBe(batch);
    for (const thumbprint of batch?.certificates ?? []) expect(registry.workloadByCertificate.get(thumbprint)).toBe(batch);
    expect(registry.issuers[0]?.binding).toBe("optional");
  });

  it("refuses an issuer that speaks for an unknown tenant", () => {
    expect(refusal((d) => d.issuers[0].tenants.push("initech"))).toBe('issuers[dev-idp].tenants: unknown tenant "initech"');
  });

  it("requires a tenant claim when an issuer serves several tenants", () => {
    expect(refusal((d) => delete d.issuers[0].tenantClaim)).toBe("issuers[dev-idp].tenantClaim: required when the issuer serves several tenants");
  });

  it("discovers keys from the issuer's origin when no jwksUri is configured", () => {
    const doc = seededRegistry();
    doc.issuers[0].issuer = "https://idp.example.com/realms/acme";
    delete doc.issuers[0].jwksUri;
    expect(parseRegistry(doc).origins.has("https://idp.example.com")).toBe(true);
  });

  it("refuses a Cloudflare Access issuer kind it does not know", () => {
    expect(refusal((d) => (d.issuers[0].kind = "saml"))).toMatch(/\/issuers\/0\/kind/);
  });

  it("refuses a SPIFFE ID outside every configured trust domain", () => {
    expect(refusal((d) => (d.workloads[0].spiffeIds = ["spiffe://other.example/workload/x"]))).toBe(
      'workloads[acme-batch].spiffeIds: trust domain "other.example" is not configured',
    );
  });

  it("refuses a SPIFFE ID that is not a workload ID", () => {
    expect(refusal((d) => (d.workloads[0].spiffeIds = ["spiffe://acme.verity.local/../x"]))).toMatch(/is not a workload SPIFFE ID/);
    expect(refusal((d) => (d.workloads[0].spiffeIds = ["spiffe://acme.verity.local"]))).toMatch(/is not a workload SPIFFE ID/);
  });

  it("refuses a workload whose SPIFFE ID belongs to another tenant's trust domain", () => {
    expect(refusal((d) => (d.workloads[0].tenant = "globex"))).toBe(
      'workloads[acme-batch].spiffeIds: trust domain "acme.verity.local" belongs to tenant "acme"',
    );
  });

  it("refuses one certificate registered for two workloads", () => {
    const thumbprint = "A".repeat(43);
    expect(
      refusal((d) => {
        d.workloads[0].certificates = [thumbprint];
        d.workloads.push({ id: "acme-other", tenant: "acme", certificates: [thumbprint] });
      }),
    ).toBe(`workloads[acme-other].certificates: "${thumbprint}" is registered twice`);
  });

  it("refuses a thumbprint that is not a base64url SHA-256", () => {
    expect(refusal((d) => (d.workloads[0].certificates = ["AB:CD:EF"]))).toMatch(/\/workloads\/0\/certificates\/0/);
  });

  it("refuses a trust domain with a scheme or upper case", () => {
    expect(refusal((d) => (d.trustDomains[0].trustDomain = "spiffe://acme.verity.local"))).toMatch(/trustDomain/);
  });
});

describe("Shared Signals transmitters", () => {
  const withTransmitters = () => ({ ...seededRegistry(), transmitters: structuredClone(seedFiles().transmitters) as Record<string, any>[] });
  function transmitterRefusal(mutate: (transmitters: Record<string, any>[]) => void): string {
    const doc = withTransmitters();
    mutate(doc.transmitters);
    try {
      parseRegistry(doc);
    } catch (error) {
      expect(error).toBeInstanceOf(RegistryError);
      return (error as Error).message;
    }
    throw new Error("the registry was accepted");
  }

  it("accepts the seeded transmitter and allows egress to its key set only", () => {
    const registry = parseRegistry(withTransmitters());
    expect(registry.transmitters.map((t) => t.id)).toEqual(["dev-ssf"]);
    expect(registry.origins.has("http://127.0.0.1:8796")).toBe(true);
  });

  it("has none when the section is absent", () => {
    expect(parseRegistry(seededRegistry()).transmitters).toEqual([]);
  });

  it("refuses an unknown tenant, a duplicate issuer, an HMAC algorithm, a plain-http key set and a too-long event age", () => {
    expect(transmitterRefusal((t) => (t[0]!.tenants = ["initech"]))).toBe('transmitters[dev-ssf].tenants: unknown tenant "initech"');
    expect(transmitterRefusal((t) => t.push({ ...t[0], id: "dev-ssf-2" }))).toMatch(/transmitters \(issuer\)/);
    expect(transmitterRefusal((t) => (t[0]!.algorithms = ["HS256"]))).toMatch(/\/transmitters\/0\/algorithms/);
    expect(transmitterRefusal((t) => (t[0]!.jwksUri = "http://ssf.example/jwks"))).toMatch(/plain http is allowed only to loopback/);
    expect(transmitterRefusal((t) => (t[0]!.maxEventAgeSeconds = 3600))).toMatch(/maxEventAgeSeconds/);
    expect(transmitterRefusal((t) => delete t[0]!.audience)).toMatch(/audience/);
  });
});

describe("MCP servers in the registry", () => {
  const withMcpServers = () => ({ ...seededRegistry(), mcpServers: structuredClone(seedFiles().mcpServers) as Record<string, any>[] });
  function mcpRefusal(mutate: (servers: Record<string, any>[]) => void): string {
    return refusal((doc) => {
      Object.assign(doc, withMcpServers());
      mutate(doc.mcpServers);
    });
  }

  it("accepts the seeded server and puts its endpoint on the egress allowlist; none when absent", () => {
    const registry = parseRegistry(withMcpServers());
    expect(registry.mcpServers.get("acme-docs")).toMatchObject({ tenant: "acme", tools: ["search_documents", "send_email"], audience: "urn:verity:mcp:acme-docs" });
    expect(registry.origins.has("http://127.0.0.1:8797")).toBe(true);
    expect(parseRegistry(seededRegistry()).mcpServers.size).toBe(0);
  });

  it("refuses a tool no registry entry defines, and a tool of another tenant", () => {
    expect(mcpRefusal((s) => s[0]!.tools.push("export_all_documents"))).toContain('mcpServers[acme-docs].tools: unknown tool "export_all_documents"');
    expect(mcpRefusal((s) => (s[0]!.tenant = "globex"))).toContain('tool "search_documents" belongs to tenant "acme"');
  });

  it("refuses an unknown tenant, a duplicate id, plain http off loopback, unknown fields and unsafe scopes", () => {
    expect(mcpRefusal((s) => (s[0]!.tenant = "initech"))).toContain('unknown tenant "initech"');
    expect(mcpRefusal((s) => s.push(structuredClone(s[0]!)))).toContain('mcpServers: duplicate id "acme-docs"');
    expect(mcpRefusal((s) => (s[0]!.endpoint = "http://mcp.acme.example/mcp"))).toContain("plain http is allowed only to loopback");
    expect(mcpRefusal((s) => (s[0]!.token = "secret"))).toContain("registry does not match its schema");
    // A scope is written into metadata documents and challenges: no quote, no backslash, no space.
    expect(mcpRefusal((s) => (s[0]!.scopes = ['gate"way']))).toContain("registry does not match its schema");
  });
});
