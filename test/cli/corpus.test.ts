/**
 * Cedar's fuzz-generated corpus (../shared/vectors/cedar/corpus-tests.tar.gz: 7,809 files, 62,472
 * requests), unpacked by `verity policy corpus` into node_modules/.cache and run through the gateway's
 * PDP. CI runs the fixed sample below (every 8th file); the full run is `npx verity policy corpus`.
 *
 * Every request is asked of the PDP as Cedar takes it, including namespaced action types
 * (`NS::Action::"x"`), empty action ids and entities with `tags`: no request may fail or differ, and
 * the only differences from Cedar are the documented, counted categories (integers beyond 2^53 and
 * validation warnings are also listed by name).
 */
import { describe, expect, it } from "vitest";
import { CI_SAMPLE_FILES } from "../../cli/commands/policy-corpus.ts";
import { verity, type PolicyTestReport } from "./run-cli.ts";

const SAMPLE = String(CI_SAMPLE_FILES);


function corpusSample(): Promise<{ code: number | null; report: PolicyTestReport }> {
  return verity(["policy", "corpus", "--sample", SAMPLE, "--json"]).then(({ code, stdout }) => ({ code, report: JSON.parse(stdout) as PolicyTestReport }));
}

describe("Cedar corpus (fixed sample: every 8th file)", () => {
  it("answers every request as Cedar does, with every difference counted and the named ones listed", { timeout: 80_000 }, async () => {
    const { code, report } = await corpusSample();
    expect(report.files).toBe(CI_SAMPLE_FILES);
    expect(report.failures.filter((f) => f.cause === "mismatch")).toEqual([]);
    expect(report.failures).toEqual([]);
    expect(report.failed).toBe(0);
    expect(report.failuresByCause).toEqual({});
    expect(code).toBe(0);
    // Every request is evaluated and matched, apart from the integer refusals: the shouldValidate:
    // false files too (compiled with validation "report", test tooling only), not skipped.
    expect(report.passed + report.exceptions["integer-beyond-2^53"]!).toBe(report.requests);
    expect(report.exceptions["invalid-policy-evaluated"]).toBeGreaterThan(0);
    // Named exceptions: every integer refusal and every validation warning is listed.
    const listed = report.listed.reduce<Record<string, number>>((n, e) => ({ ...n, [e.category]: (n[e.category] ?? 0) + 1 }), {});
    expect(listed["integer-beyond-2^53"] ?? 0).toBe(report.exceptions["integer-beyond-2^53"]);
    expect(listed["validation-warning"] ?? 0).toBe(report.exceptions["validation-warning"]);
    expect(report.exceptions["integer-beyond-2^53"]).toBeGreaterThan(0);
  });
});
