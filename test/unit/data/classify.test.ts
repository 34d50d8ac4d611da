import { describe, expect, it } from "vitest";
import { classify } from "../../../worker/data/index.ts";
import { GatewayError } from "../../../worker/errors.ts";

describe("classifier", () => {
  it("finds nothing in an ordinary prompt", () => {
    expect(classify(["What is the capital of France?"])).toEqual({ level: 0, categories: [], findings: [] });
  });

  it("reports a card number only when the Luhn check passes", () => {
    const valid = classify(["card 4111 1111 1111 1111 exp 12/29"]);
    expect(valid.findings).toEqual([{ type: "CREDIT_CARD", start: 5, end: 24, score: 0.9 }]);
    expect(valid).toMatchObject({ level: 2, categories: ["pci"] });
    expect(classify(["order 4111 1111 1111 1112"]).findings).toEqual([]);
  });

  it("excludes SSNs from ranges that are never issued", () => {
    expect(classify(["ssn 123-45-6789"]).findings.map((f) => f.type)).toEqual(["US_SSN"]);
    for (const never of ["000-12-3456", "666-12-3456", "912-12-3456", "123-00-4567", "123-45-0000"]) {
      expect(classify([never]).findings, never).toEqual([]);
    }
  });

  it("treats credentials as restricted secrets", () => {
    const result = classify(["key AKIAIOSFODNN7EXAMPLE", "-----BEGIN RSA PRIVATE KEY-----", "sk-ant-api03-abcdefghijklmnopqrstuvwxyz"]);
    expect(result.level).toBe(3);
    expect(result.categories).toEqual(["secret"]);
    expect(result.findings.map((f) => f.type)).toEqual(
      expect.arrayContaining(["SECRET_AWS_ACCESS_KEY", "SECRET_PRIVATE_KEY", "SECRET_ANTHROPIC_API_KEY"]),
    );
  });

  it("counts offsets across texts", () => {
    const [finding] = classify(["abc", "mail bob@example.com"]).findings;
    expect(finding).toMatchObject({ type: "EMAIL_ADDRESS", start: 9, end: 24 });
  });

  it("lets a caller's label raise the level, never lower it", () => {
    expect(classify(["hello"], "confidential").level).toBe(2);
    expect(classify(["key AKIAIOSFODNN7EXAMPLE"], "public").level).toBe(3);
  });

  it("refuses an unknown label", () => {
    expect(() => classify(["hello"], "top-secret")).toThrow(GatewayError);
  });
});
