/**
 * The auditor's verifier over exports built by the real log core: an intact log passes; each kind
 * of tampering is reported with its code and the first bad index.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { AuditLogCore } from "../../../worker/verify/core.ts";
import { checkpointText } from "../../../worker/verify/checkpoint.ts";
import { leafHash } from "../../../worker/verify/merkle/hash.ts";
import {
  parseExport,
  verifyCheckpointPair,
  verifyLog,
  type ExportLine,
} from "../../../worker/verify/log-verifier.ts";
import { ed25519KeyId, formatNote, signatureLine, type NoteVerifier } from "../../../worker/verify/note.ts";
import { toHex, utf8 } from "../../../worker/lib/encoding.ts";
import { MemoryAuditStore } from "./memory-store.ts";

const ORIGIN = "verity.local/audit/acme";

interface Signer {
  verifier: NoteVerifier;
  sign(text: string): Promise<string>;
}

async function signer(name = "verity.local/audit"): Promise<Signer> {
  const pair = (await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"])) as CryptoKeyPair;
  const publicKey = new Uint8Array((await crypto.subtle.exportKey("raw", pair.publicKey)) as ArrayBuffer);
  const keyId = await ed25519KeyId(name, publicKey);
  return {
    verifier: { name, keyId, publicKey },
    async sign(text) {
      const signature = new Uint8Array(await crypto.subtle.sign({ name: "Ed25519" }, pair.privateKey, utf8(text)));
      return formatNote(text, [signatureLine(name, keyId, signature)]);
    },
  };
}

const record = (i: number, tenant = "acme") => ({ type: "decision", requestId: `req-${i}`, tenant, time: "2026-11-26T08:00:00.000Z", decision: i % 3 ? "allow" : "deny", n: i });

/** A log of `n` records and its export text: entry lines, then checkpoints at the given sizes. */
async function buildLog(n: number, gateway: Signer, checkpointSizes: number[] = [n]) {
  const core = new AuditLogCore(new MemoryAuditStore(), { tenant: "acme" });
  const notes = new Map<number, string>();
  for (let i = 0; i < n; i++) {
    await core.append([record(i)]);
    if (checkpointSizes.includes(i + 1)) notes.set(i + 1, await gateway.sign(checkpointText({ origin: ORIGIN, ...core.treeHead(), size: i + 1 })));
  }
  const entries = n === 0 ? [] : core.entries(0, n);
  const lines = entries.map((e) => JSON.stringify({ index: e.index, leafHash: e.leafHash, canonical: e.canonical }));
  for (const size of checkpointSizes) lines.push(JSON.stringify({ checkpoint: notes.get(size) }));
  return { core, lines, notes };
}

let gateway: Signer;
beforeAll(async () => {
  gateway = await signer();
});

const verify = (lines: readonly string[], trusted: string[] = []) => verifyLog(parseExport(lines.join("\n")), { verifiers: [gateway.verifier], trusted });

/** Rewrites the canonical text of entry `index` (and, optionally, its stored leaf hash to match). */
async function edit(lines: string[], index: number, change: (canonical: string) => string, rehash = false): Promise<string[]> {
  const copy = [...lines];
  const entry = JSON.parse(copy[index]!) as { index: number; leafHash: string; canonical: string };
  entry.canonical = change(entry.canonical);
  if (rehash) entry.leafHash = toHex(await leafHash(utf8(entry.canonical)));
  copy[index] = JSON.stringify(entry);
  return copy;
}

describe("verifyLog", () => {
  it("passes an intact export and reports its checkpoint", async () => {
    const { lines } = await buildLog(20, gateway, [7, 20]);
    const report = await verify(lines);
    expect(report).toMatchObject({ ok: true, entries: 20 });
    expect(report.checkpoints.map((c) => [c.origin, c.size])).toEqual([[ORIGIN, 7], [ORIGIN, 20]]);
  });

  it("names the index of one changed byte in one record (leaf_mismatch)", async () => {
    const { lines } = await buildLog(20, gateway);
    for (const index of [0, 13, 19]) {
      const tampered = await edit(lines, index, (c) => c.replace('"decision":"', '"decision":"x'));
      expect((await verify(tampered)).problem).toMatchObject({ code: "leaf_mismatch", index });
    }
  });

  it("names a record that is no longer canonical JSON (not_canonical)", async () => {
    const { lines } = await buildLog(5, gateway);
    const tampered = await edit(lines, 2, (c) => c.replace("{", "{ "));
    expect((await verify(tampered)).problem).toMatchObject({ code: "not_canonical", index: 2 });
  });

  it("bounds an edit that rewrote the stored leaf hash too by the checkpoints around it (root_mismatch)", async () => {
    const { lines } = await buildLog(20, gateway, [8, 16, 20]);
    const tampered = await edit(lines, 10, (c) => c.replace('"n":10', '"n":11'), true);
    expect((await verify(tampered)).problem).toMatchObject({ code: "root_mismatch", index: 8 });
  });

  it("names a deleted row (missing_entry) and a reordered one (misplaced_entry / leaf_mismatch)", async () => {
    const { lines } = await buildLog(10, gateway);
    expect((await verify(lines.filter((_, i) => i !== 4))).problem).toMatchObject({ code: "missing_entry", index: 4 });
    const swapped = [...lines];
    [swapped[3], swapped[6]] = [swapped[6]!, swapped[3]!];
    expect((await verify(swapped)).problem).toMatchObject({ code: "missing_entry", index: 3 });
    // Rows swapped in storage keep their indexes but not their texts: each text fails its own leaf.
    const rows = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    const texts = [rows[6]!.canonical, rows[3]!.canonical];
    [rows[3]!.canonical, rows[6]!.canonical] = texts;
    expect((await verify(rows.map((r) => JSON.stringify(r)))).problem).toMatchObject({ code: "leaf_mismatch", index: 3 });
    expect((await verify([...lines.slice(0, 5), lines[2]!, ...lines.slice(5)])).problem).toMatchObject({ code: "misplaced_entry", index: 5 });
  });

  it("reports a truncated export against its checkpoint (truncated at the first missing index)", async () => {
    const { lines } = await buildLog(10, gateway);
    expect((await verify([...lines.slice(0, 7), lines.at(-1)!])).problem).toMatchObject({ code: "truncated", index: 7 });
  });

  it("refuses a forged checkpoint: altered text, another signer, no checkpoint, another log", async () => {
    const { lines, notes } = await buildLog(6, gateway);
    const note = notes.get(6)!;
    const altered = note.replace(/\n6\n/, "\n5\n");
    expect((await verify([...lines.slice(0, -1), JSON.stringify({ checkpoint: altered })])).problem).toMatchObject({ code: "bad_checkpoint" });
    const attacker = await signer();
    const forged = await attacker.sign(note.slice(0, note.indexOf("\n\n") + 1));
    expect((await verify([...lines.slice(0, -1), JSON.stringify({ checkpoint: forged })])).problem).toMatchObject({ code: "bad_checkpoint", message: expect.stringContaining("known key") });
    expect((await verify(lines.slice(0, -1))).problem).toMatchObject({ code: "no_checkpoint" });
    const elsewhere = await gateway.sign(checkpointText({ origin: "verity.local/audit/globex", size: 6, rootHash: "00".repeat(32) }));
    expect((await verifyLog(parseExport(lines.join("\n")), { verifiers: [gateway.verifier], trusted: [elsewhere] })).problem).toMatchObject({ code: "wrong_origin" });
  });

  it("detects an inconsistent pair of checkpoints: a trusted earlier one from a forked history", async () => {
    const { lines } = await buildLog(12, gateway);
    // The same gateway key signed a different history of 5 entries (a rollback and rewrite).
    const fork = new AuditLogCore(new MemoryAuditStore(), { tenant: "acme" });
    for (let i = 0; i < 5; i++) await fork.append([{ ...record(i), n: 100 + i }]);
    const forkNote = await gateway.sign(checkpointText({ origin: ORIGIN, ...fork.treeHead() }));
    expect((await verify(lines, [forkNote])).problem).toMatchObject({ code: "inconsistent_checkpoints", index: 0 });
  });

  it("verifyCheckpointPair: a consistency proof joins two checkpoints; a fork's does not", async () => {
    const { core, notes } = await buildLog(12, gateway, [5, 12]);
    const proof = await core.consistencyProof(5, 12);
    await verifyCheckpointPair(notes.get(5)!, notes.get(12)!, proof.proof, [gateway.verifier]);
    const fork = new AuditLogCore(new MemoryAuditStore(), { tenant: "acme" });
    for (let i = 0; i < 5; i++) await fork.append([{ ...record(i), n: 100 + i }]);
    const forkNote = await gateway.sign(checkpointText({ origin: ORIGIN, ...fork.treeHead() }));
    await expect(verifyCheckpointPair(forkNote, notes.get(12)!, proof.proof, [gateway.verifier])).rejects.toMatchObject({ code: "invalid_proof" });
    await expect(verifyCheckpointPair(notes.get(12)!, notes.get(5)!, [], [gateway.verifier])).rejects.toMatchObject({ code: "invalid_checkpoint" });
  });

  it("reports a malformed line at its position", async () => {
    const { lines } = await buildLog(3, gateway);
    const report = await verifyLog(parseExport([lines[0], "{oops", ...lines.slice(1)].join("\n")) as ExportLine[], { verifiers: [gateway.verifier] });
    expect(report.problem).toMatchObject({ code: "malformed_line", index: 1 });
  });
});
