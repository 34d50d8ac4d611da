/**
 * Turns the files of kv-seeds/ and policies/ into the signed configuration bundle the gateway reads
 * (worker/workload/bundle-format.ts, KV key BUNDLE_KEY). Pure, so `npm start` (Node), the CLI and the
 * workerd tests build the same documents from the same files; only the signing primitive differs
 * (Node's synchronous one in dev/seed.ts, Web Crypto in dev/signing/sign-bundle.ts).
 */
import { policyBundleFromSources } from "../worker/policy/bundle.ts";
import type { JsonValue } from "../worker/lib/canonical-json.ts";
import { BUNDLE_KEY, type BundleDocuments, type BundlePredicate, sealBundle, unsignedBundle } from "../worker/workload/bundle-format.ts";
import { type BundleSigner, signBundle } from "./signing/sign-bundle.ts";

export interface SeedFiles {
  tenants: unknown;
  issuers: unknown;
  trustDomains: unknown;
  workloads: unknown;
  backends: unknown;
  tools: unknown;
  /** Shared Signals transmitters (kv-seeds/transmitters.json); optional, as older variants have none. */
  transmitters?: unknown;
  /** MCP servers behind `/mcp/{server}` (kv-seeds/mcp-servers.json); optional, as older variants have none. */
  mcpServers?: unknown;
  entities: unknown;
  schema: string;
  /** Policy file name → text. */
  policies: Record<string, string>;
}

export interface KvEntry {
  key: string;
  value: string;
}

/** A synchronous Ed25519 signature over a DSSE signing input, with the signer's key id. */
export type SyncSign = (signingInput: Uint8Array) => { keyid: string; signature: Uint8Array };

export function seedDocuments(files: SeedFiles): BundleDocuments {
  const registry = {
    tenants: files.tenants,
    issuers: files.issuers,
    trustDomains: files.trustDomains,
    workloads: files.workloads,
    backends: files.backends,
    tools: files.tools,
    ...(files.transmitters !== undefined ? { transmitters: files.transmitters } : {}),
    ...(files.mcpServers !== undefined ? { mcpServers: files.mcpServers } : {}),
  };
  // A JSON round trip: the seeds are parsed JSON files, and this drops what JSON cannot carry.
  return JSON.parse(
    JSON.stringify({ registry, policy: policyBundleFromSources(files.schema, files.policies), entities: files.entities }),
  ) as Record<"registry" | "policy" | "entities", JsonValue>;
}

let lastVersion = 0;

/**
 * The version for the next seeded bundle: the clock in milliseconds, but always above the last one
 * from this process (workerd's clock stands still between I/O), so successive seeds go forward.
 */
export function nextSeedVersion(): number {
  lastVersion = Math.max(Date.now(), lastVersion + 1);
  return lastVersion;
}

function predicate(version: number): BundlePredicate {
  return { version, issuedAt: new Date().toISOString() };
}

/** The KV entries of a signed seed bundle, signed synchronously (Node). */
export function buildSeedEntries(files: SeedFiles, sign: SyncSign, version = nextSeedVersion()): KvEntry[] {
  const unsigned = unsignedBundle(seedDocuments(files), predicate(version));
  return [{ key: BUNDLE_KEY, value: sealBundle(unsigned, [sign(unsigned.signingInput)]) }];
}

/** The same entries signed with Web Crypto (workerd tests, the CLI). */
export async function buildSignedSeedEntries(files: SeedFiles, signers: readonly BundleSigner[], version = nextSeedVersion()): Promise<KvEntry[]> {
  return [{ key: BUNDLE_KEY, value: await signBundle(seedDocuments(files), predicate(version), signers) }];
}
