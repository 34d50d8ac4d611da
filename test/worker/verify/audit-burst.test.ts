/**
 * The proof, through the whole Worker with real tokens: a burst of concurrent requests leaves
 * exactly one decision record per request; the auditor's export (checkpoint, pages, JWKS) verifies;
 * replay reproduces every decision; one changed byte, a deleted row, a forged checkpoint are each
 * named precisely.
 */
import { env } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { seedKv } from "../../support/seed.ts";
import { tokenFor } from "../../support/tokens.ts";
import { bearer, chatBody, gatewayFetch } from "../../support/gateway.ts";
import { seededBundle } from "../../unit/policy/world.ts";
import { compilePolicy } from "../../../worker/policy/index.ts";
import { parseExport, verifiersFromJwks, verifyLog, type ExportLine } from "../../../worker/verify/log-verifier.ts";
import type { NoteVerifier } from "../../../worker/verify/note.ts";
import { replayDecisions } from "../../../worker/verify/replay.ts";
import type { AuditLog } from "../../../worker/verify/audit-log.ts";
import { toHex } from "../../../worker/lib/encoding.ts";
import { leafHash } from "../../../worker/verify/merkle/hash.ts";
import { treeRoot } from "../../../worker/verify/merkle/tree-head.ts";

const BURST = 50;
let alice: string;
let mallory: string;
let bob: string;
let verifiers: NoteVerifier[];
const requestIds: string[] = [];

beforeAll(async () => {
  await seedKv(env.CONFIG);
  [alice, mallory, bob] = await Promise.all([tokenFor("alice"), tokenFor("mallory"), tokenFor("bob")]);
  // The burst: alice's allowed chats and mallory's refused ones (confidential-only model), all at once.
  const responses = await Promise.all(
    Array.from({ length: BURST }, (_, i) =>
      i % 10 === 9
        ? gatewayFetch("/v1/chat/completions", { method: "POST", headers: bearer(mallory), body: chatBody(`burst ${i}`, { model: "mistral-large-2" }) })
        : gatewayFetch("/v1/chat/completions", { method: "POST", headers: bearer(alice), body: chatBody(`burst ${i}`) }),
    ),
  );
  for (const [i, response] of responses.entries()) {
    expect(response.status, `request ${i}`).toBe(i % 10 === 9 ? 403 : 200);
    await response.text();
    requestIds.push(response.headers.get("x-request-id")!);
  }
  const jwks = await gatewayFetch("/.well-known/jwks.json");
  expect(jwks.status).toBe(200);
  verifiers = await verifiersFromJwks(await jwks.json());
});

async function auditorGet(path: string): Promise<Response> {
  const response = await gatewayFetch(`/audit/acme${path}`, { headers: bearer(bob) });
  expect(response.status, path).toBe(200);
  return response;
}

/** What `verity audit export` does, over the routes: the checkpoint fixes the size, then the pages. */
async function exportAcme(): Promise<ExportLine[]> {
  const checkpoint = await auditorGet("/checkpoint");
  const size = Number(checkpoint.headers.get("x-audit-tree-size"));
  const note = await checkpoint.text();
  let text = "";
  for (let start = 0; start < size; start += 1000) text += await (await auditorGet(`/export?start=${start}&end=${size}`)).text();
  return parseExport(`${text}${JSON.stringify({ checkpoint: note })}\n`);
}

const acmeLog = () => env.AUDIT_LOG.get(env.AUDIT_LOG.idFromName("acme")) as DurableObjectStub<AuditLog>;

describe("a burst of concurrent requests", () => {
  it("leaves exactly one decision record per request, and the export verifies against the published keys", async () => {
    const lines = await exportAcme();
    const records = lines.flatMap((l) => (l.kind === "entry" ? [JSON.parse(l.entry.canonical) as Record<string, unknown>] : []));
    for (const id of requestIds) {
      expect(records.filter((r) => r.type === "decision" && r.requestId === id), id).toHaveLength(1);
    }
    const report = await verifyLog(lines, { verifiers, origin: "verity.local/audit/acme" });
    expect(report).toMatchObject({ ok: true });
    expect(report.entries).toBeGreaterThanOrEqual(BURST);
    expect(report.checkpoints[0]!.verifiedBy).toHaveLength(1);
  });

  it("replays every recorded decision with the gateway's PDP and reproduces it", async () => {
    const lines = await exportAcme();
    const records = lines.flatMap((l) => (l.kind === "entry" ? [JSON.parse(l.entry.canonical) as unknown] : []));
    const bundle = seededBundle();
    const summary = replayDecisions(records, new Map([[compilePolicy(bundle, []).version, bundle]]));
    expect(summary.counts.differs).toBe(0);
    expect(summary.counts.unreplayable).toBe(0);
    // Every burst request and every auditor read was a PDP decision that was replayed.
    expect(summary.counts.same).toBeGreaterThanOrEqual(BURST + 1);
    const replayedIds = new Set(summary.outcomes.filter((o) => o.status === "same").map((o) => o.requestId));
    for (const id of requestIds) expect(replayedIds.has(id), id).toBe(true);
    // A policy change the records did not see is caught: a bundle that forbids everything for alice.
    const stricter = { ...bundle, policies: `${bundle.policies}\n@id("replay-test-forbid")\nforbid (principal == User::"alice", action, resource);\n` };
    const changed = replayDecisions(records, new Map([[compilePolicy(bundle, []).version, stricter]]));
    expect(changed.counts.differs).toBeGreaterThan(0);
  });

  it("serves inclusion and consistency proofs to the auditor only", async () => {
    const head = (await (await auditorGet("/head")).json()) as { size: number };
    const inclusion = (await (await auditorGet(`/proof/inclusion?index=3&size=${head.size}`)).json()) as { proof: string[] };
    expect(inclusion.proof.length).toBeGreaterThan(0);
    const consistency = (await (await auditorGet(`/proof/consistency?from=10&to=${head.size}`)).json()) as { proof: string[] };
    expect(consistency.proof.length).toBeGreaterThan(0);
    const refused = await gatewayFetch("/audit/acme/checkpoint", { headers: bearer(alice) });
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe("policy_denied");
    const bad = await gatewayFetch(`/audit/acme/proof/inclusion?index=${head.size + 100}`, { headers: bearer(bob) });
    expect(bad.status).toBe(400);
  });

  it("serves the log as C2SP tlog-tiles to the auditor only: leaf hashes, entry bundles, the root", async () => {
    const head = (await (await auditorGet("/head")).json()) as { size: number; rootHash: string };
    const lines = await exportAcme();
    const width = Math.min(head.size, 256);
    const name = width === 256 ? "000" : `000.p/${width}`;
    const tile = new Uint8Array(await (await auditorGet(`/tile/0/${name}`)).arrayBuffer());
    const leaves = Array.from({ length: width }, (_, i) => tile.slice(i * 32, i * 32 + 32));
    const exported = lines.flatMap((l) => (l.kind === "entry" ? [l.entry] : []));
    expect(leaves.map((h) => toHex(h))).toEqual(exported.slice(0, width).map((e) => e.leafHash));
    if (head.size <= 256) expect(toHex(await treeRoot(leaves))).toBe(head.rootHash);
    // The entry bundle: each record, length-prefixed, hashes to its leaf in the tile.
    const bundle = new Uint8Array(await (await auditorGet(`/tile/entries/${name}`)).arrayBuffer());
    let at = 0;
    for (let i = 0; i < width; i++) {
      const length = ((bundle[at] as number) << 8) | (bundle[at + 1] as number);
      expect(toHex(await leafHash(bundle.slice(at + 2, at + 2 + length))), `entry ${i}`).toBe(toHex(leaves[i] as Uint8Array));
      at += 2 + length;
    }
    expect(at).toBe(bundle.length);

    const refused = await gatewayFetch(`/audit/acme/tile/0/${name}`, { headers: bearer(alice) });
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe("policy_denied");
    const malformed = await gatewayFetch("/audit/acme/tile/0/x000/000", { headers: bearer(bob) });
    expect(malformed.status).toBe(400);
    expect(((await malformed.json()) as { error: { code: string; message: string } }).error).toMatchObject({ code: "invalid_request", message: expect.stringContaining("needless leading element") });
    const beyond = await gatewayFetch("/audit/acme/tile/0/x001/000", { headers: bearer(bob) });
    expect(beyond.status).toBe(404);
  });

  it("refuses a forged checkpoint (its signature no longer verifies)", async () => {
    const note = await (await auditorGet("/checkpoint")).text();
    const forged = note.replace(/\n(\d+)\n/, (_, n: string) => `\n${Number(n) + 1}\n`);
    const lines = await exportAcme();
    const replaced = [...lines.slice(0, -1), { kind: "checkpoint" as const, note: forged }];
    expect((await verifyLog(replaced, { verifiers })).problem).toMatchObject({ code: "bad_checkpoint", message: expect.stringContaining("does not verify") });
  });

  it("names the index of one changed byte of one stored row, then of a deleted row", async () => {
    const target = 17;
    await runInDurableObject(acmeLog(), async (_instance, state) => {
      const row = state.storage.sql.exec<{ record: string }>("SELECT record FROM audit_leaves WHERE idx = ?", target).one();
      // One byte of the request id's value: the record stays canonical JSON, only its leaf changes.
      const at = row.record.indexOf('"requestId":"') + '"requestId":"'.length;
      const changed = `${row.record.slice(0, at)}${row.record[at] === "a" ? "b" : "a"}${row.record.slice(at + 1)}`;
      expect(changed).not.toBe(row.record);
      state.storage.sql.exec("UPDATE audit_leaves SET record = ? WHERE idx = ?", changed, target);
    });
    expect((await verifyLog(await exportAcme(), { verifiers })).problem).toMatchObject({ code: "leaf_mismatch", index: target });

    const deleted = 5;
    await runInDurableObject(acmeLog(), async (_instance, state) => {
      state.storage.sql.exec("DELETE FROM audit_leaves WHERE idx = ?", deleted);
    });
    expect((await verifyLog(await exportAcme(), { verifiers })).problem).toMatchObject({ code: "missing_entry", index: deleted });
  });
});
