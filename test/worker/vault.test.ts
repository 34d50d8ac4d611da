/**
 * Data at rest, end to end in workerd: a restricted prompt is kept (policy `model.restricted-retained`,
 * obligation `retain:prompt,days=30`), envelope-encrypted in acme's vault; the audit log holds only its
 * reference, key ids and ciphertext digest; the auditor can read it back; an administrator's erasure of
 * the data subject crypto-shreds it (410 payload_erased) and the audit chain still verifies.
 */
import { env } from "cloudflare:test";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sha256Hex, utf8 } from "../../worker/lib/encoding.ts";
import { compilePolicy } from "../../worker/policy/index.ts";
import { parseExport, verifiersFromJwks, verifyLog, type ExportLine } from "../../worker/verify/log-verifier.ts";
import { replayDecisions } from "../../worker/verify/replay.ts";
import { seededBundle } from "../unit/policy/world.ts";
import { auditFor, bearer, chatBody, gatewayFetch, receivedWith } from "../support/gateway.ts";
import { seedKv } from "../support/seed.ts";
import { tokenFor } from "../support/tokens.ts";

let alice: string;
let bob: string;
let erin: string;
const marker = `vault-${crypto.randomUUID()}`;
const body = chatBody(`Board minutes ${marker}: the merger closes on Friday.`);
let payloadId: string;
let requestId: string;

const auditorGet = (path: string) => gatewayFetch(`/audit/acme${path}`, { headers: { authorization: `Bearer ${bob}` } });

async function exportAcme(): Promise<ExportLine[]> {
  const checkpoint = await auditorGet("/checkpoint");
  const size = Number(checkpoint.headers.get("x-audit-tree-size"));
  const note = await checkpoint.text();
  let text = "";
  for (let start = 0; start < size; start += 1000) text += await (await auditorGet(`/export?start=${start}&end=${size}`)).text();
  return parseExport(`${text}${JSON.stringify({ checkpoint: note })}\n`);
}

beforeAll(async () => {
  await seedKv(env.CONFIG);
  [alice, bob, erin] = await Promise.all([tokenFor("alice"), tokenFor("bob"), tokenFor("erin")]);
  const response = await gatewayFetch("/v1/chat/completions", { method: "POST", body, headers: bearer(alice, { "x-verity-classification": "restricted" }) });
  expect(response.status).toBe(200);
  await response.text();
  requestId = response.headers.get("x-request-id")!;
});

describe("a restricted prompt is kept, encrypted", () => {
  it("reaches the confidential tier and leaves a payload_stored record: reference, key ids, digest — no plaintext", async () => {
    expect(await receivedWith("eu-confidential", marker)).toBeDefined();
    const records = await auditFor("acme", requestId);
    const decision = records.find((r) => r.type === "decision")!;
    expect(decision).toMatchObject({ decision: "allow", obligations: expect.arrayContaining([{ kind: "retain", what: "prompt", days: 30 }]) });
    const stored = records.find((r) => r.type === "payload_stored") as { payload: Record<string, unknown> } | undefined;
    expect(stored?.payload).toMatchObject({ kind: "prompt", subject: "alice", kekId: expect.stringMatching(/^kek-[0-9a-f]{16}$/), dekId: expect.stringMatching(/^dek-/), truncated: false });
    expect(stored!.payload.ciphertextDigest).toMatch(/^[0-9a-f]{64}$/);
    for (const record of records) expect(JSON.stringify(record)).not.toContain(marker);
    payloadId = stored!.payload.id as string;
  });

  it("the auditor reads it back; its plaintext is the request the decision record's requestDigest names (audited)", async () => {
    const response = await auditorGet(`/payload/${payloadId}`);
    expect(response.status).toBe(200);
    const payload = (await response.json()) as { text: string; kind: string; subject: string };
    expect(payload).toMatchObject({ kind: "prompt", subject: "alice" });
    expect(payload.text).toBe(body);
    const [decision] = (await auditFor("acme", requestId)).filter((r) => r.type === "decision");
    expect(decision!.requestDigest).toBe(await sha256Hex(utf8(payload.text)));
    const [read] = await auditFor("acme", response.headers.get("x-request-id")!);
    expect(read).toMatchObject({ action: "read_audit", what: `payload:${payloadId}`, decision: "allow", principal: { id: "bob" } });
  });

  it("a member cannot read payloads (403 policy_denied, audited)", async () => {
    const response = await gatewayFetch(`/audit/acme/payload/${payloadId}`, { headers: { authorization: `Bearer ${alice}` } });
    expect(response.status).toBe(403);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe("policy_denied");
    const [record] = await auditFor("acme", response.headers.get("x-request-id")!);
    expect(record).toMatchObject({ action: "read_audit", decision: "deny", principal: { id: "alice" } });
  });
});

describe("erasure of a data subject", () => {
  const erase = (token: string, tenant: string, subject: unknown) =>
    gatewayFetch(`/admin/${tenant}/erasure`, { method: "POST", body: JSON.stringify({ subject }), headers: bearer(token) });

  it("is refused to a non-administrator (403 policy_denied, audited) and to a malformed request (400)", async () => {
    const response = await erase(alice, "acme", "alice");
    expect(response.status).toBe(403);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe("policy_denied");
    const [record] = await auditFor("acme", response.headers.get("x-request-id")!);
    expect(record).toMatchObject({ action: "administer", what: "erasure", subject: "alice", decision: "deny", principal: { id: "alice" } });
    expect((await erase(erin, "acme", "")).status).toBe(400);
    expect((await erase(erin, "acme", 42)).status).toBe(400);
    // The payload is untouched.
    expect((await auditorGet(`/payload/${payloadId}`)).status).toBe(200);
  });

  it("by the tenant's administrator destroys the subject's key: the payload answers 410 payload_erased", async () => {
    const response = await erase(erin, "acme", "alice");
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ subject: "alice", dataKeysDestroyed: 1, payloadsUnreadable: expect.any(Number) });
    const records = await auditFor("acme", response.headers.get("x-request-id")!);
    expect(records.map((r) => [r.type, r.decision])).toEqual([
      ["decision", "allow"],
      ["erasure", undefined],
    ]);
    expect(records[1]).toMatchObject({ subject: "alice", dataKeysDestroyed: [expect.stringMatching(/^dek-/)] });

    const read = await auditorGet(`/payload/${payloadId}`);
    expect(read.status).toBe(410);
    expect(((await read.json()) as { error: { code: string } }).error.code).toBe("payload_erased");
  });

  it("leaves the audit chain intact: the exported log verifies against the published keys", async () => {
    const jwks = await (await gatewayFetch("/.well-known/jwks.json")).json();
    const lines = await exportAcme();
    const report = await verifyLog(lines, { verifiers: await verifiersFromJwks(jwks), origin: "verity.local/audit/acme" });
    expect(report).toMatchObject({ ok: true });
    // The erasure decisions replay like any other PDP decision.
    const records = lines.flatMap((l) => (l.kind === "entry" ? [JSON.parse(l.entry.canonical) as unknown] : []));
    const bundle = seededBundle();
    const summary = replayDecisions(records, new Map([[compilePolicy(bundle, []).version, bundle]]));
    const erasures = summary.outcomes.filter((o) => o.action === "administer");
    expect(erasures.length).toBeGreaterThanOrEqual(2);
    for (const outcome of erasures) expect(outcome.status).toBe("same");
  });

  it("a later restricted prompt of the same subject is kept under a fresh data key", async () => {
    const response = await gatewayFetch("/v1/chat/completions", { method: "POST", body: chatBody(`again ${marker}`), headers: bearer(alice, { "x-verity-classification": "restricted" }) });
    expect(response.status).toBe(200);
    await response.text();
    const stored = (await auditFor("acme", response.headers.get("x-request-id")!)).find((r) => r.type === "payload_stored") as unknown as { payload: { id: string } };
    const read = await auditorGet(`/payload/${stored.payload.id}`);
    expect(read.status).toBe(200);
    expect(((await read.json()) as { text: string }).text).toContain(`again ${marker}`);
  });
});

describe("KEK rotation", () => {
  it("an administrator's re-wrap leaves every data key under the KEK in force (audited); a member's is refused", async () => {
    const refused = await gatewayFetch("/admin/acme/vault/rewrap", { method: "POST", headers: bearer(alice) });
    expect(refused.status).toBe(403);
    const response = await gatewayFetch("/admin/acme/vault/rewrap", { method: "POST", headers: bearer(erin) });
    expect(response.status).toBe(200);
    const result = (await response.json()) as { kekId: string; rewrapped: number };
    // One key in the test secret: nothing to re-wrap, and the id is the one payloads were kept under.
    expect(result).toMatchObject({ rewrapped: 0, kekId: expect.stringMatching(/^kek-[0-9a-f]{16}$/) });
    const records = await auditFor("acme", response.headers.get("x-request-id")!);
    expect(records.map((r) => r.type)).toEqual(["decision", "rewrap"]);
    expect(records[1]).toMatchObject({ kekId: result.kekId, rewrapped: 0 });
  });
});

describe("retention", () => {
  it("the vault's alarm deletes a payload once its retention has ended", async () => {
    const { runDurableObjectAlarm, runInDurableObject } = await import("cloudflare:test");
    const stub = env.PAYLOAD_VAULT.get(env.PAYLOAD_VAULT.idFromName("retention-test"));
    const stored = await stub.store({ tenant: "retention-test", subject: "s1", kind: "output", plaintext: utf8("short-lived"), createdAt: Date.now() - 2 * 86_400_000, retainDays: 1 });
    // No KEK_RETENTION_TEST secret: storing is refused, fail closed.
    expect(stored).toMatchObject({ ok: false, code: "kek_missing" });
    const acme = env.PAYLOAD_VAULT.get(env.PAYLOAD_VAULT.idFromName("acme"));
    // Kept for a day from a minute from now: the alarm is armed at exactly that end.
    const soon = await acme.store({ tenant: "acme", subject: "retention-subject", kind: "output", plaintext: utf8("kept a day"), createdAt: Date.now() - 86_400_000 + 60_000, retainDays: 1 });
    expect(soon.ok).toBe(true);
    const end = soon.ok ? soon.value.expiresAt : 0;
    expect(await runInDurableObject(acme, (_instance, state) => state.storage.getAlarm())).toBe(end);
    // One already past its retention: unreadable at once, and deleted by the (earlier) alarm.
    const old = await acme.store({ tenant: "acme", subject: "retention-subject", kind: "output", plaintext: utf8("short-lived"), createdAt: Date.now() - 2 * 86_400_000, retainDays: 1 });
    expect(old.ok).toBe(true);
    const id = old.ok ? old.value.payloadId : "";
    expect(await acme.read("acme", id)).toMatchObject({ ok: false, code: "payload_not_found" });
    // The alarm is due at once; it may already have run on its own.
    await runDurableObjectAlarm(acme);
    const left = await runInDurableObject(acme, (_instance, state) => state.storage.sql.exec(`SELECT COUNT(*) AS n FROM vault_payloads WHERE id = ?`, id).one().n);
    // …and re-armed for the next end.
    expect(await runInDurableObject(acme, (_instance, state) => state.storage.getAlarm())).toBe(end);
    expect(left).toBe(0);
  });
});

describe("retain:output (a policy variant keeps alice's gpt-4.1 replies for 7 days)", () => {
  const RETAIN_OUTPUT = `
@id("test.retain-output")
@obligation("retain:output,days=7")
permit (principal, action == Action::"invoke_model", resource is Backend)
when { principal == User::"alice" && context.model == "gpt-4.1" && resource.region == principal.tenant.residency };
`;

  beforeAll(async () => {
    await seedKv(env.CONFIG, (files) => {
      files.policies["models.cedar"] += RETAIN_OUTPUT;
    });
  });

  afterAll(async () => {
    await seedKv(env.CONFIG);
  });

  async function storedOutput(requestId: string): Promise<{ id: string; kind: string; truncated: boolean }> {
    // The reply is kept in waitUntil, after the caller has it: wait for its record.
    for (let attempt = 0; attempt < 50; attempt++) {
      const record = (await auditFor("acme", requestId)).find((r) => r.type === "payload_stored") as unknown as { payload: { id: string; kind: string; truncated: boolean } } | undefined;
      if (record) return record.payload;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`no payload_stored record for ${requestId}`);
  }

  for (const stream of [false, true]) {
    it(`keeps the reply exactly as the caller received it (${stream ? "streamed" : "whole"})`, async () => {
      const said = `output-${crypto.randomUUID()}`;
      const response = await gatewayFetch("/v1/chat/completions", {
        method: "POST",
        body: chatBody(`#say:${said}`, { model: "gpt-4.1", stream }),
        headers: bearer(alice),
      });
      expect(response.status).toBe(200);
      const received = await response.text();
      expect(received).toContain(said);
      const payload = await storedOutput(response.headers.get("x-request-id")!);
      expect(payload).toMatchObject({ kind: "output", truncated: false });
      const read = (await (await auditorGet(`/payload/${payload.id}`)).json()) as { text: string };
      expect(read.text).toBe(received);
      // Only the output was asked for: the prompt is not kept.
      const records = await auditFor("acme", response.headers.get("x-request-id")!);
      expect(records.filter((r) => r.type === "payload_stored")).toHaveLength(1);
    });
  }
});
