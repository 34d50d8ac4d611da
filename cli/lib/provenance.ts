/**
 * The gateway's own build evidence: an in-toto Statement v1 with a SLSA Provenance v1 predicate over
 * the bundled Worker (every file wrangler wrote), naming the source commit and the lockfile digest.
 * Shared by `verity build` (writes it) and `verity build verify` (checks a build against it).
 */
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, sep } from "node:path";

export const SLSA_PROVENANCE_V1 = "https://slsa.dev/provenance/v1";
export const BUILD_TYPE = "https://verity.dev/build/wrangler-dry-run/v1";
export const BUILDER_ID = "https://verity.dev/builders/npm-run-build/v1";
/** Inside the output directory: the Worker wrangler bundles, and beside it the evidence. */
export const WORKER_DIR = "worker";
export const PROVENANCE_FILE = "provenance.intoto.json";

export interface Subject {
  name: string;
  digest: { sha256: string };
}

export interface ResourceDescriptor {
  name?: string;
  uri?: string;
  digest: Record<string, string>;
}

export interface ProvenanceStatement {
  _type: "https://in-toto.io/Statement/v1";
  subject: Subject[];
  predicateType: typeof SLSA_PROVENANCE_V1;
  predicate: {
    buildDefinition: {
      buildType: typeof BUILD_TYPE;
      externalParameters: { command: string; config: string; source: { commit: string; dirty: boolean } };
      internalParameters: { node: string; wrangler: string };
      resolvedDependencies: ResourceDescriptor[];
    };
    runDetails: {
      builder: { id: typeof BUILDER_ID };
      metadata: { invocationId: string; startedOn: string; finishedOn: string };
    };
  };
}

export function sha256File(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

/** Every file under `dir`, as subjects named by their path relative to `dir` (with `/`), sorted. */
export function subjectsOf(dir: string): Subject[] {
  const out: Subject[] = [];
  const walk = (at: string) => {
    for (const name of readdirSync(at).sort()) {
      const path = join(at, name);
      if (statSync(path).isDirectory()) walk(path);
      else out.push({ name: relative(dir, path).split(sep).join("/"), digest: { sha256: sha256File(path) } });
    }
  };
  walk(dir);
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
