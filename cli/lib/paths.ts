/** Where things are, from the repository root (this file is cli/lib/paths.ts), never from /work. */
import { fileURLToPath } from "node:url";
import { resolve } from "node:path";

export const REPO_ROOT = resolve(fileURLToPath(new URL("../..", import.meta.url)));
/** The public test vectors sit beside the repository (`../shared/vectors`), in CI as locally. */
export const CEDAR_VECTORS = resolve(REPO_ROOT, "..", "shared", "vectors", "cedar");
export const CORPUS_ARCHIVE = resolve(CEDAR_VECTORS, "corpus-tests.tar.gz");
export const CORPUS_CACHE = resolve(REPO_ROOT, "node_modules", ".cache", "verity", "cedar-corpus");
