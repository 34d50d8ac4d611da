/**
 * Reading a policy test file in the format of Cedar's integration tests
 * (cedar-policy/cedar-integration-tests): `policies`, `entities`, `schema` (paths relative to the
 * folder that holds `tests/`, `sample-data/` and `corpus-tests/`), `shouldValidate` and `requests[]`.
 *
 * JavaScript numbers hold integers exactly only up to 2^53 − 1, while Cedar's are 64-bit. A file is
 * parsed with source-text access (`JSON.parse` reviver `context.source`), and every integer literal
 * that a `number` cannot hold is recorded by path, so the runner refuses it instead of rounding it.
 */
import { readFileSync } from "node:fs";
import type { CedarValue, EntityRef } from "../cedar-node.ts";

export interface CedarTestRequest {
  description: string;
  principal: EntityRef;
  action: EntityRef;
  resource: EntityRef;
  context: Record<string, CedarValue>;
  /** Cedar's harness validates the request against the schema when true (the default). */
  validateRequest: boolean;
  decision: "allow" | "deny";
  reason: string[];
  /** Ids of the policies whose evaluation failed. */
  errors: string[];
  /** Source text of the integer literals beyond ±(2^53 − 1) in this request's context. */
  unsafeIntegers: string[];
}

export interface CedarTestFile {
  policies: string;
  entities: string;
  schema: string;
  shouldValidate: boolean;
  requests: CedarTestRequest[];
}

/** A test file or data file that is not what the format says; names the file and the problem. */
export class TestFileError extends Error {
  override readonly name = "TestFileError";
}

/**
 * An integer literal a JavaScript `number` cannot hold exactly (beyond ±(2^53 − 1)). The parser puts
 * one of these where the rounded number would have been, so nothing downstream can use it by accident.
 */
export class UnsafeInteger {
  constructor(readonly source: string) {}
}

const MARKER = "__verity_unsafe_integer__";

/**
 * Parses JSON, replacing every integer literal a `number` cannot hold exactly by an `UnsafeInteger`.
 * (Not with a `JSON.parse` reviver reading `context.source`: under Node 22 that crashed V8's
 * deoptimizer after some ten thousand files.) Integer literals outside strings with 16 or more
 * digits are rewritten to a marker record before parsing, then turned into `UnsafeInteger`s.
 */
export function parseJsonExact(text: string, file: string): unknown {
  const rewritten = /\d{16}/.test(text) ? markUnsafeIntegers(text) : undefined;
  let value: unknown;
  try {
    value = JSON.parse(rewritten ?? text);
  } catch (cause) {
    throw new TestFileError(`${file}: not valid JSON (${cause instanceof Error ? cause.message : String(cause)})`);
  }
  return rewritten === undefined ? value : unmark(value);
}

/** Rewrites unsafe integer literals outside strings as `{ "<MARKER>": "<literal>" }`. */
function markUnsafeIntegers(text: string): string {
  let out = "";
  let last = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '"') {
      for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === "\\") i++;
      continue;
    }
    if (c === "-" || (c >= "0" && c <= "9")) {
      const token = /^-?\d+(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 400))![0];
      if (/^-?\d+$/.test(token) && !Number.isSafeInteger(Number(token))) {
        out += `${text.slice(last, i)}{"${MARKER}":"${token}"}`;
        last = i + token.length;
      }
      i += token.length - 1;
    }
  }
  return out + text.slice(last);
}

function unmark(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(unmark);
  if (typeof value !== "object" || value === null) return value;
  const record = value as Record<string, unknown>;
  const marked = record[MARKER];
  if (typeof marked === "string" && Object.keys(record).length === 1) return new UnsafeInteger(marked);
  return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, unmark(v)]));
}

/** The `UnsafeInteger`s inside a parsed value, as their source text. */
export function unsafeIntegersIn(value: unknown, into: string[] = []): string[] {
  if (value instanceof UnsafeInteger) into.push(value.source);
  else if (Array.isArray(value)) for (const item of value) unsafeIntegersIn(item, into);
  else if (typeof value === "object" && value !== null) for (const member of Object.values(value)) unsafeIntegersIn(member, into);
  return into;
}

/** Reads a JSON data file (an entities file) exactly; see `parseJsonExact`. */
export function readJsonExact(path: string): unknown {
  return parseJsonExact(readFileSync(path, "utf8"), path);
}

function isRef(value: unknown): value is EntityRef {
  if (typeof value !== "object" || value === null) return false;
  const r = value as Record<string, unknown>;
  return typeof r.type === "string" && typeof r.id === "string";
}

function stringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === "string");
}

export function readTestFile(path: string): CedarTestFile {
  const value = parseJsonExact(readFileSync(path, "utf8"), path);
  const bad = (what: string): never => {
    throw new TestFileError(`${path}: ${what}`);
  };
  if (typeof value !== "object" || value === null || Array.isArray(value)) bad("must be an object");
  const doc = value as Record<string, unknown>;
  for (const key of ["policies", "entities", "schema"] as const) if (typeof doc[key] !== "string") bad(`${key} must be a path`);
  if (typeof doc.shouldValidate !== "boolean") bad("shouldValidate must be a boolean");
  if (!Array.isArray(doc.requests)) bad("requests must be an array");
  const requests = (doc.requests as unknown[]).map((raw, index): CedarTestRequest => {
    const where = `requests[${index}]`;
    if (typeof raw !== "object" || raw === null) return bad(`${where} must be an object`);
    const r = raw as Record<string, unknown>;
    if (typeof r.description !== "string") bad(`${where}.description must be a string`);
    for (const key of ["principal", "action", "resource"] as const) if (!isRef(r[key])) bad(`${where}.${key} must be { type, id }`);
    if (typeof r.context !== "object" || r.context === null || Array.isArray(r.context)) bad(`${where}.context must be a record`);
    if (r.decision !== "allow" && r.decision !== "deny") bad(`${where}.decision must be "allow" or "deny"`);
    if (!stringArray(r.reason)) bad(`${where}.reason must be an array of policy ids`);
    if (!stringArray(r.errors)) bad(`${where}.errors must be an array of policy ids`);
    if (r.validateRequest !== undefined && typeof r.validateRequest !== "boolean") bad(`${where}.validateRequest must be a boolean`);
    const unsafeIntegers = unsafeIntegersIn(r.context);
    return {
      description: r.description as string,
      principal: r.principal as EntityRef,
      action: r.action as EntityRef,
      resource: r.resource as EntityRef,
      context: r.context as Record<string, CedarValue>,
      validateRequest: (r.validateRequest as boolean | undefined) ?? true,
      decision: r.decision as "allow" | "deny",
      reason: r.reason as string[],
      errors: r.errors as string[],
      unsafeIntegers,
    };
  });
  return {
    policies: doc.policies as string,
    entities: doc.entities as string,
    schema: doc.schema as string,
    shouldValidate: doc.shouldValidate as boolean,
    requests,
  };
}
