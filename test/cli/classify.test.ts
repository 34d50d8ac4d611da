/** `verity classify`: the data plane's classifier over standard input. */
import { describe, expect, it } from "vitest";
import { verity } from "./run-cli.ts";

interface Classified {
  level: number;
  levelName: string;
  categories: string[];
  findings: { type: string; start: number; end: number; score: number }[];
}

async function classify(input: string): Promise<Classified> {
  const { code, stdout } = await verity(["classify", "--json"], { input });
  expect(code).toBe(0);
  return JSON.parse(stdout) as Classified;
}

describe("verity classify", () => {
  it("finds nothing in plain text: public", async () => {
    expect(await classify("What is the capital of France?")).toEqual({ level: 0, levelName: "public", categories: [], findings: [] });
  });

  it("reports a card number (Luhn-valid) and an e-mail address with offsets", async () => {
    const text = "pay with 4111 1111 1111 1111, receipt to bob@example.com";
    const result = await classify(text);
    const byType = Object.fromEntries(result.findings.map((f) => [f.type, text.slice(f.start, f.end)]));
    expect(byType).toEqual({ CREDIT_CARD: "4111 1111 1111 1111", EMAIL_ADDRESS: "bob@example.com" });
    expect(result).toMatchObject({ levelName: "confidential", categories: ["pci", "pii"] });
  });

  it("does not report a number that fails the Luhn check", async () => {
    expect((await classify("order 4111 1111 1111 1112")).findings).toEqual([]);
  });

  it("classifies a secret as restricted", async () => {
    const text = "my key is AKIAABCDEFGHIJKLMNOP";
    const result = await classify(text);
    expect(result.findings).toEqual([{ type: "SECRET_AWS_ACCESS_KEY", start: 10, end: 30, score: 0.95 }]);
    expect(result).toMatchObject({ level: 3, levelName: "restricted", categories: ["secret"] });
  });

  it("prints a table without the matched text", async () => {
    const { code, stdout } = await verity(["classify"], { input: "my key is AKIAABCDEFGHIJKLMNOP" });
    expect(code).toBe(0);
    expect(stdout).toContain("SECRET_AWS_ACCESS_KEY\t10\t30\t0.95");
    expect(stdout).toContain("classification: restricted (3), categories: secret");
    expect(stdout).not.toContain("AKIAABCDEFGHIJKLMNOP");
  });
});
