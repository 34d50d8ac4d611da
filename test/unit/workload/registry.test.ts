import { describe, expect, it } from "vitest";
import { parseRegistry, RegistryError } from "../../../worker/workload/index.ts";
import { seedFiles } from "../../support/seed.ts";

function seededRegistry() {
  const files = seedFiles();
  return { tenants: files.tenants, issuers: files.issuers, backends: files.backends, tools: files.tools } as Record<string, any>;
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
      new Set(["http://127.0.0.1:8788", "http://127.0.0.1:8791", "http://127.0.0.1:8792", "http://127.0.0.1:8793", "http://127.0.0.1:8795"]),
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
