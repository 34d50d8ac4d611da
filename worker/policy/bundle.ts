/** Building a policy bundle from the files under `policies/` (used by the CLI, the seed and tests). */
import type { PolicyBundle } from "./types.ts";

/**
 * `schema` is the schema text; `policyFiles` maps file names to `.cedar` texts. The files are
 * concatenated in file-name order, each after a `// file: <name>` line, so the same files always give
 * the same bundle version.
 */
export function policyBundleFromSources(schema: string, policyFiles: Readonly<Record<string, string>>, label?: string): PolicyBundle {
  const names = Object.keys(policyFiles).sort();
  const policies = names.map((name) => `// file: ${name}\n${policyFiles[name]!.trimEnd()}\n`).join("\n");
  return label === undefined ? { schema, policies } : { schema, policies, label };
}
