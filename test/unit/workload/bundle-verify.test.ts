/**
 * Signed configuration bundles (DSSE + in-toto Statement v1): every refusal of the "bad
 * input" that concerns bundles has its own code. Adversarial: each case is built the way an
 * attacker with write access to KV (but without a pinned private key) would build it.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { base64, fromBase64, utf8 } from "../../../worker/lib/encoding.ts";
import { canonicalJson } from "../../../worker/lib/canonical-json.ts";
import { MAX_BUNDLE_BYTES, PREDICATE_TYPE, STATEMENT_TYPE, configStatement, documentDigest } from "../../../worker/workload/bundle-format.ts";
import { BundleError, verifyBundle } from "../../../worker/workload/bundle-verify.ts";
import { importTrustedKeys, TrustedKeysError, type TrustedKeys } from "../../../worker/workload/trusted-keys.ts";
import { type TestKey, bytes, devKey, documents, edit, newKey, pin, predicate, signed, signedStatement } from "./bundle-kit.ts";

let dev: TestKey;
let next: TestKey;
let stranger: TestKey;
let pinned: TrustedKeys;

beforeAll(async () => {
  dev = await devKey();
  next = await newKey("verity-next");
  stranger = await newKey("stranger");
  pinned = await pin(dev, next);
});

async function refusal(text: string | Uint8Array, keys = pinned, minVersion = 1): Promise<BundleError> {
  const input = typeof text === "string" ? bytes(text) : text;
  const error = await verifyBundle(input, keys, { minVersion }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(BundleError);
  return error as BundleError;
}

describe("a well-signed bundle", () => {
  it("is accepted with its version, signer and documents", async () => {
    const verified = await verifyBundle(bytes(await signed(7, [dev.signer])), pinned, { minVersion: 1 });
    expect(verified).toMatchObject({ version: 7, keyid: "verity-dev-bundle-1", issuedAt: "2026-11-26T08:00:00.000Z" });
    expect(verified.documents).toEqual(documents());
  });

  it("carries a standard in-toto Statement v1 whose subjects are the documents' canonical digests", async () => {
    const bundle = JSON.parse(await signed(7, [dev.signer])) as { envelope: { payloadType: string; payload: string } };
    expect(bundle.envelope.payloadType).toBe("application/vnd.in-toto+json");
    const statement = JSON.parse(new TextDecoder().decode(fromBase64(bundle.envelope.payload)));
    const docs = documents();
    expect(statement).toEqual({
      _type: STATEMENT_TYPE,
      predicateType: PREDICATE_TYPE,
      predicate: predicate(7),
      subject: [
        { name: "registry", digest: { sha256: documentDigest(docs.registry) } },
        { name: "policy", digest: { sha256: documentDigest(docs.policy) } },
        { name: "entities", digest: { sha256: documentDigest(docs.entities) } },
      ],
    });
  });

  it("is accepted during a rotation: signed by the new key only, or by both", async () => {
    expect((await verifyBundle(bytes(await signed(8, [next.signer])), pinned, { minVersion: 1 })).keyid).toBe("verity-next");
    expect((await verifyBundle(bytes(await signed(8, [stranger.signer, next.signer])), pinned, { minVersion: 1 })).keyid).toBe("verity-next");
  });

  it("is accepted with an empty key id (DSSE's keyid is only a hint: every pinned key is tried)", async () => {
    const text = edit(await signed(8, [next.signer]), (b) => (b.envelope.signatures[0]!.keyid = ""));
    expect((await verifyBundle(bytes(text), pinned, { minVersion: 1 })).keyid).toBe("verity-next");
  });
});

describe("refusals", () => {
  it("unsigned: no signatures, or no signature list", async () => {
    const good = await signed(3, [dev.signer]);
    expect((await refusal(edit(good, (b) => (b.envelope.signatures = [])))).code).toBe("bundle_unsigned");
    expect((await refusal(edit(good, (b) => delete (b.envelope as Partial<typeof b.envelope>).signatures))).code).toBe("bundle_unsigned");
  });

  it("tampered document: a backend changed after signing", async () => {
    const text = edit(await signed(3, [dev.signer]), (b) => {
      ((b.documents.registry as { backends: Array<{ baseUrl: string }> }).backends[0]!).baseUrl = "https://attacker.example";
    });
    const error = await refusal(text);
    expect(error.code).toBe("bundle_digest_mismatch");
    expect(error.message).toContain("registry");
  });

  it("tampered statement: the payload changed under the original signature", async () => {
    const good = await signed(3, [dev.signer]);
    const text = edit(good, (b) => {
      const statement = JSON.parse(new TextDecoder().decode(fromBase64(b.envelope.payload)));
      statement.predicate.version = 999;
      b.envelope.payload = base64(utf8(JSON.stringify(statement)));
    });
    expect((await refusal(text)).code).toBe("bundle_signature_invalid");
  });

  it("a signature over a different payload (another bundle's signature transplanted)", async () => {
    const other = JSON.parse(await signed(4, [dev.signer])) as { envelope: { signatures: unknown } };
    const text = edit(await signed(3, [dev.signer]), (b) => (b.envelope.signatures = other.envelope.signatures as typeof b.envelope.signatures));
    expect((await refusal(text)).code).toBe("bundle_signature_invalid");
  });

  it("a valid signature by a key that is not pinned, under its own key id", async () => {
    const error = await refusal(await signed(3, [stranger.signer]));
    expect(error.code).toBe("bundle_unknown_key");
    expect(error.message).toContain('"stranger"');
  });

  it("a valid signature by a key that is not pinned, claiming a pinned key id or none", async () => {
    expect((await refusal(await signed(3, [{ ...stranger.signer, keyid: "verity-dev-bundle-1" }]))).code).toBe("bundle_signature_invalid");
    expect((await refusal(await signed(3, [{ ...stranger.signer, keyid: "" }]))).code).toBe("bundle_signature_invalid");
  });

  it("an unknown key id, whatever the signature", async () => {
    const text = edit(await signed(3, [dev.signer]), (b) => (b.envelope.signatures[0]!.keyid = "retired-2019"));
    expect((await refusal(text)).code).toBe("bundle_unknown_key");
  });

  it("a bundle signed by a pinned key is refused once that key is no longer pinned", async () => {
    expect((await refusal(await signed(3, [dev.signer]), await pin(next))).code).toBe("bundle_unknown_key");
  });

  it("duplicate keys in the bundle's JSON: a second `documents` smuggled in front of the signed one", async () => {
    const good = await signed(3, [dev.signer]);
    const evil = documents((f) => ((f.backends as Array<{ baseUrl: string }>)[0]!.baseUrl = "https://attacker.example"));
    const text = `{"documents":${JSON.stringify(evil)},${good.slice(1)}`;
    const error = await refusal(text);
    expect(error.code).toBe("bundle_duplicate_key");
    expect(error.message).toContain('"documents"');
  });

  it("duplicate keys inside a document, even spelled with an escape", async () => {
    const good = await signed(3, [dev.signer]);
    const text = good.replace('"tenants":', '"tenants":[],"\\u0074enants":');
    expect(text).not.toBe(good);
    expect((await refusal(text)).code).toBe("bundle_duplicate_key");
  });

  it("duplicate keys inside the signed statement, even when a pinned key signed it", async () => {
    const docs = documents();
    const statement = canonicalJson(configStatement(docs, predicate(3)));
    const text = await signedStatement(statement.replace('{"_type":', '{"predicate":{"version":1,"issuedAt":"2026-01-01T00:00:00Z"},"_type":'), docs, dev.signer);
    expect((await refusal(text)).code).toBe("bundle_duplicate_key");
  });

  it("truncated bundles, at any length", async () => {
    const good = await signed(3, [dev.signer]);
    for (const length of [0, 1, 100, Math.floor(good.length / 2), good.length - 1]) {
      expect((await refusal(good.slice(0, length))).code, `truncated to ${length}`).toBe("bundle_malformed");
    }
  });

  it("oversized bundles, before any parsing", async () => {
    const huge = new Uint8Array(MAX_BUNDLE_BYTES + 1).fill(0x20);
    expect((await refusal(huge)).code).toBe("bundle_too_large");
  });

  it("not UTF-8, or not canonical base64", async () => {
    expect((await refusal(new Uint8Array([0x7b, 0xff, 0x7d]))).code).toBe("bundle_malformed");
    const good = await signed(3, [dev.signer]);
    expect((await refusal(edit(good, (b) => (b.envelope.payload = ` ${b.envelope.payload}`)))).code).toBe("bundle_malformed");
    expect((await refusal(edit(good, (b) => (b.envelope.signatures[0]!.sig = b.envelope.signatures[0]!.sig.replace(/=+$/, ""))))).code).toBe("bundle_malformed");
  });

  it("older than the version in force or the pinned floor (rollback)", async () => {
    const error = await refusal(await signed(3, [dev.signer]), pinned, 4);
    expect(error.code).toBe("bundle_rollback");
    expect(error.message).toMatch(/version 3 is older than 4/);
  });

  it("documents the signature does not cover: an extra one, or one missing", async () => {
    const good = await signed(3, [dev.signer]);
    expect((await refusal(edit(good, (b) => (b.documents.tools = [])))).code).toBe("bundle_digest_mismatch");
    expect((await refusal(edit(good, (b) => delete b.documents.entities))).code).toBe("bundle_digest_mismatch");
  });

  it("another payload type, or a signed statement of another kind", async () => {
    const good = await signed(3, [dev.signer]);
    expect((await refusal(edit(good, (b) => (b.envelope.payloadType = "application/json")))).code).toBe("bundle_statement_invalid");
    const docs = documents();
    const statement = { ...configStatement(docs, predicate(3)), predicateType: "https://slsa.dev/provenance/v1" };
    expect((await refusal(await signedStatement(JSON.stringify(statement), docs, dev.signer))).code).toBe("bundle_statement_invalid");
    const noVersion = { ...configStatement(docs, predicate(3)), predicate: { issuedAt: "2026-11-26T08:00:00Z", version: 1.5 } };
    expect((await refusal(await signedStatement(JSON.stringify(noVersion), docs, dev.signer))).code).toBe("bundle_statement_invalid");
  });
});

describe("pinned keys (BUNDLE_TRUSTED_KEYS)", () => {
  it("refuses a private key, a repeated kid, another curve, or not a JWK Set", async () => {
    const bad = async (text: string) => expect(importTrustedKeys(text)).rejects.toBeInstanceOf(TrustedKeysError);
    await bad(JSON.stringify({ keys: [{ ...dev.jwk, d: "W05iBVgc721hwAh_0Nq8wqmEjbmMEWnQ0Ks4O_EdvfQ" }] }));
    await bad(JSON.stringify({ keys: [dev.jwk, { ...next.jwk, kid: dev.jwk.kid }] }));
    await bad(JSON.stringify({ keys: [{ ...dev.jwk, crv: "X25519" }] }));
    await bad(JSON.stringify([dev.jwk]));
    await bad("not json");
    await bad(`{"keys":[],"keys":[${JSON.stringify(stranger.jwk)}]}`);
  });

  it("an empty set trusts nothing", async () => {
    expect((await refusal(await signed(3, [dev.signer]), await importTrustedKeys('{"keys":[]}'))).code).toBe("bundle_unknown_key");
  });
});
