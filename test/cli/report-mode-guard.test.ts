/**
 * The report-mode compile (`validation: "report"`) exists for test tooling: the gateway must always
 * compile policies strictly. Outside the policy plane itself, nothing under worker/ may ask for it.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { REPO } from "./run-cli.ts";

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sources(join(dir, entry.name)) : entry.name.endsWith(".ts") ? [join(dir, entry.name)] : [],
  );
}

describe("strict policy compilation in the gateway", () => {
  it("no Worker code outside worker/policy/ passes a validation mode to compilePolicy", () => {
    const offenders = sources(join(REPO, "worker"))
      .filter((file) => !relative(REPO, file).startsWith("worker/policy/"))
      .filter((file) => /validation\s*:/.test(readFileSync(file, "utf8")));
    expect(offenders.map((file) => relative(REPO, file))).toEqual([]);
  });
});
