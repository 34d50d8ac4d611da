/**
 * `verity policy validate` and `verity policy test`, spawned as an operator runs them. The hand-written
 * Cedar integration tests (../shared/vectors/cedar/tests/) must all pass through the gateway's own
 * decision path; the only documented difference they hit is the "no permit" reason of a default deny.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync, appendFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { CEDAR_VECTORS, REPO, verity, type PolicyTestReport } from "./run-cli.ts";

const temp = mkdtempSync(join(tmpdir(), "verity-cli-"));
afterAll(() => rmSync(temp, { recursive: true, force: true }));


describe("verity policy validate", () => {
  it("accepts the repository's policies with the seeded world", async () => {
    const { code, stdout, stderr } = await verity(["policy", "validate"]);
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(stdout).toMatch(/^policies valid: \d+ policies in \d+ files, \d+ entities; version [0-9a-f]{64} /);
  });

  it("refuses a policy that fails strict validation, naming the policy, its file and the code", async () => {
    const dir = join(temp, "type-error");
    cpSync(join(REPO, "policies"), dir, { recursive: true });
    appendFileSync(
      join(dir, "tools.cedar"),
      '\n@id("broken-tool-rule")\npermit(principal, action == Action::"call_tool", resource) when { resource.noSuchAttr == 3 };\n',
    );
    const { code, stderr } = await verity(["policy", "validate", "--dir", dir]);
    expect(code).toBe(1);
    expect(stderr).toContain("POLICY_VALIDATION_FAILED");
    expect(stderr).toMatch(/broken-tool-rule: .*noSuchAttr.*\[tools\.cedar\]/);
  });

  it("refuses a policy file that does not parse, naming the file", async () => {
    const dir = join(temp, "parse-error");
    cpSync(join(REPO, "policies"), dir, { recursive: true });
    appendFileSync(join(dir, "models.cedar"), "\npermit(principal, action, resource) when {\n");
    const { code, stderr } = await verity(["policy", "validate", "--dir", dir]);
    expect(code).toBe(1);
    expect(stderr).toContain("POLICY_PARSE_FAILED");
    expect(stderr).toContain("does not parse: models.cedar");
  });

  it("refuses a policy without @id", async () => {
    const dir = join(temp, "no-id");
    cpSync(join(REPO, "policies"), dir, { recursive: true });
    appendFileSync(join(dir, "models.cedar"), '\npermit(principal, action == Action::"invoke_model", resource);\n');
    const { code, stderr } = await verity(["policy", "validate", "--dir", dir]);
    expect(code).toBe(1);
    expect(stderr).toContain("POLICY_ANNOTATION_INVALID");
  });
});

describe("verity policy test", () => {
  it("passes every hand-written Cedar integration test (22 files, 74 requests)", async () => {
    const { code, stdout, stderr } = await verity(["policy", "test", "--json", join(CEDAR_VECTORS, "tests")]);
    const report = JSON.parse(stdout) as PolicyTestReport;
    expect(report.failures).toEqual([]);
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(report).toMatchObject({ files: 22, requests: 74, passed: 74, failed: 0 });
    // The one documented difference they exercise: Cedar's empty reason for a default deny.
    expect(Object.fromEntries(Object.entries(report.exceptions).filter(([, n]) => n > 0))).toEqual({ "no-permit-reason": 32 });
    expect(report.listed).toEqual([]);
  });

  it("fails on a deliberately wrong expectation, naming the file and the request", async () => {
    const original = JSON.parse(readFileSync(join(CEDAR_VECTORS, "tests", "multi", "1.json"), "utf8")) as {
      requests: { description: string; decision: string }[];
    };
    const wrong = structuredClone(original);
    const victim = wrong.requests[0]!;
    victim.decision = victim.decision === "allow" ? "deny" : "allow";
    const file = join(temp, "wrong-expectation.json");
    writeFileSync(file, JSON.stringify(wrong));
    const { code, stdout } = await verity(["policy", "test", "--root", CEDAR_VECTORS, file]);
    expect(code).toBe(1);
    const failLine = stdout.split("\n").find((line) => line.startsWith("FAIL "));
    expect(failLine).toBeDefined();
    expect(failLine).toContain("wrong-expectation.json");
    expect(failLine).toContain(` :: ${victim.description}`);
    expect(stdout).toMatch(/1 failed/);
  });

  it("fails on a test file that is not in the format, naming it", async () => {
    const file = join(temp, "not-a-test.json");
    writeFileSync(file, JSON.stringify({ policies: "x.cedar" }));
    const { code, stdout } = await verity(["policy", "test", file]);
    expect(code).toBe(1);
    expect(stdout).toContain("not-a-test.json");
  });

  it("refuses integers beyond 2^53 instead of rounding them, and lists them", async () => {
    const file = join(temp, "big-integer.json");
    const test = JSON.parse(readFileSync(join(CEDAR_VECTORS, "tests", "multi", "1.json"), "utf8")) as { requests: { context: object }[] };
    test.requests = test.requests.slice(0, 1);
    const text = JSON.stringify(test).replace('"context":{', '"context":{"big":9007199254740993,');
    writeFileSync(file, text);
    const { code, stdout } = await verity(["policy", "test", "--json", "--root", CEDAR_VECTORS, file]);
    const report = JSON.parse(stdout) as PolicyTestReport;
    expect(report.exceptions["integer-beyond-2^53"]).toBe(1);
    expect(report.listed).toHaveLength(1);
    expect(report.passed).toBe(0);
    expect(code).toBe(0);
  });
});

describe("verity (dispatcher)", () => {
  it("prints usage on stderr and exits 2 for an unknown command", async () => {
    const { code, stderr } = await verity(["nonsense"]);
    expect(code).toBe(2);
    expect(stderr).toContain("unknown command");
    expect(stderr).toContain("policy validate");
  });

  it("has --help for every command", async () => {
    for (const command of [["policy", "validate"], ["policy", "test"], ["policy", "corpus"], ["classify"]]) {
      const { code, stdout } = await verity([...command, "--help"]);
      expect(code, command.join(" ")).toBe(0);
      expect(stdout).toMatch(new RegExp(`^usage: verity ${command.join(" ")}`));
    }
  });

  it("exits 2 with the command's usage on an unknown option", async () => {
    const { code, stderr } = await verity(["policy", "test", "--frobnicate", "x"]);
    expect(code).toBe(2);
    expect(stderr).toContain("usage: verity policy test");
  });
});
