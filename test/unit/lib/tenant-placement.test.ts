/**
 * Tenant placement (worker/lib/tenant-placement.ts). Local workerd refuses jurisdictions ("not
 * implemented in workerd"), so the jurisdiction path is proven here through a recording namespace.
 */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { jurisdictionOfTenant, jurisdictionsEnforced, PlacementError, placedId, placedStub } from "../../../worker/lib/tenant-placement.ts";

interface Call {
  jurisdiction: string | null;
  name: string;
}

function recordingNamespace(): { namespace: DurableObjectNamespace; calls: Call[] } {
  const calls: Call[] = [];
  const make = (jurisdiction: string | null): DurableObjectNamespace =>
    ({
      idFromName: (name: string) => {
        calls.push({ jurisdiction, name });
        return { name, jurisdiction: jurisdiction ?? undefined, toString: () => `${jurisdiction}:${name}`, equals: () => false } as DurableObjectId;
      },
      jurisdiction: (j: string) => make(j),
      get: (id: DurableObjectId) => ({ id }) as unknown as DurableObjectStub,
    }) as unknown as DurableObjectNamespace;
  return { namespace: make(null), calls };
}

describe("tenant placement", () => {
  it("creates an EU tenant's object in the eu jurisdiction (and a US tenant's in us)", () => {
    const { namespace, calls } = recordingNamespace();
    expect(placedId(namespace, "acme", "eu", {}).jurisdiction).toBe("eu");
    expect(placedStub(namespace, "globex", "us", { DO_JURISDICTIONS: "on" }).id.jurisdiction).toBe("us");
    expect(calls).toEqual([
      { jurisdiction: "eu", name: "acme" },
      { jurisdiction: "us", name: "globex" },
    ]);
  });

  it("addresses the gateway's own logs (no tenant) by name alone", () => {
    const { namespace, calls } = recordingNamespace();
    placedId(namespace, "_config", null, {});
    expect(calls).toEqual([{ jurisdiction: null, name: "_config" }]);
  });

  it("refuses a tenant jurisdiction Durable Objects do not offer, rather than storing it anywhere", () => {
    const { namespace } = recordingNamespace();
    expect(() => placedId(namespace, "acme", "ch", {})).toThrow(PlacementError);
  });

  it("addresses by name alone only when told jurisdictions are off (local workerd); a bad mode is an error", () => {
    const { namespace, calls } = recordingNamespace();
    placedId(namespace, "acme", "eu", { DO_JURISDICTIONS: "off" });
    expect(calls).toEqual([{ jurisdiction: null, name: "acme" }]);
    expect(jurisdictionsEnforced({})).toBe(true);
    expect(() => jurisdictionsEnforced({ DO_JURISDICTIONS: "false" })).toThrow(PlacementError);
  });

  it("local workerd refuses jurisdictions, which is why the tests run with them off", async () => {
    // Documents the platform gap the seam above covers: if workerd gains support, turn them on in tests.
    expect(() => env.AUDIT_LOG.jurisdiction("eu").idFromName("acme")).toThrow(/not implemented/);
  });

  it("looks a tenant's jurisdiction up in the configuration; never for the gateway's own logs; unknown tenants refused", async () => {
    const tenants = new Map([["acme", { jurisdiction: "eu" }]]);
    let reads = 0;
    const registry = async () => {
      reads++;
      return tenants;
    };
    expect(await jurisdictionOfTenant("acme", registry)).toBe("eu");
    expect(await jurisdictionOfTenant("_config", registry)).toBeNull();
    expect(await jurisdictionOfTenant("_unauthenticated", registry)).toBeNull();
    expect(reads).toBe(1);
    await expect(jurisdictionOfTenant("initech", registry)).rejects.toThrow(PlacementError);
  });
});
