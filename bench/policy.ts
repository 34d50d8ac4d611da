/**
 * The policy decision point's cost (issue 4): 500 policies and 10,000 entities, decisions through
 * the gateway's own PDP (`compilePolicy` + `decide`, via cli/cedar-node.ts: the same code as the
 * Worker, over the same cedar-wasm). The gateway decides in JavaScript where that is exact
 * (worker/policy/evaluate.ts); compared with the same path forced through cedar-wasm, with slicing
 * off, with Cedar's request validation off, and with the naive approach (the whole policy text and
 * all 10,000 entities to `isAuthorized`, per request, nothing preparsed).
 *
 * Every measured request is distinct (the context's `model` carries the iteration number), so the
 * PDP's per-request memo never answers: each decision goes through Cedar.
 *
 *   tsx bench/policy.ts            # writes bench/POLICY.md
 */
import { writeFileSync, readFileSync } from "node:fs";
import { cpus } from "node:os";
import { fileURLToPath } from "node:url";
import "../cli/cedar-node.ts"; // provides cedar-wasm to worker/policy (side effect)
import { compilePolicy, invokeModelRequest, callToolRequest, readDocumentRequest, tenantActionRequest, type AuthzRequest, type EntityJson } from "../cli/cedar-node.ts";
import { bundleVersion, compile, entitiesVersionOf, readBundle } from "../worker/policy/compile.ts";
import { CEDAR_MODE, decideWith, type DecideMode } from "../worker/policy/decide.ts";
import { cedarEngine } from "../worker/policy/engine.ts";
import { evaluatorCounts } from "../worker/policy/evaluate.ts";
import { EntityStore, actionRef } from "../worker/policy/slice.ts";

const TENANTS = 50;
const USERS_PER_TENANT = 120;
const WORKLOADS_PER_TENANT = 10;
const DOCS_PER_TENANT = 60;
const TOOLS_PER_TENANT = 4;
const BACKENDS = 20;
const POLICIES = 500;

const root = fileURLToPath(new URL("..", import.meta.url));
const schema = readFileSync(`${root}policies/schema.cedarschema`, "utf8");

// ---- a world: deterministic pseudo-random ---------------------------------------------------
let seed = 42;
const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
const ref = (type: string, id: string) => ({ type, id });
const ent = (type: string, id: string, attrs: Record<string, unknown>, parents: { type: string; id: string }[] = []): EntityJson => ({ uid: ref(type, id), attrs, parents });

export function world(): { entities: EntityJson[]; policies: string } {
  const entities: EntityJson[] = [ent("Group", "auditors", {}), ent("Group", "admins", {})];
  const regions = ["eu", "us"];
  for (let b = 0; b < BACKENDS; b++) entities.push(ent("Backend", `b${b}`, { region: regions[b % 2], jurisdiction: regions[b % 2], tier: ["public", "confidential", "self-hosted"][b % 3] }));
  for (let t = 0; t < TENANTS; t++) {
    const tenant = ref("Tenant", `t${t}`);
    const tenantAttr = { __entity: tenant };
    entities.push(ent("Tenant", `t${t}`, { residency: regions[t % 2] }));
    for (const g of ["members", "contractors", "workloads"]) entities.push(ent("Group", `t${t}/${g}`, {}, [tenant]));
    entities.push(ent("Group", `t${t}/auditors`, {}, [tenant, ref("Group", "auditors")]));
    entities.push(ent("Group", `t${t}/admins`, {}, [tenant, ref("Group", "admins")]));
    for (let u = 0; u < USERS_PER_TENANT; u++) {
      const contractor = u % 10 === 9;
      const parents = [ref("Group", `t${t}/${contractor ? "contractors" : "members"}`)];
      if (u % 40 === 1) parents.push(ref("Group", `t${t}/auditors`));
      if (u % 60 === 2) parents.push(ref("Group", `t${t}/admins`));
      entities.push(ent("User", `t${t}/u${u}`, { tenant: tenantAttr, kind: contractor ? "contractor" : "member" }, parents));
    }
    for (let w = 0; w < WORKLOADS_PER_TENANT; w++) entities.push(ent("Workload", `t${t}/w${w}`, { tenant: tenantAttr }, [ref("Group", `t${t}/workloads`)]));
    for (let d = 0; d < DOCS_PER_TENANT; d++) entities.push(ent("Document", `t${t}/d${d}`, { tenant: tenantAttr, level: d % 4 }));
    for (let k = 0; k < TOOLS_PER_TENANT; k++) entities.push(ent("Tool", `t${t}/tool${k}`, { tenant: tenantAttr, requiresMfa: k % 2 === 1, classification: k % 4 }));
  }

  const seeded = ["guardrails", "models", "tenancy", "tools"].map((f) => readFileSync(`${root}policies/${f}.cedar`, "utf8")).join("\n");
  const out: string[] = [seeded];
  let count = (seeded.match(/@id\(/g) ?? []).length;
  const add = (text: string) => {
    if (count < POLICIES) {
      out.push(text);
      count++;
    }
  };
  for (let b = 0; b < BACKENDS; b++) add(`@id("backend.b${b}.geo") forbid (principal, action == Action::"invoke_model", resource == Backend::"b${b}") when { context.geo.country == "K${b}" };`);
  for (let round = 0; count < POLICIES; round++) {
    for (let t = 0; t < TENANTS && count < POLICIES; t++) {
      const p = `t${t}`;
      const templates = [
        `@id("${p}.r${round}.models") permit (principal in Group::"${p}/members", action == Action::"invoke_model", resource is Backend) when { resource.region == "${regions[t % 2]}" && context.classification.level <= ${round % 3} };`,
        `@id("${p}.r${round}.contractor-tier") forbid (principal in Group::"${p}/contractors", action == Action::"invoke_model", resource is Backend) when { resource.tier != "public" };`,
        `@id("${p}.r${round}.tools") permit (principal in Group::"${p}/members", action == Action::"call_tool", resource is Tool) when { resource.tenant == Tenant::"${p}" && context.classification.level <= resource.classification };`,
        `@id("${p}.r${round}.workloads") permit (principal in Group::"${p}/workloads", action in [Action::"invoke_model", Action::"call_tool"], resource) when { context.authn.method == "mtls" };`,
        `@id("${p}.r${round}.docs") permit (principal in Tenant::"${p}", action == Action::"read_document", resource is Document) when { resource.tenant == Tenant::"${p}" && resource.level <= 1 };`,
        `@id("${p}.r${round}.docs-mfa") @obligation("step_up:acr=urn:verity:acr:mfa") forbid (principal is User in Group::"${p}/members", action == Action::"read_document", resource is Document) when { resource.level == 3 && !context.authn.mfa };`,
        `@id("${p}.r${round}.audit") permit (principal is User in Group::"${p}/auditors", action == Action::"read_audit", resource == Tenant::"${p}");`,
        `@id("${p}.r${round}.admin") permit (principal is User in Group::"${p}/admins", action == Action::"administer", resource == Tenant::"${p}") when { context.authn.mfa };`,
        `@id("${p}.r${round}.model-tokens") @obligation("max_tokens:2048") permit (principal in Group::"${p}/contractors", action == Action::"invoke_model", resource is Backend) when { resource.tier == "public" && context.risk == "low" };`,
      ];
      add(templates[(t + round) % templates.length]!);
    }
  }
  return { entities, policies: out.join("\n") };
}

// ---- requests -------------------------------------------------------------------------------
function request(i: number): AuthzRequest {
  const t = Math.floor(rand() * TENANTS);
  const user = { type: "User" as const, id: `t${t}/u${Math.floor(rand() * USERS_PER_TENANT)}` };
  const env = {
    authn: { method: "oidc", mfa: rand() < 0.5, acr: "", binding: "none", authAge: 60 },
    risk: pick(["low", "low", "medium"] as const),
    geo: { country: pick(["DE", "US", "FR"]), continent: pick(["EU", "NA"]) },
  };
  const classification = { level: pick([0, 1, 2] as const), categories: rand() < 0.2 ? ["pii"] : [] };
  switch (i % 5) {
    case 0:
    case 1:
      return invokeModelRequest({
        principal: rand() < 0.1 ? { type: "Workload", id: `t${t}/w${Math.floor(rand() * WORKLOADS_PER_TENANT)}` } : user,
        backend: `b${Math.floor(rand() * BACKENDS)}`,
        model: `m-${i}`, // distinct per iteration: the memo never answers
        classification,
        request: { wireFormat: "openai", stream: false, tools: [] },
        ...env,
      });
    case 2:
      return callToolRequest({ principal: user, tool: `t${t}/tool${Math.floor(rand() * TOOLS_PER_TENANT)}`, origin: "caller", classification: { ...classification, categories: [`c${i}`] }, ...env });
    case 3:
      return readDocumentRequest({ principal: user, document: `t${t}/d${Math.floor(rand() * DOCS_PER_TENANT)}`, ...env, geo: { country: `X${i}`, continent: "EU" } });
    default:
      return tenantActionRequest(i % 2 === 0 ? "read_audit" : "administer", { principal: user, tenant: `t${t}`, ...env, geo: { country: `X${i}`, continent: "EU" } });
  }
}

// ---- measurement ----------------------------------------------------------------------------
interface Stats {
  n: number;
  p50: number;
  p99: number;
  mean: number;
  /** Process CPU time per decision (user + system), in ms: less sensitive to other load than wall time. */
  cpu: number;
  /** Share of the measured decisions the JS evaluator answered. */
  js: number;
}

function measure(n: number, warmup: number, run: (i: number) => unknown): Stats {
  const requests = Array.from({ length: n + warmup }, (_, i) => i);
  for (let i = 0; i < warmup; i++) run(requests[i]! + 1_000_000);
  const times: number[] = [];
  const answered = evaluatorCounts.answered;
  const cpu = process.cpuUsage();
  for (let i = 0; i < n; i++) {
    const start = process.hrtime.bigint();
    run(i);
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  const used = process.cpuUsage(cpu);
  times.sort((a, b) => a - b);
  const q = (p: number) => times[Math.min(times.length - 1, Math.floor(p * times.length))]!;
  return { n, p50: q(0.5), p99: q(0.99), mean: times.reduce((a, b) => a + b, 0) / n, cpu: (used.user + used.system) / 1000 / n, js: (evaluatorCounts.answered - answered) / n };
}

const fmt = (ms: number) => (ms < 1 ? `${(ms * 1000).toFixed(0)} µs` : `${ms.toFixed(2)} ms`);

export function runPolicyBench(iterations = Number(process.env.POLICY_BENCH_N ?? 5000)): string {
  const { entities, policies } = world();
  const bundle = { schema, policies };
  const t0 = process.hrtime.bigint();
  const pdp = compilePolicy(bundle, entities);
  const compileMs = Number(process.hrtime.bigint() - t0) / 1e6;

  // The same compiled state, for the variants (decideWith is what pdp.decide calls, minus the memo).
  const checked = readBundle(bundle);
  const store = EntityStore.from(entities);
  const compiled = compile(checked, bundleVersion(checked), store, entitiesVersionOf(store), { requirePolicyIds: true });
  const mode = (slicePolicies: boolean, validateRequest: boolean): DecideMode => ({ slicePolicies, validateRequest });
  const load = () => (process.platform === "linux" ? readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(", ") : "n/a");
  const loadBefore = load();

  // Pre-generate so request building is not measured.
  const reqs = Array.from({ length: iterations }, (_, i) => request(i));
  const warm = Array.from({ length: 500 }, (_, i) => request(iterations + i));
  const rows: [string, Stats][] = [];
  const bench = (label: string, decide: (r: AuthzRequest) => unknown, n = iterations) => {
    rows.push([label, measure(n, Math.min(500, n), (i) => decide(i >= 1_000_000 ? warm[(i - 1_000_000) % warm.length]! : reqs[i]!))]);
  };
  bench("**gateway PDP** (`pdp.decide`: sliced, JS evaluator, cedar-wasm fallback, memo missed), fresh isolate", (r) => pdp.decide(r));
  // A configuration swap in a warm isolate: a new bundle version (one comment more) gets a new PDP, so
  // every slice key and the memo are met for the first time again, while the code is already compiled
  // by V8. The first row's tail is V8 warming up on the first decisions a process ever makes.
  const swapped = compilePolicy({ schema, policies: `${policies}\n// configuration swap` }, entities);
  bench("gateway PDP after a configuration swap (new slices and memo; code already warm)", (r) => swapped.decide(r));
  // The same requests again: every slice is known (the isolate's steady state).
  bench("gateway path (`decideWith`, gateway mode), every slice already met", (r) => decideWith(compiled, r));
  // The JS evaluator's oracle: the same path with every decision taken by cedar-wasm (trimmed inputs).
  // This row meets each slice first, so its p99 holds the slices' preparses, as before the evaluator.
  bench("gateway path forced to cedar-wasm (sliced, trimmed inputs), slices preparsed on first meeting", (r) => decideWith(compiled, r, CEDAR_MODE));
  bench("gateway path forced to cedar-wasm, every slice already preparsed", (r) => decideWith(compiled, r, CEDAR_MODE));
  bench("sliced, full inputs (schema-parsed context and entities), validation on", (r) => decideWith(compiled, r, mode(true, true)));
  bench("sliced, request validation off", (r) => decideWith(compiled, r, mode(true, false)));
  bench("unsliced (whole set preparsed), validation on", (r) => decideWith(compiled, r, mode(false, true)));
  bench("unsliced, validation off", (r) => decideWith(compiled, r, mode(false, false)));

  // After the gateway row, which must meet its slices for the first time as a fresh isolate would.
  let allows = 0;
  for (const r of reqs) if (decideWith(compiled, r).effect === "allow") allows++;

  const cedar = cedarEngine();
  const naiveN = Math.max(20, Math.floor(iterations / 100));
  bench(
    "naive: `isAuthorized`, whole policy text + all entities, per request",
    (r) =>
      cedar.isAuthorized({
        principal: r.principal,
        action: actionRef(r.action),
        resource: r.resource,
        context: r.context as never,
        policies: { staticPolicies: policies },
        entities: entities as never,
        schema,
        validateRequest: true,
      }),
    naiveN,
  );

  const sizes = new Map<string, number>();
  for (const r of reqs.slice(0, 200)) sizes.set(actionRef(r.action).id, compiled.slicer.sliceFor(r.action, r.principal.type, r.resource.type).size);
  const sliceSizes = [...sizes].map(([a, s]) => `${a} ${s}`).join(", ");
  // The gateway's slices, by request (principal and resource UIDs, ancestors, tenant guards).
  const perRequest = new Map<string, number[]>();
  const distinctSlices = new Set<string>();
  for (const r of reqs) {
    const action = actionRef(r.action).id;
    const slice = compiled.slicer.sliceOf({ action: r.action, principal: r.principal, resource: r.resource, asserted: [] });
    perRequest.set(action, [...(perRequest.get(action) ?? []), slice.size]);
    distinctSlices.add(slice.ids.join("\n"));
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const requestSliceSizes = [...perRequest].map(([a, xs]) => `${a} ${median(xs)}`).join(", ");
  const entitySlice = reqs.slice(0, 200).map((r) => decideWith(compiled, r).entitySlice.length);

  const lines = [
    "## Policy decision point",
    "",
    `World: ${entities.length.toLocaleString("en")} entities (${TENANTS} tenants, ${TENANTS * USERS_PER_TENANT} users, ${TENANTS * DOCS_PER_TENANT} documents, …), ` +
      `${compiled.slicer.whole.size} policies (the seeded ones plus per-tenant and per-backend policies over all five actions). ` +
      `${iterations.toLocaleString("en")} distinct requests (${((100 * allows) / iterations).toFixed(0)} % allowed), after 500 warm-up decisions; Node ${process.version}, one thread.`,
    "",
    `Compile (\`compilePolicy\`: parse, strict validation, entity check against the schema, preparse, scope index): **${fmt(compileMs)}**.`,
    `Policies per request shape (action and types only, the slicing before): ${sliceSizes} (of ${compiled.slicer.whole.size}).`,
    `Policies per decision (the gateway's slicing by UIDs, ancestors and tenant guards), median: ${requestSliceSizes}; ${distinctSlices.size} distinct slices (on the cedar-wasm path each is preparsed once, when first met; the JS evaluator needs no preparse). Entities per decision: median ${entitySlice.sort((a, b) => a - b)[100]}.`,
    `Load average (1, 5, 15 min) before the run: ${loadBefore}; after: ${load()} (${cpus().length} cores).`,
    "",
    "| path | n | p50 | p99 | mean | CPU / decision | answered in JS |",
    "|---|---:|---:|---:|---:|---:|---:|",
    ...rows.map(([label, s]) => `| ${label} | ${s.n.toLocaleString("en")} | ${fmt(s.p50)} | ${fmt(s.p99)} | ${fmt(s.mean)} | ${fmt(s.cpu)} | ${(100 * s.js).toFixed(1)} % |`),
    "",
    "Target (issue 4): ≤ 0.1 ms p50 and ≤ 0.3 ms p99 per decision inside the gateway.",
    "",
  ];
  return lines.join("\n");
}

/** Hand-written notes from this heading on in POLICY.md (reading the figures, earlier runs) are kept. */
const KEPT = "\n## Notes";

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const report = runPolicyBench();
  const path = fileURLToPath(new URL("POLICY.md", import.meta.url));
  let kept = "";
  try {
    const previous = readFileSync(path, "utf8");
    if (previous.includes(KEPT)) kept = previous.slice(previous.indexOf(KEPT));
  } catch {
    // no previous report
  }
  writeFileSync(path, `# Policy benchmark\n\n${report}${kept}`);
  console.log(report);
}
