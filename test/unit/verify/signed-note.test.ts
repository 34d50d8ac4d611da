/** C2SP signed notes: the spec's example through the project's code, then every refusal by its code. */
import { describe, expect, it } from "vitest";
import { base64 } from "../../../worker/lib/encoding.ts";
import {
  ed25519KeyId,
  formatNote,
  parseNote,
  parseVerifierKey,
  signatureLine,
  verifierKeyString,
  verifyNote,
  type NoteVerifier,
} from "../../../worker/verify/note.ts";
import { checkpointText, parseCheckpointText } from "../../../worker/verify/checkpoint.ts";
import { signedNoteCases } from "./vectors.ts";

describe("the C2SP signed-note example", () => {
  const cases = signedNoteCases();
  it("is present", () => expect(cases.length).toBeGreaterThan(0));

  for (const c of cases) {
    it(`${c.name}: ${c.expect}`, async () => {
      const verifier = await parseVerifierKey(c.verifierKey);
      expect(verifier.name).toBe("example.com/foo");
      expect(verifier.keyId).toBe(0x530d903a);
      // The vkey round-trips: same name, key ID and key.
      expect(await verifierKeyString(verifier.name, verifier.publicKey)).toBe(c.verifierKey);
      const parsed = parseNote(c.note);
      expect(parsed.text).toBe("This is an example message.\n");
      expect(parsed.signatures).toHaveLength(1);
      // Each signature line asserted: key name, key ID, a 64-byte Ed25519 signature that verifies.
      const [signature] = parsed.signatures;
      expect(signature).toMatchObject({ name: "example.com/foo", keyId: 0x530d903a });
      expect(signature!.signature).toHaveLength(64);
      if (c.expect === "valid") {
        expect(await verifyNote(c.note, [verifier])).toEqual({ text: parsed.text, verifiedBy: ["example.com/foo+530d903a"] });
      } else {
        await expect(verifyNote(c.note, [verifier])).rejects.toHaveProperty("code");
      }
    });
  }

  it("rejects the example with one byte of its text changed (invalid_signature)", async () => {
    const [c] = signedNoteCases();
    const verifier = await parseVerifierKey(c!.verifierKey);
    await expect(verifyNote(c!.note.replace("example message", "exampla message"), [verifier])).rejects.toMatchObject({ code: "invalid_signature" });
  });

  it("ignores a signature by a key that shares the name but not the ID, and then has no known signer", async () => {
    const [c] = signedNoteCases();
    const verifier = await parseVerifierKey(c!.verifierKey);
    const other: NoteVerifier = { ...verifier, keyId: verifier.keyId ^ 1 };
    await expect(verifyNote(c!.note, [other])).rejects.toMatchObject({ code: "unknown_signer" });
  });
});

async function keyPair(name: string) {
  const pair = (await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"])) as CryptoKeyPair;
  const publicKey = new Uint8Array((await crypto.subtle.exportKey("raw", pair.publicKey)) as ArrayBuffer);
  const keyId = await ed25519KeyId(name, publicKey);
  const sign = async (text: string) =>
    signatureLine(name, keyId, new Uint8Array(await crypto.subtle.sign({ name: "Ed25519" }, pair.privateKey, new TextEncoder().encode(text))));
  return { publicKey, keyId, sign, verifier: { name, keyId, publicKey } satisfies NoteVerifier };
}

describe("notes the gateway signs", () => {
  it("signs a checkpoint with two keys; either key alone verifies it", async () => {
    const [a, b] = await Promise.all([keyPair("verity.local/audit"), keyPair("verity.local/audit")]);
    const text = checkpointText({ origin: "verity.local/audit/acme", size: 7, rootHash: "00".repeat(31) + "ff" });
    const note = formatNote(text, [await a.sign(text), await b.sign(text)]);
    expect((await verifyNote(note, [a.verifier])).verifiedBy).toHaveLength(1);
    expect((await verifyNote(note, [b.verifier])).verifiedBy).toHaveLength(1);
    expect((await verifyNote(note, [a.verifier, b.verifier])).verifiedBy).toHaveLength(2);
    expect(parseCheckpointText(text)).toEqual({ origin: "verity.local/audit/acme", size: 7, rootHash: "00".repeat(31) + "ff" });
  });

  it("rejects the whole note when one known key's signature fails, even if another verifies", async () => {
    const [a, b] = await Promise.all([keyPair("k"), keyPair("k")]);
    const text = "hello\n";
    const forged = (await b.sign("other\n"));
    await expect(verifyNote(formatNote(text, [await a.sign(text), forged]), [a.verifier, b.verifier])).rejects.toMatchObject({ code: "invalid_signature" });
  });

  it.each([
    ["no blank line", "text\n\u2014 k AAAA\n"],
    ["no final newline", "text\n\n\u2014 k AAAAAAAA"],
    ["a control character", "te\u0007xt\n\n\u2014 k AAAAAAAA\n"],
    ["a line that is not a signature", "text\n\nnot a signature\n"],
    ["non-canonical base64", "text\n\n\u2014 k AAAAAAB=\n"],
    ["a key name with a plus", "text\n\n\u2014 k+1 AAAAAAAA\n"],
  ])("refuses a note with %s (invalid_note)", (_, note) => {
    expect(() => parseNote(note)).toThrow(expect.objectContaining({ code: "invalid_note" }));
  });

  it("refuses more than 16 signatures", async () => {
    const a = await keyPair("k");
    const line = await a.sign("t\n");
    expect(() => parseNote(`t\n\n${line.repeat(17)}`)).toThrow(expect.objectContaining({ code: "invalid_note" }));
  });

  it.each([
    ["a wrong key ID", (v: string) => v.replace(/\+[0-9a-f]{8}\+/, "+00000000+")],
    ["another signature type", (v: string) => v.replace(/\+[^+]+$/, `+${base64(new Uint8Array(33).fill(2))}`)],
    ["two parts only", (v: string) => v.split("+").slice(0, 2).join("+")],
  ])("refuses a verifier key with %s (invalid_key)", async (_, mangle) => {
    const a = await keyPair("example.org/log");
    const vkey = await verifierKeyString("example.org/log", a.publicKey);
    await expect(parseVerifierKey(mangle(vkey))).rejects.toMatchObject({ code: "invalid_key" });
  });

  it.each([
    ["four lines", "o\n1\nAAAA\nextra\n"],
    ["a leading zero", `o\n01\n${base64(new Uint8Array(32))}\n`],
    ["a short root", `o\n1\n${base64(new Uint8Array(31))}\n`],
  ])("refuses a checkpoint body with %s (invalid_checkpoint)", (_, text) => {
    expect(() => parseCheckpointText(text)).toThrow(expect.objectContaining({ code: "invalid_checkpoint" }));
  });
});
