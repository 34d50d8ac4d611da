/**
 * Tenant isolation (issue 6, item 5): a principal of one tenant never reads, routes to or audits
 * another tenant's resources, backends, tools, logs or payloads. Each attempt is refused with its own
 * error code and recorded in the caller's own tenant log — never in the other tenant's.
 */
import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { auditFor, auditRecords, bearer, chatBody, gatewayFetch, receivedWith } from "../support/gateway.ts";
import { seedKv } from "../support/seed.ts";
import { tokenFor } from "../support/tokens.ts";

let alice: string;
let bob: string;
let carol: string;
let erin: string;
let batch: string;

beforeAll(async () => {
  await seedKv(env.CONFIG);
  [alice, bob, carol, erin, batch] = await Promise.all([tokenFor("alice"), tokenFor("bob"), tokenFor("carol"), tokenFor("erin"), tokenFor("acme-batch")]);
});

async function refused(response: Response, status: number, code: string): Promise<string> {
  expect(response.status).toBe(status);
  expect(((await response.json()) as { error: { code: string } }).error.code).toBe(code);
  return response.headers.get("x-request-id")!;
}

/** The refusal is in the caller's tenant log, with the other tenant named as the resource, and nowhere in the other's. */
async function auditedIn(own: string, other: string, requestId: string, expected: Record<string, unknown>): Promise<void> {
  const [record, ...more] = (await auditFor(own, requestId)).filter((r) => r.type === "decision");
  expect(more).toHaveLength(0);
  expect(record).toMatchObject({ decision: "deny", ...expected });
  expect(await auditFor(other, requestId)).toHaveLength(0);
}

const get = (path: string, token: string) => gatewayFetch(path, { headers: { authorization: `Bearer ${token}` } });

describe("audit logs", () => {
  for (const route of ["head", "entries", "export", "checkpoint", "proof/inclusion?index=0", "proof/consistency?from=1", "payload/anything"]) {
    it(`alice (acme member) → /audit/globex/${route}: 403 policy_denied, audited in acme`, async () => {
      const id = await refused(await get(`/audit/globex/${route}`, alice), 403, "policy_denied");
      await auditedIn("acme", "globex", id, { action: "read_audit", resource: { type: "Tenant", id: "globex" }, principal: { id: "alice" } });
    });
  }

  it("bob, acme's auditor, → globex's log: 403 policy_denied (his role stops at his tenant), audited in acme", async () => {
    const id = await refused(await get("/audit/globex/entries", bob), 403, "policy_denied");
    await auditedIn("acme", "globex", id, { action: "read_audit", resource: { type: "Tenant", id: "globex" }, principal: { id: "bob" } });
    // …while his own tenant's log is his to read.
    expect((await get("/audit/acme/head", bob)).status).toBe(200);
  });

  it("carol (globex) → acme's export and payloads: 403 policy_denied, audited in globex", async () => {
    const id = await refused(await get("/audit/acme/export", carol), 403, "policy_denied");
    await auditedIn("globex", "acme", id, { action: "read_audit", resource: { type: "Tenant", id: "acme" }, principal: { id: "carol" } });
    const payload = await refused(await get("/audit/acme/payload/00000000-0000-4000-8000-000000000000", carol), 403, "policy_denied");
    await auditedIn("globex", "acme", payload, { action: "read_audit", principal: { id: "carol" } });
  });

  it("a workload of acme → globex's log: 403 segment_denied (audit routes are for people), audited in acme", async () => {
    const id = await refused(await get("/audit/globex/head", batch), 403, "segment_denied");
    await auditedIn("acme", "globex", id, { code: "segment_denied", principal: { id: "acme-batch" } });
  });

  it("a tenant that does not exist: 404 not_found, audited in the caller's log", async () => {
    const id = await refused(await get("/audit/initech/head", bob), 404, "not_found");
    const [record] = await auditFor("acme", id);
    expect(record).toMatchObject({ action: "read_audit", decision: "deny", code: "not_found", resource: { type: "Tenant", id: "initech" } });
  });
});

describe("administration (erasure)", () => {
  const erase = (tenant: string, token: string) => gatewayFetch(`/admin/${tenant}/erasure`, { method: "POST", body: JSON.stringify({ subject: "someone" }), headers: bearer(token) });

  it("erin, acme's administrator, → globex: 403 policy_denied, audited in acme", async () => {
    const id = await refused(await erase("globex", erin), 403, "policy_denied");
    await auditedIn("acme", "globex", id, { action: "administer", what: "erasure", resource: { type: "Tenant", id: "globex" }, principal: { id: "erin" } });
  });

  it("carol → acme: 403 policy_denied, audited in globex", async () => {
    const id = await refused(await erase("acme", carol), 403, "policy_denied");
    await auditedIn("globex", "acme", id, { action: "administer", resource: { type: "Tenant", id: "acme" }, principal: { id: "carol" } });
  });

  it("a tenant that does not exist: 404 not_found, audited in the caller's log", async () => {
    const id = await refused(await erase("initech", erin), 404, "not_found");
    const [record] = await auditFor("acme", id);
    expect(record).toMatchObject({ action: "administer", decision: "deny", code: "not_found", resource: { type: "Tenant", id: "initech" } });
  });

  it("a workload → acme: 403 segment_denied, audited", async () => {
    const id = await refused(await erase("acme", batch), 403, "segment_denied");
    await auditedIn("acme", "globex", id, { code: "segment_denied", principal: { id: "acme-batch" } });
  });
});

describe("backends", () => {
  it("carol cannot reach an EU-only model (acme's region): 403 policy_denied, nothing sent, audited in globex", async () => {
    const marker = `isolation-${crypto.randomUUID()}`;
    const response = await gatewayFetch("/v1/chat/completions", { method: "POST", body: chatBody(marker, { model: "mistral-large-2" }), headers: bearer(carol) });
    const id = await refused(response, 403, "policy_denied");
    expect(await receivedWith("eu-confidential", marker)).toBeUndefined();
    await auditedIn("globex", "acme", id, { action: "invoke_model", principal: { id: "carol" } });
  });

  it("carol's restricted data is not routed to acme's confidential tier: 403 no_eligible_backend, nothing sent, audited in globex", async () => {
    const marker = `isolation-${crypto.randomUUID()}`;
    const response = await gatewayFetch("/v1/chat/completions", { method: "POST", body: chatBody(marker), headers: bearer(carol, { "x-verity-classification": "restricted" }) });
    const id = await refused(response, 403, "no_eligible_backend");
    for (const backend of ["eu-confidential", "eu-public", "us-public"]) expect(await receivedWith(backend, marker)).toBeUndefined();
    await auditedIn("globex", "acme", id, { action: "invoke_model", principal: { id: "carol" } });
  });

  it("carol's ordinary prompt is served in her own region, and recorded in globex's log only", async () => {
    const marker = `isolation-${crypto.randomUUID()}`;
    const response = await gatewayFetch("/v1/chat/completions", { method: "POST", body: chatBody(marker), headers: bearer(carol) });
    expect(response.status).toBe(200);
    await response.text();
    expect(await receivedWith("us-public", marker)).toBeDefined();
    expect(await receivedWith("eu-public", marker)).toBeUndefined();
    const id = response.headers.get("x-request-id")!;
    expect(await auditFor("globex", id)).not.toHaveLength(0);
    expect(await auditFor("acme", id)).toHaveLength(0);
  });
});

describe("tools", () => {
  for (const tool of ["search_documents", "send_email"]) {
    it(`carol → acme's ${tool}: 403 policy_denied, audited in globex`, async () => {
      const response = await gatewayFetch(`/v1/tools/${tool}/invoke`, {
        method: "POST",
        body: JSON.stringify({ arguments: tool === "search_documents" ? { query: "pricing" } : { to: "x@example.com", subject: "s", body: "b" } }),
        headers: bearer(carol),
      });
      const id = await refused(response, 403, "policy_denied");
      const [record] = await auditFor("globex", id);
      expect(record).toMatchObject({ decision: "deny", principal: { id: "carol" } });
      expect(await auditFor("acme", id)).toHaveLength(0);
    });
  }
});

describe("payload vaults", () => {
  it("a vault bound to acme refuses to act for another tenant", async () => {
    const vault = env.PAYLOAD_VAULT.get(env.PAYLOAD_VAULT.idFromName("acme"));
    await vault.erase("acme", "nobody-at-all");
    expect(await vault.read("globex", "x")).toMatchObject({ ok: false, code: "invalid_argument" });
    expect(await vault.erase("globex", "carol")).toMatchObject({ ok: false, code: "invalid_argument" });
  });
});

describe("logs hold their own tenant's records only", () => {
  it("no record in globex's log names an acme principal, and none in acme's a globex one", async () => {
    const acmePeople = new Set(["alice", "bob", "mallory", "dave", "erin", "acme-batch"]);
    for (const record of await auditRecords("globex")) {
      const principal = (record.principal as { id?: string } | null | undefined)?.id;
      if (principal !== undefined) expect(acmePeople.has(principal), JSON.stringify(record)).toBe(false);
      expect(record.tenant).toBe("globex");
    }
    for (const record of await auditRecords("acme")) {
      expect((record.principal as { id?: string } | null | undefined)?.id).not.toBe("carol");
      expect(record.tenant).toBe("acme");
    }
  });
});
