/**
 * Residency by policy (policies/models.cedar), decision by decision on the seeded bundle, plus one
 * backend the seeded world does not have: in the EU region but run under US jurisdiction.
 */
import { describe, expect, it } from "vitest";
import { compilePolicy, type EntityJson } from "../../../worker/policy/index.ts";
import { chat, seededBundle, seededEntities, user, workload } from "../policy/world.ts";

const EU_REGION_US_LAW: EntityJson = { uid: { type: "Backend", id: "eu-region-us-law" }, attrs: { region: "eu", jurisdiction: "us", tier: "public" }, parents: [] };
const pdp = compilePolicy(seededBundle(), [...seededEntities(), EU_REGION_US_LAW]);
const data = (level: 0 | 1 | 2 | 3, ...categories: string[]) => ({ classification: { level, categories } });

describe("an EU tenant's personal data never reaches a US backend", () => {
  for (const category of ["pii", "pci", "phi"]) {
    it(`${category}: not us-public (no permit, and the jurisdiction forbid), not an EU-region backend under US law`, () => {
      for (const principal of [user("alice"), user("bob"), workload("acme-batch")]) {
        expect(pdp.decide(chat(principal, "us-public", data(1, category)))).toMatchObject({ effect: "deny", reasons: ["model.personal-data-in-jurisdiction"] });
        expect(pdp.decide(chat(principal, "eu-region-us-law", data(1, category)))).toMatchObject({ effect: "deny", reasons: ["model.personal-data-in-jurisdiction"] });
      }
    });
  }
  it("data without personal categories may use the EU-region backend under US law (region is the residency rule)", () => {
    expect(pdp.decide(chat(user("alice"), "eu-region-us-law", data(0))).effect).toBe("allow");
  });
  it("a US tenant's personal data stays in the US the same way", () => {
    expect(pdp.decide(chat(user("carol"), "eu-public", data(1, "pii")))).toMatchObject({ effect: "deny", reasons: ["model.personal-data-in-jurisdiction"] });
    expect(pdp.decide(chat(user("carol"), "us-public", data(1, "pii")))).toMatchObject({ effect: "allow", obligations: [{ kind: "redact", category: "PII" }] });
  });
});

describe("confidential and restricted data reach only the confidential tier", () => {
  for (const level of [2, 3] as const) {
    it(`level ${level}: public backends refused with a route obligation; eu-confidential allowed`, () => {
      for (const backend of ["eu-public", "eu-region-us-law"]) {
        expect(pdp.decide(chat(user("alice"), backend, data(level)))).toMatchObject({ effect: "deny", obligations: [{ kind: "route", tier: "confidential" }] });
      }
      const confidential = pdp.decide(chat(user("alice"), "eu-confidential", data(level, "pii")));
      expect(confidential.effect).toBe("allow");
      // No transform is owed on the confidential tier: it may see the data as sent.
      expect(confidential.obligations.filter((o) => o.kind === "redact" || o.kind === "mask" || o.kind === "tokenize")).toEqual([]);
    });
  }
});
