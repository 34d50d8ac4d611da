/**
 * `verity audit export | verify | replay` against the local stack's gateway, as an investigator runs
 * them: export to a file, verify it against the published keys, replay it; then the same file with
 * one byte changed fails, naming the index.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GATEWAY_ORIGIN } from "../../dev/config.ts";
import { tokenFor } from "../support/tokens.ts";
import { readPolicySources } from "../../cli/lib/world.ts";
import { REPO, verity } from "./run-cli.ts";

const dir = mkdtempSync(join(tmpdir(), "verity-audit-cli-"));
const exportFile = join(dir, "acme.jsonl");

beforeAll(async () => {
  const [alice, bob] = await Promise.all([tokenFor("alice"), tokenFor("bob")]);
  const replies = await Promise.all(
    Array.from({ length: 10 }, (_, i) =>
      fetch(`${GATEWAY_ORIGIN}/v1/chat/completions`, {
        method: "POST",
        headers: { authorization: `Bearer ${alice}`, "content-type": "application/json" },
        body: JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: `cli audit ${i}` }] }),
      }).then((r) => r.text()),
    ),
  );
  expect(replies).toHaveLength(10);
  process.env.VERITY_TOKEN = bob;
  const exported = await verity(["audit", "export", "--gateway", GATEWAY_ORIGIN, "--tenant", "acme"]);
  expect(exported.stderr).toBe("");
  expect(exported.code).toBe(0);
  writeFileSync(exportFile, exported.stdout);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("verity audit", () => {
  it("export writes entries in log order, then the signed checkpoint", () => {
    const lines = readFileSync(exportFile, "utf8").trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    const entries = lines.slice(0, -1);
    expect(entries.length).toBeGreaterThanOrEqual(10);
    entries.forEach((entry, i) => expect(entry.index).toBe(i));
    expect(lines.at(-1)!.checkpoint).toMatch(/^[^\n]+\/audit\/acme\n\d+\n[A-Za-z0-9+/=]{44}\n\n\u2014 /);
  });

  it("verify passes the export against the gateway's published keys, and a saved key file", async () => {
    const result = await verity(["audit", "verify", exportFile, "--gateway", GATEWAY_ORIGIN]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^intact: \d+ entries/);
    const jwks = await (await fetch(`${GATEWAY_ORIGIN}/.well-known/jwks.json`)).text();
    const keys = join(dir, "jwks.json");
    writeFileSync(keys, jwks);
    expect((await verity(["audit", "verify", exportFile, "--keys", keys])).code).toBe(0);
    const vkeys = join(dir, "vkeys.txt");
    writeFileSync(vkeys, (JSON.parse(jwks) as { keys: { vkey: string }[] }).keys.map((k) => k.vkey).join("\n"));
    expect((await verity(["audit", "verify", exportFile, "--keys", vkeys])).code).toBe(0);
  });

  it("verify checks the live log too, consistent with the export's checkpoint", async () => {
    const result = await verity(["audit", "verify", "--gateway", GATEWAY_ORIGIN, "--tenant", "acme", "--trusted", exportFile]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
  });

  it("verify fails naming the index of one changed byte", async () => {
    const lines = readFileSync(exportFile, "utf8").trim().split("\n");
    const target = 4;
    const entry = JSON.parse(lines[target]!) as { canonical: string };
    const at = entry.canonical.indexOf('"requestId":"') + '"requestId":"'.length;
    entry.canonical = `${entry.canonical.slice(0, at)}${entry.canonical[at] === "a" ? "b" : "a"}${entry.canonical.slice(at + 1)}`;
    lines[target] = JSON.stringify(entry);
    const tampered = join(dir, "tampered.jsonl");
    writeFileSync(tampered, `${lines.join("\n")}\n`);
    const result = await verity(["audit", "verify", tampered, "--gateway", GATEWAY_ORIGIN]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`FAILED at index ${target}: leaf_mismatch`);
  });

  it("replay reproduces every recorded decision with the repository's policies", async () => {
    const result = await verity(["audit", "replay", exportFile]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/replayed (\d+) decisions: \1 reproduced, 0 differ, 0 unreplayable/);
  });

  it("replay fails when only another policy version is given: the decisions are unreplayable", async () => {
    const { bundle } = readPolicySources(join(REPO, "policies"));
    const other = join(dir, "other-bundle.json");
    writeFileSync(other, JSON.stringify({ ...bundle, policies: `${bundle.policies}\n// another version\n` }));
    const result = await verity(["audit", "replay", exportFile, "--bundle", other]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/unreplayable: no policy bundle of version [0-9a-f]{64}/);
  });

  it("refuses a bad command line with exit 2", async () => {
    expect((await verity(["audit", "verify"])).code).toBe(2);
    expect((await verity(["audit", "export", "--gateway", GATEWAY_ORIGIN])).code).toBe(2);
  });
});
