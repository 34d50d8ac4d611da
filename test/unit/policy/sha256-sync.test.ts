import { describe, expect, it } from "vitest";
import { sha256Hex } from "../../../worker/lib/encoding.ts";
import { sha256HexSync } from "../../../worker/lib/sha256-sync.ts";

describe("sha256HexSync", () => {
  it("known answers (FIPS 180-4 examples)", () => {
    expect(sha256HexSync("")).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    expect(sha256HexSync("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    expect(sha256HexSync("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")).toBe(
      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
    );
  });
  it("agrees with WebCrypto on every length around the block boundaries", async () => {
    for (let n = 0; n < 200; n++) {
      const bytes = new Uint8Array(n).map((_, i) => (i * 31 + n) & 0xff);
      expect(sha256HexSync(bytes), `length ${n}`).toBe(await sha256Hex(bytes));
    }
    const text = "é€𝄞".repeat(1000);
    expect(sha256HexSync(text)).toBe(await sha256Hex(text));
  });
});
