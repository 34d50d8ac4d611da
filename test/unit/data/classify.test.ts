import { describe, expect, it } from "vitest";
import { classify, detectText, labelLevel } from "../../../worker/data/index.ts";
import { MAX_SCAN_PER_CALL, MAX_SCAN_PER_TEXT } from "../../../worker/data/classify/limits.ts";
import { GatewayError } from "../../../worker/errors.ts";

describe("classifier", () => {
  it("finds nothing in an ordinary prompt", () => {
    expect(classify(["What is the capital of France?"])).toEqual({ level: 0, categories: [], findings: [] });
  });

  it("reports a card number only when the Luhn check passes, with category and level", () => {
    const valid = classify(["card 4111 1111 1111 1111 exp 12/29"]);
    expect(valid.findings).toEqual([{ type: "CREDIT_CARD", start: 5, end: 24, score: 1, category: "pci", level: 2 }]);
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

  it("gives the same findings per text through detectText, offsets into that text", () => {
    const text = "mail bob@example.com";
    expect(detectText(text)).toEqual([{ type: "EMAIL_ADDRESS", start: 5, end: 20, score: 0.9, category: "pii", level: 1 }]);
  });

  it("combines categories and takes the high-water level", () => {
    const result = classify(["mail bob@example.com", "ssn 123-45-6789", "NHS number 943 476 5919"]);
    expect(result).toMatchObject({ level: 2, categories: ["phi", "pii"] });
  });

  it("lets a caller's label raise the level, never lower it", () => {
    expect(classify(["hello"], "confidential").level).toBe(2);
    expect(classify(["key AKIAIOSFODNN7EXAMPLE"], "public").level).toBe(3);
  });

  it("refuses an unknown label", () => {
    expect(() => classify(["hello"], "top-secret")).toThrow(GatewayError);
  });

  it("finds the same wherever a finding falls against the sweep's 4,096-unit blocks", () => {
    // Each identifier starts, ends or is cut at a block edge for some shift (sweep.ts reads the text
    // a block at a time); spaces before it change nothing but the offsets.
    const tail = "Pay 4111 1111 1111 1111 to Anna Berg, call +1 415 555 2671, key AKIAIOSFODNN7EXAMPLE at 10.2.3.4";
    const expected = detectText(tail);
    expect(expected.length).toBeGreaterThanOrEqual(5);
    for (let shift = 4096 - tail.length - 2; shift <= 4098; shift++) {
      const moved = detectText(`${" ".repeat(shift)}${tail}`).map((f) => ({ ...f, start: f.start - shift, end: f.end - shift }));
      expect(moved, `shifted by ${shift}`).toEqual(expected);
    }
  });
});

describe("scan caps: bounded work, never a silent pass", () => {
  it("reads a text up to MAX_SCAN_PER_TEXT and reports the rest as unscanned and restricted", () => {
    const text = `${"a ".repeat(MAX_SCAN_PER_TEXT / 2)}AKIAIOSFODNN7EXAMPLE`;
    const result = classify([text]);
    expect(result.findings).toEqual([]);
    expect(result).toMatchObject({ level: 3, categories: ["unscanned"], unscanned: text.length - MAX_SCAN_PER_TEXT });
    expect(detectText(text)).toEqual([{ type: "UNSCANNED", start: MAX_SCAN_PER_TEXT, end: text.length, score: 1, category: "secret", level: 3 }]);
  });

  it("still reports what it found before the cap", () => {
    const text = `mail bob@example.com ${"x".repeat(MAX_SCAN_PER_TEXT)}`;
    const result = classify([text]);
    expect(result.findings.map((f) => f.type)).toEqual(["EMAIL_ADDRESS"]);
    expect(result.categories).toEqual(["pii", "unscanned"]);
  });

  it("caps the texts of one call together", () => {
    const texts = Array.from({ length: MAX_SCAN_PER_CALL / MAX_SCAN_PER_TEXT + 1 }, () => "b".repeat(MAX_SCAN_PER_TEXT));
    const result = classify(texts);
    expect(result.unscanned).toBe(MAX_SCAN_PER_TEXT);
    expect(result.level).toBe(3);
  });

  it("a text within the caps has no unscanned field", () => {
    expect(classify(["x".repeat(MAX_SCAN_PER_TEXT)])).toEqual({ level: 0, categories: [], findings: [] });
  });
});

describe("labelLevel: referenced resources by high-water mark", () => {
  const labels = { "doc-1": "public", "doc-2": "confidential", "matter-9": "restricted", "doc-3": "Secret-ish" };
  it("takes the highest label", () => {
    expect(labelLevel(["doc-1"], labels)).toBe(0);
    expect(labelLevel(["doc-1", "doc-2"], labels)).toBe(2);
    expect(labelLevel(["doc-2", "matter-9"], new Map(Object.entries(labels)))).toBe(3);
    expect(labelLevel([], labels)).toBe(0);
  });
  it("an unknown label value counts as restricted; an unlabeled resource as `unlabeled`", () => {
    expect(labelLevel(["doc-3"], labels)).toBe(3);
    expect(labelLevel(["nope"], labels)).toBe(1);
    expect(labelLevel(["nope"], labels, 2)).toBe(2);
    expect(labelLevel(["toString"], labels)).toBe(1);
  });
});
