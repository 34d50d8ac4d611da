/**
 * Runs Cedar integration-test files through the gateway's own decision path: `compilePolicy`
 * (strict validation, entities checked against the schema) and `pdp.decide` (slice, then Cedar).
 * A `shouldValidate: false` file is compiled with `validation: "report"` (test tooling only; the
 * gateway always compiles with the default, which refuses such a set): its strict-validation
 * problems must be reported, and its requests are then evaluated and compared like any other, as
 * Cedar's own harness evaluates them.
 *
 * The PDP is stricter than Cedar in documented ways (worker/policy/decide.ts, policies/README.md).
 * Where the expected answer differs from the PDP's because of one of those choices, and only then,
 * the runner maps the PDP's answer back to Cedar's semantics and files the request under that
 * difference's category, so every such case is counted and named, never silently passed:
 *
 *   no-permit-reason        Cedar: deny with no reason. PDP: the reason "no permit".
 *   error-reason            Cedar: deny, no determining policy, erroring policies. PDP: the reason
 *                           "evaluation error" (error policy ids still compared exactly).
 *   error-denies            Cedar: allow, skipping erroring policies. PDP: any error denies
 *                           (error policy ids compared exactly; Cedar's permits cannot be).
 *   unknown-principal       principal absent from the entities: the PDP denies unevaluated, and
 *                           Cedar denies too (its reasons and errors are not compared).
 *   unknown-principal-allow the same, where Cedar allows: a real difference, on purpose (the gateway
 *                           never decides for a principal it does not know).
 *   request-validation      the test asks for no request validation; the PDP always validates.
 *   integer-beyond-2^53     an integer a JavaScript number cannot hold, in the request's context
 *                           or the entities: refused by the reader (never rounded), not evaluated.
 *   validation-warning      `shouldValidate: false`, but Cedar 4.13 reports only a warning (impossible
 *                           policy), so strict validation reports no problem; allowed only for the
 *                           files named in `known-exceptions.ts` (counted per file); the requests are
 *                           then evaluated and compared.
 *   invalid-policy-evaluated  not a difference in the answer: a request of a `shouldValidate: false`
 *                           file whose set strict validation does reject (the gateway would refuse to
 *                           load it), evaluated anyway (`validation: "report"`) and matched. Counted
 *                           in addition to any category above.
 */
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { PolicyError, REASON, compilePolicy, policyBundleFromSources, type Decision, type EntityJson, type PolicyDecisionPoint } from "../cedar-node.ts";
import { readJsonExact, readTestFile, unsafeIntegersIn, TestFileError, type CedarTestFile, type CedarTestRequest } from "./cedar-test-file.ts";
import { VALIDATION_WARNINGS } from "./known-exceptions.ts";

export const CATEGORIES = [
  "no-permit-reason",
  "error-reason",
  "error-denies",
  "unknown-principal",
  "unknown-principal-allow",
  "request-validation",
  "integer-beyond-2^53",
  "validation-warning",
  "invalid-policy-evaluated",
] as const;
export type Category = (typeof CATEGORIES)[number];

/**
 * Why a request failed. Only `mismatch` means the PDP answered differently from Cedar; the others
 * mean it could not be asked (the request or data uses something the gateway's PDP does not accept).
 */
export type FailureCause =
  | "mismatch"
  | "invalid-request"
  | "policy-set-refused"
  | "policy-set-accepted"
  | "stale-exception"
  | "test-file";

export interface Failure {
  cause: FailureCause;
  file: string;
  /** The request's description, or "(file)" for a file-level failure. */
  request: string;
  expected: string;
  actual: string;
}

export interface Exception {
  file: string;
  request: string;
  category: Category;
  /** For integers: where they are and their literal text. */
  detail?: string;
}

export interface RunReport {
  files: number;
  requests: number;
  /** Requests whose answer matched (exactly, or under a documented difference). */
  passed: number;
  failed: number;
  /** Requests per documented category (a request can be in several, e.g. error-reason only once). */
  exceptions: Record<Category, number>;
  /** Every exception of the categories that are listed by name (integers, validation warnings). */
  listed: Exception[];
  failures: Failure[];
  /** Failures per cause. */
  failuresByCause: Partial<Record<FailureCause, number>>;
}

export interface RunOptions {
  /** The folder test-file paths are relative to; default: found per file (see `rootFor`). */
  root?: string;
}

/** Compiled PDPs per (policies, entities, schema) file triple, or why none could be compiled. */
type Compiled =
  | { kind: "pdp"; pdp: PolicyDecisionPoint; principals: ReadonlySet<string>; validationProblems: readonly string[] }
  | { kind: "refused"; code: string; message: string }
  | { kind: "unsafe"; integers: string[] };

const LISTED: ReadonlySet<Category> = new Set(["integer-beyond-2^53", "validation-warning"]);

export class PolicyTestRunner {
  private readonly cache = new Map<string, Compiled>();
  readonly report: RunReport = {
    files: 0,
    requests: 0,
    passed: 0,
    failed: 0,
    exceptions: Object.fromEntries(CATEGORIES.map((c) => [c, 0])) as Record<Category, number>,
    listed: [],
    failures: [],
    failuresByCause: {},
  };

  constructor(private readonly options: RunOptions = {}) {}

  runFile(path: string): void {
    const file = resolve(path);
    this.report.files += 1;
    let test: CedarTestFile;
    try {
      test = readTestFile(file);
    } catch (error) {
      this.fail("test-file", file, "(file)", "a readable test file", describe(error));
      return;
    }
    this.report.requests += test.requests.length;
    const root = this.options.root ?? rootFor(file, test);
    // shouldValidate: false — compile as test tooling only may, reporting (not throwing) the
    // strict-validation problems, so the requests can be evaluated as Cedar's harness does.
    const compiled = this.compiled(root, test, test.shouldValidate ? "strict" : "report");

    if (compiled.kind === "unsafe") {
      const detail = `entities: ${compiled.integers.join(", ")}`;
      for (const r of test.requests) this.except(file, r.description, "integer-beyond-2^53", detail);
      return;
    }
    if (compiled.kind === "refused") {
      const mode = test.shouldValidate ? "" : ' with validation "report"';
      this.failAll("policy-set-refused", file, test, `the policy set compiles${mode}`, `${compiled.code}: ${compiled.message}`);
      return;
    }
    let invalid = false;
    if (!test.shouldValidate) {
      const warningOnly = VALIDATION_WARNINGS.has(basename(file, ".json"));
      if (compiled.validationProblems.length === 0) {
        if (!warningOnly) {
          this.failAll("policy-set-accepted", file, test, "strict validation reports problems (shouldValidate: false)", "no validation problem reported");
          return;
        }
        this.except(file, "(file)", "validation-warning");
      } else if (warningOnly) {
        const problems = compiled.validationProblems.join("; ");
        this.failAll("stale-exception", file, test, "only validation warnings (listed in known-exceptions.ts)", `strict validation problems: ${problems}`);
        return;
      } else invalid = true;
    } else if (compiled.validationProblems.length > 0) {
      // Cannot happen ("strict" throws); guarded so a report-mode PDP never passes as a valid one.
      this.failAll("policy-set-refused", file, test, "the policy set compiles", `validation problems: ${compiled.validationProblems.join("; ")}`);
      return;
    }
    for (const request of test.requests) {
      const passed = this.report.passed;
      this.runRequest(file, compiled, request);
      if (invalid && this.report.passed > passed) this.except(file, request.description, "invalid-policy-evaluated");
    }
  }

  private runRequest(file: string, compiled: Extract<Compiled, { kind: "pdp" }>, r: CedarTestRequest): void {
    const label = r.description;
    if (r.unsafeIntegers.length > 0) {
      this.except(file, label, "integer-beyond-2^53", `context: ${r.unsafeIntegers.join(", ")}`);
      return;
    }
    // The gateway's own form (an id of type `Action`) where it can express the action; otherwise
    // the full reference (a namespaced action type, or an empty id), as Cedar takes it.
    const action = r.action.type === "Action" && r.action.id !== "" ? r.action.id : r.action;
    const d = compiled.pdp.decide({ principal: r.principal, action, resource: r.resource, context: r.context });
    const mismatch = (why: string): void => this.fail("mismatch", file, label, expectedText(r), `${actualText(d)} (${why})`);
    if (same(d.reasons, [REASON.invalidRequest])) {
      return this.fail("invalid-request", file, label, expectedText(r), `${actualText(d)} (the PDP refused the request)`);
    }
    const errorIds = d.errors.map(policyIdOf);
    const expectedErrors = sorted(r.errors);

    if (same(d.reasons, [REASON.unknownPrincipal])) {
      if (compiled.principals.has(refKey(r.principal))) return mismatch("the principal is in the entities");
      if (d.effect !== "deny") return mismatch("unknown principal must deny");
      return this.pass(file, label, r.decision === "allow" ? "unknown-principal-allow" : "unknown-principal");
    }
    if (same(d.reasons, [REASON.evaluationError])) {
      if (errorIds.some((id) => id === undefined)) {
        // The engine refused the request itself (it did not get to evaluate any policy).
        if (!r.validateRequest) return this.pass(file, label, "request-validation");
        return mismatch("the engine refused the request");
      }
      if (!same(sorted(errorIds as string[]), expectedErrors)) return mismatch("error policy ids differ");
      if (r.decision === "allow") return this.pass(file, label, "error-denies");
      if (r.reason.length === 0) return this.pass(file, label, "error-reason");
      return mismatch("Cedar names determining policies");
    }
    if (d.reasons.some((reason) => reason.includes(" ") && reason !== REASON.noPermit)) return mismatch("unexpected reason sentinel");
    const noPermit = same(d.reasons, [REASON.noPermit]);
    const reasons = noPermit ? [] : sorted(d.reasons);
    if (d.effect !== r.decision) return mismatch("decision differs");
    if (!same(reasons, sorted(r.reason))) return mismatch("reasons differ");
    if (errorIds.some((id) => id === undefined) || !same(sorted(errorIds as string[]), expectedErrors)) return mismatch("errors differ");
    return this.pass(file, label, noPermit ? "no-permit-reason" : undefined);
  }

  private compiled(root: string, test: CedarTestFile, validation: Validation): Compiled {
    const paths = [test.policies, test.entities, test.schema].map((p) => resolve(root, p)) as [string, string, string];
    const key = JSON.stringify([...paths, validation]);
    let compiled = this.cache.get(key);
    if (compiled === undefined) {
      compiled = compileTriple(...paths, validation);
      this.cache.set(key, compiled);
    }
    return compiled;
  }

  private pass(file: string, request: string, category?: Category): void {
    this.report.passed += 1;
    if (category !== undefined) this.except(file, request, category);
  }

  private except(file: string, request: string, category: Category, detail?: string): void {
    this.report.exceptions[category] += 1;
    if (LISTED.has(category)) this.report.listed.push(detail === undefined ? { file, request, category } : { file, request, category, detail });
  }

  private fail(cause: FailureCause, file: string, request: string, expected: string, actual: string): void {
    this.report.failed += 1;
    this.report.failuresByCause[cause] = (this.report.failuresByCause[cause] ?? 0) + 1;
    this.report.failures.push({ cause, file, request, expected, actual });
  }

  private failAll(cause: FailureCause, file: string, test: CedarTestFile, expected: string, actual: string): void {
    if (test.requests.length === 0) this.fail(cause, file, "(file)", expected, actual);
    for (const r of test.requests) this.fail(cause, file, r.description, expected, actual);
  }
}

type Validation = "strict" | "report";

function compileTriple(policiesPath: string, entitiesPath: string, schemaPath: string, validation: Validation): Compiled {
  let entities: unknown;
  let bundle: { schema: string; policies: string };
  let gatewayBundle: boolean;
  try {
    gatewayBundle = statSync(policiesPath).isDirectory();
    bundle = { schema: readFileSync(schemaPath, "utf8"), policies: readPolicies(schemaPath, policiesPath) };
    entities = readJsonExact(entitiesPath);
  } catch (error) {
    return { kind: "refused", code: "TEST_DATA_UNREADABLE", message: describe(error) };
  }
  const integers = unsafeIntegersIn(entities);
  if (integers.length > 0) return { kind: "unsafe", integers: [...new Set(integers)] };
  try {
    // A policies folder is a gateway bundle: compiled as the gateway compiles it, `@id` required
    // and strict validation always (a gateway bundle never gets "report").
    const mode: Validation = gatewayBundle ? "strict" : validation;
    const pdp = compilePolicy(bundle, entities as EntityJson[], { requirePolicyIds: gatewayBundle, validation: mode });
    const principals = new Set(Array.isArray(entities) ? (entities as EntityJson[]).map((e) => refKey(e.uid)) : []);
    return { kind: "pdp", pdp, principals, validationProblems: pdp.validationProblems };
  } catch (error) {
    if (error instanceof PolicyError) return { kind: "refused", code: error.code, message: error.message };
    return { kind: "refused", code: "UNEXPECTED", message: describe(error) };
  }
}

/**
 * The policy text of a test file's `policies` path. Cedar's format names one policy file; Verity's
 * seeded-world tests (policies/tests/) name the `policies/` folder instead, whose `*.cedar` files
 * are joined exactly as the gateway's bundle joins them (`policyBundleFromSources`, file-name order),
 * so the tests run the very bundle the gateway loads.
 */
function readPolicies(schemaPath: string, policiesPath: string): string {
  if (!statSync(policiesPath).isDirectory()) return readFileSync(policiesPath, "utf8");
  const files: Record<string, string> = {};
  for (const name of readdirSync(policiesPath).filter((n) => n.endsWith(".cedar"))) files[name] = readFileSync(join(policiesPath, name), "utf8");
  return policyBundleFromSources(readFileSync(schemaPath, "utf8"), files).policies;
}

/**
 * The folder a test file's paths are relative to: the nearest ancestor of the file from which its
 * `policies` path exists (Cedar's `tests/x/1.json` → the folder holding `tests/`; a corpus file
 * `corpus-tests/h.json` → the folder holding `corpus-tests/`), else the current directory.
 */
export function rootFor(file: string, test: CedarTestFile): string {
  for (let dir = dirname(file); ; dir = dirname(dir)) {
    if (existsSync(resolve(dir, test.policies))) return dir;
    if (dirname(dir) === dir) return process.cwd();
  }
}

/** `policy3: message` → `policy3`; an engine message (no policy id before ": ") → undefined. */
function policyIdOf(error: string): string | undefined {
  const at = error.indexOf(": ");
  if (at <= 0) return undefined;
  const id = error.slice(0, at);
  return /\s/.test(id) ? undefined : id;
}

function refKey(ref: { type: string; id: string }): string {
  return JSON.stringify([ref.type, ref.id]);
}

function sorted(values: readonly string[]): string[] {
  return [...values].sort();
}

function same(a: readonly (string | undefined)[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

function expectedText(r: CedarTestRequest): string {
  return `${r.decision} reason=${JSON.stringify(sorted(r.reason))} errors=${JSON.stringify(sorted(r.errors))}`;
}

function actualText(d: Decision): string {
  return `${d.effect} reason=${JSON.stringify(d.reasons)} errors=${JSON.stringify(d.errors)}`;
}

function describe(error: unknown): string {
  if (error instanceof TestFileError) return error.message;
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
