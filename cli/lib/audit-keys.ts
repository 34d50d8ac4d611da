/** Trusted checkpoint keys for `audit verify`: a `--keys` file (a JWKS, or vkeys one a line) or the gateway's JWKS. */
import { readFileSync } from "node:fs";
import { verifiersFromJwks } from "../../worker/verify/log-verifier.ts";
import { type NoteVerifier, parseVerifierKey } from "../../worker/verify/note.ts";
import { fetchJwks } from "./audit-client.ts";
import { UsageError } from "./command.ts";

export async function readVerifiers(keysFile: string | undefined, gateway: string | undefined): Promise<NoteVerifier[]> {
  if (keysFile !== undefined) {
    const text = readFileSync(keysFile, "utf8");
    if (text.trimStart().startsWith("{")) return verifiersFromJwks(JSON.parse(text) as unknown);
    const lines = text.split("\n").map((l) => l.trim()).filter((l) => l !== "" && !l.startsWith("#"));
    return Promise.all(lines.map((line) => parseVerifierKey(line)));
  }
  if (gateway !== undefined) return verifiersFromJwks(await fetchJwks(gateway));
  throw new UsageError("name the trusted keys with --keys <file>, or --gateway <url> to use its published keys");
}
