/// <reference types="vite/client" />
/**
 * Wycheproof's JWS and JWK vectors (../shared/vectors/wycheproof, C2SP/wycheproof @ dac1dd4729fd) run
 * through the gateway's own path: the group's key set is served as an issuer's JWKS, read by
 * `createKeySets` (validation, kid selection), and each JWS goes through `verifyJws` (compact syntax,
 * header rules, asymmetric allowlist, jose's signature check). Every case is asserted:
 *
 * - `invalid` → refused with `token_invalid`;
 * - `valid` → accepted with the right payload, except the cases listed below with their reason, which
 *   are asserted refused: HMAC cases (the gateway verifies with public keys only and never accepts a
 *   symmetric algorithm) and four RFC 7520 cases whose key pins a different `alg` than the JWS uses.
 */
import { base64url } from "jose";
import { describe, expect, it } from "vitest";
import { GatewayError } from "../../../worker/errors.ts";
import { createKeySets, parseKeySet, KeySetError, type Fetcher } from "../../../worker/identity/jwks.ts";
import { SIGNATURE_ALGORITHMS, verifyJws } from "../../../worker/identity/jws.ts";

interface VectorCase {
  tcId: number;
  comment: string;
  jws: string | Record<string, unknown>;
  result: "valid" | "invalid" | "acceptable";
  flags: string[];
}

interface VectorGroup {
  comment: string;
  public?: Record<string, unknown>;
  private?: Record<string, unknown>;
  tests: VectorCase[];
}

interface VectorFile {
  numberOfTests: number;
  testGroups: VectorGroup[];
}

const files = import.meta.glob("../../../../shared/vectors/wycheproof/json_web_*_test.json", { eager: true, import: "default" }) as Record<string, VectorFile>;
const file = (name: string): VectorFile => {
  const found = Object.entries(files).find(([path]) => path.endsWith(name));
  if (!found) throw new Error(`vector file ${name} is missing`);
  return found[1];
};

/** Valid per Wycheproof, but symmetric: there is no public key to verify them with, and HMAC is never allowlisted. */
const NOT_APPLICABLE: Record<string, Record<number, string>> = {
  "json_web_signature_test.json": Object.fromEntries(
    [1, 348, 352, 357, 358, 359, 372, 373, 376, 377].map((tcId) => [tcId, "HMAC (HS256): public-key verification only, symmetric algorithms are refused"]),
  ),
  "json_web_key_test.json": Object.fromEntries(
    [2, 13, 14, 15].map((tcId) => [tcId, "HMAC (HS256/384/512): public-key verification only, symmetric algorithms are refused"]),
  ),
};

/**
 * Valid per Wycheproof, refused here on purpose. RFC 7520 Figures 20 and 27 are signed with PS384 and
 * ES512, but the vectors' keys pin `alg` "PS256" and "ES521" (not a JWS algorithm). RFC 7517 §4.4 makes
 * a key's `alg` the algorithm it is for, and key selection honours it, so no key matches.
 */
const DEVIATIONS: Record<string, Record<number, string>> = {
  "json_web_signature_test.json": {
    346: "key pins alg PS256, JWS uses PS384 (RFC 7517 §4.4)",
    350: "key pins alg PS256, JWS uses PS384 (RFC 7517 §4.4)",
    347: 'key pins alg "ES521", JWS uses ES512 (RFC 7517 §4.4)',
    351: 'key pins alg "ES521", JWS uses ES512 (RFC 7517 §4.4)',
  },
  "json_web_key_test.json": {},
};

type Expectation = "accept" | "refuse" | "not applicable" | "deviation";

function expectation(name: string, test: VectorCase): Expectation {
  if (NOT_APPLICABLE[name]![test.tcId]) return "not applicable";
  if (DEVIATIONS[name]![test.tcId]) return "deviation";
  return test.result === "valid" ? "accept" : "refuse";
}

/** The key set an issuer would publish for this group; symmetric-only groups can only offer their secret. */
function publishedKeySet(group: VectorGroup): Record<string, unknown> {
  const jwk = group.public ?? group.private!;
  return "keys" in jwk ? jwk : { keys: [jwk] };
}

/** The header's `alg`, read leniently (tc372 has a stray "?" in its header) to classify the cases. */
function headerAlg(jws: VectorCase["jws"]): string | undefined {
  if (typeof jws !== "string") return undefined;
  try {
    const encoded = jws.split(".")[0]!.replace(/[^A-Za-z0-9_-]/g, "");
    return (JSON.parse(new TextDecoder().decode(base64url.decode(encoded))) as { alg?: unknown }).alg as string | undefined;
  } catch {
    return undefined;
  }
}

const ALL_ASYMMETRIC = [...SIGNATURE_ALGORITHMS];

for (const name of ["json_web_signature_test.json", "json_web_key_test.json"]) {
  const vectors = file(name);
  const cases = vectors.testGroups.flatMap((group, index) => group.tests.map((test) => ({ group, index, test })));

  describe(`Wycheproof ${name}`, () => {
    const resolvers = new Map<number, ReturnType<ReturnType<typeof createKeySets>["resolver"]>>();
    function keysFor(group: VectorGroup, index: number) {
      let resolve = resolvers.get(index);
      if (!resolve) {
        const fetch: Fetcher = async () => Response.json(publishedKeySet(group));
        resolve = createKeySets({ refetchCooldownMs: 60_000, maxAgeMs: 600_000 }).resolver(`https://issuer.test/${index}`, { fetch });
        resolvers.set(index, resolve);
      }
      return resolve;
    }

    it.each(cases.map((c) => [c.test.tcId, c.test.comment, expectation(name, c.test), c] as const))(
      "tc%i %s → %s",
      async (_tcId, _comment, expected, { group, index, test }) => {
        const jws = typeof test.jws === "string" ? test.jws : JSON.stringify(test.jws);
        const outcome = await verifyJws(jws, keysFor(group, index), { what: "token", algorithms: ALL_ASYMMETRIC }).then(
          (verified) => ({ accepted: true as const, verified }),
          (error: unknown) => ({ accepted: false as const, error }),
        );
        if (expected === "accept") {
          expect(outcome.accepted, `tc${test.tcId} should verify`).toBe(true);
          if (outcome.accepted) expect(base64url.encode(outcome.verified.payload)).toBe(jws.split(".")[1]);
        } else {
          expect(outcome.accepted, `tc${test.tcId} must be refused`).toBe(false);
          if (!outcome.accepted) {
            expect(outcome.error).toBeInstanceOf(GatewayError);
            expect((outcome.error as GatewayError).code).toBe("token_invalid");
            // The listed cases must be refused for their stated reason, not by accident.
            const message = (outcome.error as Error).message;
            if (expected === "deviation") expect(message).toBe("the token was signed by an unknown key");
            if (expected === "not applicable") expect(message).toMatch(/^the token('s algorithm is not allowed| is not a compact JWS)$/);
          }
        }
      },
    );

    it("accounts for every case: accepted + refused + not applicable + deviations = numberOfTests", () => {
      const counts = { accept: 0, refuse: 0, "not applicable": 0, deviation: 0 };
      for (const { test } of cases) counts[expectation(name, test)]++;
      expect(cases).toHaveLength(vectors.numberOfTests);
      expect(counts.accept + counts.refuse + counts["not applicable"] + counts.deviation).toBe(vectors.numberOfTests);
      expect(counts).toEqual(
        name === "json_web_signature_test.json"
          ? { accept: 32, refuse: 355, "not applicable": 10, deviation: 4 }
          : { accept: 1, refuse: 21, "not applicable": 4, deviation: 0 },
      );
    });

    it("lists exactly the valid HMAC cases as not applicable, and only valid cases as deviations", () => {
      const validHmac = cases
        .filter(({ test }) => test.result === "valid" && /^HS\d+$/.test(headerAlg(test.jws) ?? ""))
        .map(({ test }) => test.tcId)
        .sort((a, b) => a - b);
      expect(Object.keys(NOT_APPLICABLE[name]!).map(Number).sort((a, b) => a - b)).toEqual(validHmac);
      for (const tcId of Object.keys(DEVIATIONS[name]!).map(Number)) {
        expect(cases.find(({ test }) => test.tcId === tcId)?.test.result).toBe("valid");
      }
    });
  });
}

describe("Wycheproof key sets, at ingestion", () => {
  const groups = file("json_web_key_test.json").testGroups;
  const group = (tcId: number) => groups.find((g) => g.tests.some((t) => t.tcId === tcId))!;

  it("refuses a set that mixes public and symmetric keys (tc1) or holds only secrets (tc2, tc4, tc10–18, tc25, tc26)", () => {
    for (const tcId of [1, 2, 4, 10, 11, 12, 13, 14, 15, 16, 17, 18, 25, 26]) {
      expect(() => parseKeySet(publishedKeySet(group(tcId))), `tc${tcId}`).toThrow(KeySetError);
    }
  });

  it("drops a ROCA modulus (tc7), a 1024-bit modulus (tc8) and a public exponent of 1 (tc9)", () => {
    for (const tcId of [7, 8, 9]) expect(parseKeySet(publishedKeySet(group(tcId))), `tc${tcId}`).toEqual([]);
  });

  it("keeps the sound RSA key (tc5)", () => {
    expect(parseKeySet(publishedKeySet(group(5)))).toHaveLength(1);
  });
});
