/**
 * Seeds the test's KV with the same signed bundle `npm start` publishes, built from the same files
 * (kv-seeds/ and policies/) by the same function; `mutate` lets a test publish a variant.
 */
import backends from "../../kv-seeds/backends.json";
import entities from "../../kv-seeds/entities.json";
import issuers from "../../kv-seeds/issuers.json";
import mcpServers from "../../kv-seeds/mcp-servers.json";
import tenants from "../../kv-seeds/tenants.json";
import tools from "../../kv-seeds/tools.json";
import transmitters from "../../kv-seeds/transmitters.json";
import trustDomains from "../../kv-seeds/trust-domains.json";
import workloads from "../../kv-seeds/workloads.json";
import { buildSignedSeedEntries, type SeedFiles } from "../../dev/seed-entries.ts";
import { DEV_SIGNING_JWK, importSigner } from "../../dev/signing/sign-bundle.ts";

const policyFiles = import.meta.glob("../../policies/*.cedar", { eager: true, query: "?raw", import: "default" }) as Record<string, string>;
const schemaFiles = import.meta.glob("../../policies/schema.cedarschema", { eager: true, query: "?raw", import: "default" }) as Record<string, string>;

export function seedFiles(): SeedFiles {
  return structuredClone({
    tenants,
    issuers,
    trustDomains,
    workloads,
    backends,
    tools,
    transmitters,
    mcpServers,
    entities,
    schema: Object.values(schemaFiles)[0] ?? "",
    policies: Object.fromEntries(Object.entries(policyFiles).map(([path, text]) => [path.split("/").at(-1)!, text])),
  });
}

/** Publishes the seeds (or a variant) as a bundle signed by the TEST-ONLY dev key, at a newer version. */
export async function seedKv(kv: KVNamespace, mutate?: (files: SeedFiles) => void): Promise<void> {
  const files = seedFiles();
  mutate?.(files);
  const signer = await importSigner(DEV_SIGNING_JWK);
  for (const { key, value } of await buildSignedSeedEntries(files, [signer])) await kv.put(key, value);
}
