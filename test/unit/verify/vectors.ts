/// <reference types="vite/client" />
/**
 * The public vectors under ../shared/vectors (transparency-dev/merkle, cyberphone JCS), bundled at
 * transform time with import.meta.glob so the tests read them inside workerd, which has no file
 * system. Paths are relative to this file: test/unit/verify → the repository root is ../../..,
 * and shared/ sits beside it.
 */

const merkleFiles = import.meta.glob("../../../../shared/vectors/merkle/testdata/**/*.json", {
  eager: true,
  import: "default",
}) as Record<string, unknown>;

const jcsInputs = import.meta.glob("../../../../shared/vectors/jcs/testdata/input/*.json", {
  eager: true,
  query: "?raw",
  import: "default",
}) as Record<string, string>;

const jcsOutputs = import.meta.glob("../../../../shared/vectors/jcs/testdata/output/*.json", {
  eager: true,
  query: "?raw",
  import: "default",
}) as Record<string, string>;

const jcsOutHex = import.meta.glob("../../../../shared/vectors/jcs/testdata/outhex/*.txt", {
  eager: true,
  query: "?raw",
  import: "default",
}) as Record<string, string>;

export type MerkleKind = "inclusion" | "consistency" | "subtreeinclusion" | "subtreeconsistency";

export interface MerkleCase {
  kind: MerkleKind;
  /** Path below testdata/, e.g. `inclusion/3/happy-path.json`. */
  name: string;
  data: Record<string, unknown>;
}

export function merkleCases(): MerkleCase[] {
  return Object.entries(merkleFiles)
    .map(([path, data]) => {
      const name = path.slice(path.indexOf("/testdata/") + "/testdata/".length);
      return { kind: name.slice(0, name.indexOf("/")) as MerkleKind, name, data: data as Record<string, unknown> };
    })
    .sort((a, b) => a.name.localeCompare(b.name));
}

export interface JcsCase {
  name: string;
  input: string;
  output: string;
  outhex: string;
}

export function jcsCases(): JcsCase[] {
  return Object.entries(jcsInputs)
    .map(([path, input]) => {
      const name = path.slice(path.lastIndexOf("/") + 1, -".json".length);
      const output = Object.entries(jcsOutputs).find(([p]) => p.endsWith(`/output/${name}.json`))?.[1];
      const outhex = Object.entries(jcsOutHex).find(([p]) => p.endsWith(`/outhex/${name}.txt`))?.[1];
      if (output === undefined || outhex === undefined) throw new Error(`JCS vector ${name} has no expected output`);
      return { name, input, output, outhex };
    })
    .sort((a, b) => a.name.localeCompare(b.name));
}

const c2spFiles = import.meta.glob("../../../../shared/vectors/c2sp/*.json", { eager: true, import: "default" }) as Record<string, unknown>;

export interface SignedNoteCase {
  name: string;
  verifierKey: string;
  note: string;
  expect: "valid" | "invalid";
}

/** The C2SP signed-note example(s): every `*_example` object of the c2sp folder's JSON files. */
export function signedNoteCases(): SignedNoteCase[] {
  return Object.entries(c2spFiles).flatMap(([path, data]) =>
    Object.entries(data as Record<string, unknown>)
      .filter(([key]) => key.endsWith("_example"))
      .map(([key, value]) => {
        const v = value as { verifier_key: string; note: string; expect: "valid" | "invalid" };
        return { name: `${path.slice(path.lastIndexOf("/") + 1)}#${key}`, verifierKey: v.verifier_key, note: v.note, expect: v.expect };
      }),
  );
}
