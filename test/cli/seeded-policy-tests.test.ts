/**
 * The seeded world's expected decisions (policies/tests/*.json, Cedar's integration-test format)
 * through `verity policy test`, exactly as an operator runs it: the gateway's bundle (policies/*.cedar
 * joined as the gateway joins them, `@id` required), the world's entities, strict validation, slicing.
 *
 * policies/tests/entities.json is the entity store the gateway compiles for the seeded world, written
 * out because a test file names one entities file. It is checked here against what `worldEntities`
 * derives from kv-seeds/ (the registry's tenants, backends and tools, then the entity seed), so it
 * cannot drift; regenerate it from `worldEntities` when kv-seeds change.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readEntitySeed, readRegistry, worldEntities } from "../../cli/lib/world.ts";
import { REPO, verity, type PolicyTestReport } from "./run-cli.ts";


describe("policies/tests: the seeded world's decisions", () => {
  it("policies/tests/entities.json is exactly the world the gateway derives from kv-seeds", () => {
    const seeds = join(REPO, "kv-seeds");
    const derived = worldEntities(readRegistry(seeds), readEntitySeed(join(seeds, "entities.json")));
    expect(JSON.parse(readFileSync(join(REPO, "policies", "tests", "entities.json"), "utf8"))).toEqual(derived);
  });

  it("policy validate accepts the bundle", async () => {
    const { code, stderr } = await verity(["policy", "validate"]);
    expect(stderr).toBe("");
    expect(code).toBe(0);
  });

  it("policy test policies/tests: every decision and reason as expected", async () => {
    const { code, stdout, stderr } = await verity(["policy", "test", "--json", "policies/tests"]);
    const report = JSON.parse(stdout) as PolicyTestReport;
    expect(report.failures).toEqual([]);
    expect(stderr).toBe("");
    expect(code).toBe(0);
    // Counted from the files, so a case added to policies/tests needs no edit here.
    expect(report).toMatchObject({ files: 3, passed: report.requests, failed: 0 });
    expect(report.requests).toBeGreaterThanOrEqual(77);
    // The only documented difference: a default deny says "no permit" where Cedar gives no reason.
    expect(Object.fromEntries(Object.entries(report.exceptions).filter(([, n]) => n > 0))).toEqual({ "no-permit-reason": 19 });
  });
});
