/** Route segments by principal kind, CORS closed by default, and the registry's network settings. */
import { describe, expect, it } from "vitest";
import { createEgress, DEFAULT_LIMITS, DEFAULT_SEGMENTS, networkPlan, originRefusal, preflight, segmentOf, segmentRefusal } from "../../../worker/network/index.ts";
import { GatewayError } from "../../../worker/errors.ts";
import { parseRegistry, RegistryError } from "../../../worker/workload/index.ts";
import { seedFiles } from "../../support/seed.ts";

function registry(mutate: (files: ReturnType<typeof seedFiles>) => void = () => {}) {
  const files = seedFiles();
  mutate(files);
  return parseRegistry({ tenants: files.tenants, issuers: files.issuers, trustDomains: files.trustDomains, workloads: files.workloads, backends: files.backends, tools: files.tools });
}

describe("segments", () => {
  it("groups routes by prefix", () => {
    expect(segmentOf("/v1/chat/completions")).toBe("ai");
    expect(segmentOf("/v1/models")).toBe("ai");
    expect(segmentOf("/v1/tools/search_documents/invoke")).toBe("tools");
    expect(segmentOf("/mcp/acme-docs")).toBe("mcp");
    expect(segmentOf("/audit/acme/export")).toBe("audit");
    expect(segmentOf("/admin/acme/erasure")).toBe("admin");
    expect(segmentOf("/elsewhere")).toBeUndefined();
  });

  it("keeps workloads off the human routes and admits both kinds to the AI routes", () => {
    expect(segmentRefusal("/audit/acme/export", "workload", DEFAULT_SEGMENTS)?.code).toBe("segment_denied");
    expect(segmentRefusal("/admin/acme/erasure", "workload", DEFAULT_SEGMENTS)?.code).toBe("segment_denied");
    expect(segmentRefusal("/audit/acme/export", "user", DEFAULT_SEGMENTS)).toBeUndefined();
    expect(segmentRefusal("/v1/chat/completions", "workload", DEFAULT_SEGMENTS)).toBeUndefined();
    expect(segmentRefusal("/v1/chat/completions", "user", DEFAULT_SEGMENTS)).toBeUndefined();
    // A path no segment claims admits nobody.
    expect(segmentRefusal("/internal/x", "user", DEFAULT_SEGMENTS)?.code).toBe("segment_denied");
  });

  it("a tenant may open or close a segment in its configuration", () => {
    const plan = networkPlan(registry((f) => {
      (f.tenants as Record<string, Record<string, unknown>>).acme!.segments = { ai: ["user"], audit: ["user", "workload"] };
    }));
    const acme = plan.tenants.get("acme")!;
    expect(segmentRefusal("/v1/chat/completions", "workload", acme.segments)?.code).toBe("segment_denied");
    expect(segmentRefusal("/audit/acme/head", "workload", acme.segments)).toBeUndefined();
    expect(plan.tenants.get("globex")!.segments).toEqual(DEFAULT_SEGMENTS);
  });

  it("the registry refuses an unknown principal kind or segment", () => {
    expect(() => registry((f) => void ((f.tenants as Record<string, Record<string, unknown>>).acme!.segments = { ai: ["model"] }))).toThrow(RegistryError);
    expect(() => registry((f) => void ((f.tenants as Record<string, Record<string, unknown>>).acme!.segments = { everything: ["user"] }))).toThrow(RegistryError);
  });
});

describe("CORS", () => {
  const listed = new Set(["https://app.acme.example"]);
  const ask = (origin: string, headers = "authorization, content-type, x-stainless-os, x-evil") =>
    new Request("https://gateway.test/v1/chat/completions", {
      method: "OPTIONS",
      headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": headers },
    });

  it("answers a preflight for a listed origin, naming it (never *), without credentials", () => {
    const response = preflight(ask("https://app.acme.example"), listed);
    expect(response.status).toBe(204);
    expect(response.headers.get("access-control-allow-origin")).toBe("https://app.acme.example");
    expect(response.headers.get("access-control-allow-credentials")).toBeNull();
    expect(response.headers.get("access-control-allow-headers")).toBe("authorization, content-type, x-stainless-os");
  });

  it("refuses a preflight for any other origin", () => {
    for (const origin of ["https://evil.example", "null", "https://app.acme.example.evil.example", "http://app.acme.example"]) {
      expect(() => preflight(ask(origin), listed)).toThrow(GatewayError);
    }
  });

  it("refuses a cross-origin request from an origin the tenant does not list, not a same-origin or non-browser one", () => {
    const request = (origin?: string) => new Request("https://gateway.test/v1/chat/completions", { method: "POST", headers: origin ? { origin } : {} });
    expect(originRefusal(request("https://evil.example"), listed)?.code).toBe("cors_origin_denied");
    expect(originRefusal(request("null"), listed)?.code).toBe("cors_origin_denied");
    expect(originRefusal(request("https://app.acme.example"), listed)).toBeUndefined();
    expect(originRefusal(request("https://gateway.test"), listed)).toBeUndefined();
    expect(originRefusal(request(), listed)).toBeUndefined();
  });

  it("is closed by default, and the registry accepts origins only (https, or http to localhost)", () => {
    expect(networkPlan(registry()).corsOrigins.size).toBe(0);
    const plan = networkPlan(registry((f) => void ((f.tenants as Record<string, Record<string, unknown>>).acme!.corsOrigins = ["https://app.acme.example", "http://localhost:5173"])));
    expect([...plan.tenants.get("acme")!.corsOrigins]).toEqual(["https://app.acme.example", "http://localhost:5173"]);
    expect(plan.tenants.get("globex")!.corsOrigins.size).toBe(0);
    for (const bad of ["*", "https://app.acme.example/", "http://app.acme.example", "https://app.acme.example/path", "null"]) {
      expect(() => registry((f) => void ((f.tenants as Record<string, Record<string, unknown>>).acme!.corsOrigins = [bad]))).toThrow(RegistryError);
    }
  });
});

describe("network plan", () => {
  it("fills limit defaults per field and bounds per backend origin", () => {
    const plan = networkPlan(registry((f) => {
      (f.tenants as Record<string, Record<string, unknown>>).acme!.limits = { principal: { requestsPerMinute: 5 } };
      (f.backends as Array<Record<string, unknown>>)[0]!.maxResponseBytes = 4096;
    }));
    const acme = plan.tenants.get("acme")!.limits;
    expect(acme.principal.rate).toEqual({ requestsPerMinute: 5, burst: DEFAULT_LIMITS.principal.rate.burst });
    expect(acme.tenant).toEqual(DEFAULT_LIMITS.tenant);
    expect(plan.bounds.get("http://127.0.0.1:8791")).toEqual({ maxResponseBytes: 4096 });
  });

  it("is built once per registry", () => {
    const r = registry();
    expect(networkPlan(r)).toBe(networkPlan(r));
  });
});

describe("egress response bounds", () => {
  it("refuses a declared length above the bound and cuts a stream past it", async () => {
    const big = new Uint8Array(3000);
    const calls: string[] = [];
    const via = {
      fetch: async (url: RequestInfo | URL) => {
        calls.push(String(url));
        if (String(url).endsWith("/declared")) return new Response(big, { headers: { "content-length": "3000" } });
        return new Response(new ReadableStream({ start(c) { c.enqueue(big.slice(0, 1500)); c.enqueue(big.slice(0, 1500)); c.close(); } }));
      },
    } as unknown as Fetcher;
    const egress = createEgress(new Set(["https://b.example"]), { bounds: new Map([["https://b.example", { maxResponseBytes: 2048 }]]) });
    const declared = await egress("https://b.example/declared", { via }).then(() => undefined, (e: unknown) => e);
    expect((declared as GatewayError).code).toBe("upstream_response_too_large");
    const streamed = await egress("https://b.example/streamed", { via });
    const read = await streamed.arrayBuffer().then(() => undefined, (e: unknown) => e);
    expect((read as GatewayError).code).toBe("upstream_response_too_large");
    expect(calls).toHaveLength(2);
  });
});
