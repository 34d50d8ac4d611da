/**
 * Key-encryption keys (KEKs): one per tenant, from the Worker secret `KEK_<TENANT>` (the tenant id
 * upper-cased, `-` as `_`), standard base64 of 32 random bytes. During a rotation the secret holds
 * several keys separated by commas, the new one first: the first wraps new data keys, every one
 * unwraps what it wrapped (found by key id). KEKs never leave the vault object and never reach a log.
 */
import { fromBase64, sha256Hex, utf8 } from "../../lib/encoding.ts";
import { VaultError } from "./errors.ts";

export const KEK_BYTES = 32;

export interface Kek {
  /** `kek-` + 16 hex digits of SHA-256 over a domain tag and the key: names the key without revealing it. */
  id: string;
  key: CryptoKey;
}

export interface KekSet {
  /** Wraps new data keys. */
  primary: Kek;
  byId: ReadonlyMap<string, Kek>;
}

/** The Worker secret that holds `tenant`'s key-encryption key(s). */
export function kekSecretName(tenant: string): string {
  return `KEK_${tenant.toUpperCase().replace(/-/g, "_")}`;
}

async function importKek(text: string, tenant: string): Promise<Kek> {
  let raw: Uint8Array;
  try {
    raw = fromBase64(text.trim());
  } catch (cause) {
    throw new VaultError("kek_invalid", `${kekSecretName(tenant)} is not standard base64`, { cause });
  }
  if (raw.length !== KEK_BYTES) throw new VaultError("kek_invalid", `${kekSecretName(tenant)} must hold ${KEK_BYTES} bytes, not ${raw.length}`);
  const tagged = new Uint8Array([...utf8("verity-vault/kek-id/v1\0"), ...raw]);
  const id = `kek-${(await sha256Hex(tagged)).slice(0, 16)}`;
  const key = await crypto.subtle.importKey("raw", raw as Uint8Array<ArrayBuffer>, "AES-GCM", false, ["encrypt", "decrypt"]);
  return { id, key };
}

/** Parses and imports `tenant`'s KEK secret; `kek_missing` when unset, `kek_invalid` when malformed. */
export async function importKeks(secret: string | undefined, tenant: string): Promise<KekSet> {
  if (secret === undefined || secret.trim() === "") throw new VaultError("kek_missing", `the Worker secret ${kekSecretName(tenant)} is not set`);
  const keks = await Promise.all(secret.split(",").map((part) => importKek(part, tenant)));
  const byId = new Map(keks.map((kek) => [kek.id, kek]));
  if (byId.size !== keks.length) throw new VaultError("kek_invalid", `${kekSecretName(tenant)} lists the same key twice`);
  return { primary: keks[0]!, byId };
}
