/**
 * The gateway's own supply chain: `verity build` writes SLSA provenance for the bundled Worker, and
 * `verity build verify` refuses a build that does not match it (a tampered, missing or unlisted file,
 * another lockfile, another commit, a dirty work tree); `verity sbom` lists the runtime dependencies.
 */
import { appendFileSync, cpSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO, verity } from "./run-cli.ts";

const temp = mkdtempSync(join(tmpdir(), "verity-build-"));
const dist = join(temp, "dist");
afterAll(() => rmSync(temp, { recursive: true, force: true }));

beforeAll(async () => {
  const { code, stdout, stderr } = await verity(["build", "--out-dir", dist]);
  expect(stderr).toBe("");
  expect(code).toBe(0);
  expect(stdout).toMatch(/^built \d+ files into /);
}, 120_000);

/** A copy of the build, changed by `change`, verified with `args`. */
async function verifyCopy(name: string, change: (dir: string) => void, args: string[] = []) {
  const dir = join(temp, name);
  cpSync(dist, dir, { recursive: true });
  change(dir);
  return verity(["build", "verify", "--out-dir", dir, "--allow-dirty", ...args]);
}

function editProvenance(dir: string, edit: (statement: Record<string, any>) => void): void {
  const path = join(dir, "provenance.intoto.json");
  const statement = JSON.parse(readFileSync(path, "utf8")) as Record<string, any>;
  edit(statement);
  writeFileSync(path, JSON.stringify(statement));
}

describe("verity build", () => {
  it("writes an in-toto Statement v1 with SLSA Provenance v1: every bundled file, the lockfile, the commit", () => {
    const statement = JSON.parse(readFileSync(join(dist, "provenance.intoto.json"), "utf8"));
    expect(statement._type).toBe("https://in-toto.io/Statement/v1");
    expect(statement.predicateType).toBe("https://slsa.dev/provenance/v1");
    const names = statement.subject.map((s: { name: string }) => s.name);
    expect(names).toContain("index.js");
    expect(names.some((n: string) => n.endsWith(".wasm"))).toBe(true);
    const { buildDefinition, runDetails } = statement.predicate;
    expect(buildDefinition.resolvedDependencies).toEqual([
      { name: "source", uri: "git+file:.", digest: { gitCommit: expect.stringMatching(/^[0-9a-f]{40}$/) } },
      { name: "package-lock.json", digest: { sha256: expect.stringMatching(/^[0-9a-f]{64}$/) } },
      { name: "wrangler.toml", digest: { sha256: expect.stringMatching(/^[0-9a-f]{64}$/) } },
    ]);
    expect(runDetails.builder.id).toMatch(/^https:\/\//);
  });
});

describe("verity build verify", () => {
  it("accepts the build as written", async () => {
    const { code, stdout, stderr } = await verity(["build", "verify", "--out-dir", dist, "--allow-dirty"]);
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(stdout).toMatch(/^build verified: \d+ files match/);
  });

  const refusals: Array<[string, (dir: string) => void, string[]?]> = [
    ["artifact_digest_mismatch", (dir) => appendFileSync(join(dir, "worker", "index.js"), "\n// injected\n")],
    ["artifact_missing", (dir) => unlinkSync(join(dir, "worker", "index.js.map"))],
    ["artifact_unlisted", (dir) => writeFileSync(join(dir, "worker", "extra.js"), "export {};\n")],
    ["lockfile_mismatch", (dir) => writeFileSync(join(dir, "lock.json"), `${readFileSync(join(REPO, "package-lock.json"), "utf8")} `), ["--lockfile", "LOCK"]],
    ["source_mismatch", () => {}, ["--commit", "0".repeat(40)]],
    ["provenance_invalid", (dir) => appendFileSync(join(dir, "provenance.intoto.json"), "{")],
    ["provenance_invalid", (dir) => editProvenance(dir, (s) => (s.predicateType = "https://slsa.dev/provenance/v0.2"))],
  ];
  for (const [code, change, args = []] of refusals) {
    it(`refuses with ${code}`, async () => {
      const name = `${code}-${Math.random().toString(36).slice(2)}`;
      const resolved = args.map((a) => (a === "LOCK" ? join(temp, name, "lock.json") : a));
      const result = await verifyCopy(name, change, resolved);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`verity build verify: ${code}: `);
    });
  }

  it("refuses a build from a dirty work tree unless told to accept it", async () => {
    const dir = join(temp, "dirty");
    cpSync(dist, dir, { recursive: true });
    editProvenance(dir, (s) => (s.predicate.buildDefinition.externalParameters.source.dirty = true));
    const refused = await verity(["build", "verify", "--out-dir", dir]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("source_dirty");
    expect((await verity(["build", "verify", "--out-dir", dir, "--allow-dirty"])).code).toBe(0);
  });
});

describe("verity sbom", () => {
  it("writes a CycloneDX SBOM of the Worker's runtime dependencies, without dev tooling", async () => {
    const out = join(temp, "sbom.cdx.json");
    const { code, stderr } = await verity(["sbom", "--out", out]);
    expect(stderr).toBe("");
    expect(code).toBe(0);
    const bom = JSON.parse(readFileSync(out, "utf8")) as { bomFormat: string; components: Array<{ name: string; purl: string }> };
    expect(bom.bomFormat).toBe("CycloneDX");
    const names = bom.components.map((c) => c.name);
    for (const runtime of ["hono", "jose", "canonicalize", "@cedar-policy/cedar-wasm", "@cfworker/json-schema"]) expect(names).toContain(runtime);
    for (const dev of ["wrangler", "vitest", "typescript", "miniflare", "openai"]) expect(names).not.toContain(dev);
    expect(bom.components.every((c) => c.purl.startsWith("pkg:npm/"))).toBe(true);
  });
});
