/**
 * Policy slicing never changes a decision (issue 4, item 4). fast-check generates policy sets
 * (scopes with ==, in, is, is…in on users, groups, tenants and unknown UIDs, action == / in [..],
 * when/unless conditions — among them tenant tests such as `principal.tenant == Tenant::"acme"` in
 * the leading position the slicer decides, and in positions it must not — and obligations) and
 * requests (known, unknown and mismatched principals, actions and resources; asserted groups, known
 * and unknown; contexts that fit the action, fit another action, or are broken), and every request
 * is decided twice through the same
 * `decideWith`: with the sliced policy set (the gateway's mode) and with the whole set. Effect,
 * reasons, errors and obligations must be identical. Both with Cedar's request validation (as the
 * gateway runs) and without it, so that mismatched types also reach evaluation.
 *
 * Two worlds: the seeded one (policies/schema.cedarschema, kv-seeds entities) and a small
 * "hierarchy" world with action groups and deep, multi-type membership, where `in` matters most.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import "../../../worker/policy/index.ts"; // provides the Workers cedar-wasm engine
import { bundleVersion, compile, entitiesVersionOf, readBundle, type CompiledPolicy } from "../../../worker/policy/compile.ts";
import { decideWith, GATEWAY_MODE, type DecideMode } from "../../../worker/policy/decide.ts";
import { PolicyValidationError, type AuthzRequest, type CedarValue, type EntityJson, type EntityRef } from "../../../worker/policy/index.ts";
import { EntityStore } from "../../../worker/policy/slice.ts";
import { schemaText, seededBundle, seededEntities } from "./world.ts";

const UNSLICED: DecideMode = { slicePolicies: false, validateRequest: true };
const SLICED_NO_VALIDATION: DecideMode = { slicePolicies: true, validateRequest: false };
const UNSLICED_NO_VALIDATION: DecideMode = { slicePolicies: false, validateRequest: false };

function compileDirect(bundle: { schema: string; policies: string }, entities: EntityJson[]): CompiledPolicy {
  const checked = readBundle(bundle);
  const store = EntityStore.from(entities);
  return compile(checked, bundleVersion(checked), store, entitiesVersionOf(store), { requirePolicyIds: true });
}

/**
 * Compiles generated policies, dropping those strict validation refuses (a generated scope such as
 * `principal is Backend` on invoke_model is a type error); what is left is a set Cedar accepts.
 */
function compileGenerated(schema: string, policies: Map<string, string>, entities: EntityJson[]): CompiledPolicy | undefined {
  for (let round = 0; round < 50 && policies.size > 0; round++) {
    try {
      return compileDirect({ schema, policies: [...policies.values()].join("\n") }, entities);
    } catch (error) {
      if (!(error instanceof PolicyValidationError)) throw error;
      const bad = new Set(error.details.map((d) => d.slice(0, d.indexOf(":"))));
      const before = policies.size;
      for (const id of bad) policies.delete(id);
      if (policies.size === before) throw error;
    }
  }
  return undefined;
}

const comparable = (d: ReturnType<typeof decideWith>) => ({ effect: d.effect, reasons: d.reasons, errors: d.errors, obligations: d.obligations });

/** Coverage: the property is only as good as the cases where slicing actually drops something. */
const seen = { decisions: 0, shrunk: 0, finer: 0, allowed: 0, errored: 0 };

/** The gateway's slice for `request` (as `decideWith` computes it), for coverage counts. */
function sliceSize(compiled: CompiledPolicy, request: AuthzRequest): number {
  const asserted = (request.principalGroups ?? []).filter((group) => compiled.store.has(group));
  return compiled.slicer.sliceOf({ action: request.action, principal: request.principal, resource: request.resource, asserted }).size;
}

function expectSame(compiled: CompiledPolicy, request: AuthzRequest): void {
  seen.decisions++;
  const size = sliceSize(compiled, request);
  if (size < compiled.slicer.whole.size) seen.shrunk++;
  // Finer than the request's shape: UIDs, ancestors and tenant guards dropped more.
  if (size < compiled.slicer.sliceFor(request.action, request.principal.type, request.resource.type).size) seen.finer++;
  const sliced = decideWith(compiled, request, GATEWAY_MODE);
  const whole = decideWith(compiled, request, UNSLICED);
  expect(comparable(sliced), JSON.stringify(request)).toEqual(comparable(whole));
  if (sliced.effect === "allow") seen.allowed++;
  if (sliced.errors.length > 0) seen.errored++;
  const slicedRaw = decideWith(compiled, request, SLICED_NO_VALIDATION);
  const wholeRaw = decideWith(compiled, request, UNSLICED_NO_VALIDATION);
  expect(comparable(slicedRaw), `no validation: ${JSON.stringify(request)}`).toEqual(comparable(wholeRaw));
}

const lit = (ref: EntityRef) => `${ref.type}::${JSON.stringify(ref.id)}`;

// ---- generic policy generator over a world description ----------------------------------------

interface World {
  schema: string;
  entities: EntityJson[];
  actions: string[];
  /** Entity references policies and requests draw from, unknown ones included. */
  refs: EntityRef[];
  types: string[];
  conditions: string[];
  /** Groups a credential may assert (known and unknown); requests sometimes carry some. */
  groups: EntityRef[];
  /** Entities that have members (groups, tenants, folders…): `in` targets that slicing by UID decides. */
  containers: EntityRef[];
  /** The schema's appliesTo, to generate mostly well-typed requests. */
  appliesTo: Record<string, { principal: string[]; resource: string[] }>;
  contexts: (action: string) => fc.Arbitrary<Record<string, CedarValue>>;
}

function scopeArb(world: World, variable: "principal" | "resource"): fc.Arbitrary<string> {
  const ref = fc.constantFrom(...world.refs);
  const type = fc.constantFrom(...world.types);
  const container = fc.constantFrom(...world.containers);
  return fc.oneof(
    fc.constant(variable),
    ref.map((r) => `${variable} == ${lit(r)}`),
    ref.map((r) => `${variable} in ${lit(r)}`),
    type.map((t) => `${variable} is ${t}`),
    fc.tuple(type, ref).map(([t, r]) => `${variable} is ${t} in ${lit(r)}`),
    container.map((c) => `${variable} in ${lit(c)}`),
    fc.tuple(type, container).map(([t, c]) => `${variable} is ${t} in ${lit(c)}`),
  );
}

function actionScopeArb(world: World): fc.Arbitrary<string> {
  const action = fc.constantFrom(...world.actions);
  return fc.oneof(
    fc.constant("action"),
    action.map((a) => `action == Action::${JSON.stringify(a)}`),
    action.map((a) => `action in Action::${JSON.stringify(a)}`),
    fc.uniqueArray(action, { minLength: 1, maxLength: 3 }).map((as) => `action in [${as.map((a) => `Action::${JSON.stringify(a)}`).join(", ")}]`),
  );
}

function policiesArb(world: World): fc.Arbitrary<Map<string, string>> {
  const policy = fc.record({
    effect: fc.constantFrom("permit", "permit", "forbid"),
    principal: scopeArb(world, "principal"),
    action: actionScopeArb(world),
    resource: scopeArb(world, "resource"),
    clauses: fc.array(fc.tuple(fc.constantFrom("when", "unless"), fc.constantFrom(...world.conditions)), { maxLength: 2 }),
    obligation: fc.option(fc.constantFrom("redact:PII", "max_tokens:100", "step_up:acr=urn:x"), { nil: undefined }),
  });
  return fc.array(policy, { minLength: 1, maxLength: 24 }).map((list) => {
    const out = new Map<string, string>();
    list.forEach((p, i) => {
      const id = `p${i}`;
      const annotations = `@id("${id}")${p.obligation === undefined ? "" : ` @obligation("${p.obligation}")`}`;
      const clauses = p.clauses.map(([kind, body]) => ` ${kind} { ${body} }`).join("");
      out.set(id, `${annotations} ${p.effect} (${p.principal}, ${p.action}, ${p.resource})${clauses};`);
    });
    return out;
  });
}

function requestArb(world: World): fc.Arbitrary<AuthzRequest> {
  const ofTypes = (types: string[]) => world.refs.filter((r) => types.includes(r.type));
  const wellTyped = fc
    .constantFrom(...Object.keys(world.appliesTo))
    .chain((action) =>
      fc.record({
        principal: fc.constantFrom(...ofTypes(world.appliesTo[action]!.principal)),
        action: fc.constant(action),
        resource: fc.constantFrom(...ofTypes(world.appliesTo[action]!.resource)),
        context: world.contexts(action),
      }),
    );
  const anything = fc
    .record({
      principal: fc.constantFrom(...world.refs),
      action: fc.constantFrom(...world.actions, "launch_missiles"),
      resource: fc.constantFrom(...world.refs),
      contextAction: fc.constantFrom(...world.actions),
      sameAction: fc.boolean(),
    })
    .chain((r) =>
      world.contexts(r.sameAction ? r.action : r.contextAction).map((context) => ({ principal: r.principal, action: r.action, resource: r.resource, context })),
    );
  const asserted = fc.option(fc.subarray(world.groups, { maxLength: Math.min(2, world.groups.length) }), { nil: undefined, freq: 3 });
  return fc
    .tuple(fc.oneof({ arbitrary: wellTyped, weight: 3 }, { arbitrary: anything, weight: 1 }), asserted)
    .map(([request, principalGroups]): AuthzRequest => (principalGroups === undefined ? request : { ...request, principalGroups }));
}

function runWorld(world: World, runs: number, requestsPerSet: number) {
  const before = { ...seen };
  fc.assert(
    fc.property(policiesArb(world), fc.array(requestArb(world), { minLength: requestsPerSet, maxLength: requestsPerSet }), (policies, requests) => {
      const compiled = compileGenerated(world.schema, policies, world.entities);
      if (compiled === undefined) return;
      for (const request of requests) expectSame(compiled, request);
    }),
    { numRuns: runs, seed: Number(process.env.FC_SEED ?? 4242) },
  );
  const decisions = seen.decisions - before.decisions;
  // Not vacuous: most policy sets survive validation, slicing drops policies for many requests, and
  // allows and evaluation errors both occur.
  expect(decisions).toBeGreaterThan(runs * requestsPerSet * 0.5);
  expect(seen.shrunk - before.shrunk).toBeGreaterThan(decisions * 0.3);
  expect(seen.finer - before.finer).toBeGreaterThan(decisions * 0.05);
  expect(seen.allowed - before.allowed).toBeGreaterThan(0);
  expect(seen.errored - before.errored).toBeGreaterThan(0);
  console.log(
    `slicing property: ${decisions} decisions ×4 modes, ${seen.shrunk - before.shrunk} with a smaller slice, ${seen.finer - before.finer} smaller than by shape, ${seen.allowed - before.allowed} allowed, ${seen.errored - before.errored} with errors`,
  );
}

// ---- the seeded world -------------------------------------------------------------------------

const seededRefs: EntityRef[] = [
  ...seededEntities().map((e) => e.uid),
  { type: "User", id: "eve" }, // unknown
  { type: "Backend", id: "eu-shadow" }, // unknown resource: attribute reads err
  { type: "Document", id: "acme/missing" },
  { type: "Tool", id: "ghost" },
  { type: "Tenant", id: "initech" },
  { type: "Group", id: "nobody" },
  { type: "Planet", id: "mars" }, // a type the schema does not have
];

const classification = fc.record({ level: fc.constantFrom(0, 1, 2, 3), categories: fc.subarray(["pii", "secret", "pci"]) });
const environment = {
  authn: fc.record({
    method: fc.constantFrom("oidc", "mtls"),
    mfa: fc.boolean(),
    acr: fc.constantFrom("", "urn:verity:acr:mfa"),
    binding: fc.constantFrom("none", "dpop", "mtls"),
    authAge: fc.integer({ min: 0, max: 100_000 }),
  }),
  risk: fc.constantFrom("low", "medium", "high"),
  geo: fc.record({ country: fc.constantFrom("DE", "US", ""), continent: fc.constantFrom("EU", "NA", "") }),
};

function seededContext(action: string): fc.Arbitrary<Record<string, CedarValue>> {
  const base =
    action === "invoke_model"
      ? fc.record({
          model: fc.constantFrom("gpt-4o-mini", "claude-sonnet-4-5"),
          classification,
          request: fc.record({ wireFormat: fc.constantFrom("openai", "anthropic"), stream: fc.boolean(), tools: fc.subarray(["send_email", "search_documents"]) }),
          ...environment,
        })
      : action === "call_tool"
        ? fc.record({ origin: fc.constantFrom("caller", "model"), classification, ...environment })
        : fc.record(environment);
  // Sometimes broken: a field missing or of the wrong type (strict validation refuses it).
  return fc.tuple(base, fc.constantFrom("ok", "ok", "ok", "ok", "ok", "ok", "drop", "wrong")).map(([context, how]) => {
    const c = { ...context } as Record<string, CedarValue>;
    if (how === "drop") delete c.geo;
    if (how === "wrong") c.risk = 3;
    return c;
  });
}

const seededWorld: World = {
  schema: schemaText,
  entities: seededEntities(),
  actions: ["invoke_model", "call_tool", "read_document", "read_audit", "administer"],
  refs: seededRefs,
  groups: [...seededRefs.filter((r) => r.type === "Group"), { type: "Group", id: "acme/admins" }],
  containers: seededRefs.filter((r) => r.type === "Group" || r.type === "Tenant"),
  types: ["User", "Workload", "Group", "Tenant", "Backend", "Tool", "Document"],
  conditions: [
    `context.risk == "high"`,
    `context.authn.mfa`,
    `context.geo.country == "DE"`,
    `principal.tenant == Tenant::"acme"`,
    // Tenant tests in the leading position (the slicer decides them from the store) and behind
    // something that may err first (it must not): on principals and resources with and without the
    // attribute, known and unknown tenants, either side of ==.
    `principal.tenant == Tenant::"globex" && context.authn.mfa`,
    `Tenant::"acme" == resource.tenant && resource.level >= 1`,
    `resource.tenant == Tenant::"initech"`,
    `resource.tenant == principal.tenant && principal.tenant == Tenant::"acme"`,
    `context.classification.level * 9223372036854775807 > 0 && principal.tenant == Tenant::"globex"`,
    `resource.region == "eu" && resource.tenant == Tenant::"acme"`,
    `principal in Group::"auditors"`,
    `principal in Tenant::"globex"`,
    `resource in Tenant::"acme"`,
    `principal is User && principal.kind == "contractor"`,
    `resource is Backend && resource.region == principal.tenant.residency`,
    `resource is Document && resource.tenant == principal.tenant && resource.level <= 2`,
    `resource is Tool && resource.requiresMfa`,
    `resource.region == "eu"`,
    `resource.tenant == principal.tenant`,
    `context.classification.level >= 2`,
    `context has classification && context.classification.level * 9223372036854775807 * 9223372036854775807 > 0`, // errs unless level 0
    `Tenant::"acme".residency == "eu"`,
    `Document::"acme/roadmap".level > 0`,
    `Tenant::"initech".residency == "eu"`, // reads an entity that does not exist: errs
  ],
  appliesTo: {
    invoke_model: { principal: ["User", "Workload"], resource: ["Backend"] },
    call_tool: { principal: ["User", "Workload"], resource: ["Tool"] },
    read_document: { principal: ["User", "Workload"], resource: ["Document"] },
    read_audit: { principal: ["User"], resource: ["Tenant"] },
    administer: { principal: ["User"], resource: ["Tenant"] },
  },
  contexts: seededContext,
};

describe("slicing by UIDs, ancestors and tenant guards", () => {
  const policies = [
    `@id("acme-members") permit (principal in Group::"acme/members", action == Action::"invoke_model", resource is Backend);`,
    `@id("globex-members") permit (principal in Group::"globex/members", action == Action::"invoke_model", resource is Backend);`,
    `@id("acme-tenant") permit (principal in Tenant::"acme", action == Action::"invoke_model", resource);`,
    `@id("alice") permit (principal == User::"alice", action == Action::"invoke_model", resource);`,
    `@id("carol") permit (principal == User::"carol", action == Action::"invoke_model", resource);`,
    `@id("auditors") permit (principal in Group::"auditors", action == Action::"invoke_model", resource);`,
    `@id("globex-guard") forbid (principal, action == Action::"invoke_model", resource) when { principal.tenant == Tenant::"globex" && context.authn.mfa };`,
    `@id("globex-late") forbid (principal, action == Action::"invoke_model", resource) when { context.authn.mfa && principal.tenant == Tenant::"globex" };`,
    `@id("eu-backend") forbid (principal, action == Action::"invoke_model", resource == Backend::"eu-public") when { context.risk == "low" };`,
  ].join("\n");
  const compiled = compileDirect({ schema: schemaText, policies }, seededEntities());
  const slice = (principal: string, groups: string[] = []) =>
    compiled.slicer.sliceOf({
      action: "invoke_model",
      principal: { type: "User", id: principal },
      resource: { type: "Backend", id: "eu-public" },
      asserted: groups.map((id) => ({ type: "Group", id })),
    });
  it("keeps only what the principal's UID and ancestors can match, and drops a failing leading guard", () => {
    // alice: acme/members → acme. Kept: acme-members, acme-tenant, alice, globex-late (its guard is not
    // leading), eu-backend (a resource's own UID is not part of the key). Dropped: globex-members,
    // carol, auditors, globex-guard (alice.tenant is acme).
    expect(slice("alice").size).toBe(5);
    // An asserted group joins the ancestors: auditors is kept.
    expect(slice("alice", ["auditors"]).size).toBe(6);
    // carol (globex): globex-members, carol, both globex forbids, eu-backend.
    expect(slice("carol").size).toBe(5);
    // The shape alone keeps all nine.
    expect(compiled.slicer.sliceFor("invoke_model", "User", "Backend").size).toBe(9);
  });
  it("equal candidate sets share one preparsed set, and a key seen before is not recomputed", () => {
    expect(slice("alice").policySetId).toBe(slice("alice").policySetId);
    // dave has alice's ancestry but is not named by a policy: the same slice minus `alice`.
    expect(slice("dave").size).toBe(4);
    expect(slice("dave").policySetId).toBe(slice("erin").policySetId);
  });
});

describe("slicing never changes a decision: the seeded world", () => {
  it("the seeded bundle: 1,500 generated requests, sliced vs whole", { timeout: 300_000 }, () => {
    const compiled = compileDirect(seededBundle(), seededEntities());
    fc.assert(
      fc.property(requestArb(seededWorld), (request) => expectSame(compiled, request)),
      { numRuns: 1500, seed: 1 },
    );
  });
  // Every request of a generated set usually has a slice of its own, i.e. a preparse: slow on a busy machine.
  it("generated policy sets (≤ 24 policies) × 20 generated requests each, 100 sets", () => {
    runWorld(seededWorld, 100, 20);
  }, 600_000);
});

// ---- the hierarchy world ---------------------------------------------------------------------

const hierarchySchema = `
entity Org;
entity Team in [Team, Org];
entity Person in [Team];
entity Bot;
entity Folder in [Folder, Org];
entity File in [Folder] = { owner: Person, secret: Bool };
entity Drive in [Org];
action any;
action mutate in [any];
action read in [any] appliesTo { principal: [Person, Bot], resource: [File, Folder], context: { mfa: Bool } };
action write in [mutate] appliesTo { principal: [Person], resource: [File], context: { mfa: Bool } };
action purge in [mutate, any] appliesTo { principal: [Person, Bot], resource: [Drive, Folder], context: { mfa: Bool } };
`;
const e = (type: string, id: string, parents: EntityRef[] = [], attrs: Record<string, unknown> = {}): EntityJson => ({ uid: { type, id }, attrs, parents });
const hierarchyEntities: EntityJson[] = [
  e("Org", "o"),
  e("Team", "t1", [{ type: "Org", id: "o" }]),
  e("Team", "t2", [{ type: "Team", id: "t1" }]),
  e("Person", "ann", [{ type: "Team", id: "t2" }]),
  e("Person", "ben", []),
  e("Bot", "b"),
  e("Folder", "root", [{ type: "Org", id: "o" }]),
  e("Folder", "sub", [{ type: "Folder", id: "root" }]),
  e("File", "f1", [{ type: "Folder", id: "sub" }], { owner: { __entity: { type: "Person", id: "ann" } }, secret: false }),
  e("File", "f2", [], { owner: { __entity: { type: "Person", id: "ben" } }, secret: true }),
  e("Drive", "d", [{ type: "Org", id: "o" }]),
];
const hierarchyWorld: World = {
  schema: hierarchySchema,
  entities: hierarchyEntities,
  actions: ["any", "mutate", "read", "write", "purge"],
  refs: [...hierarchyEntities.map((x) => x.uid), { type: "Person", id: "zed" }, { type: "File", id: "gone" }, { type: "Folder", id: "gone" }],
  groups: [],
  containers: [...hierarchyEntities.map((x) => x.uid).filter((r) => ["Org", "Team", "Folder"].includes(r.type)), { type: "Folder", id: "gone" }],
  types: ["Org", "Team", "Person", "Bot", "Folder", "File", "Drive"],
  conditions: [
    `context.mfa`,
    `principal in Org::"o"`,
    `resource in Folder::"root"`,
    `resource is File && resource.secret`,
    `resource is File && resource.owner == principal`,
    `resource is File && resource.owner in Team::"t1"`,
    `File::"f2".secret`,
    `principal is Person && Team::"t2" in Team::"t1"`,
    `resource.owner == Person::"ann"`,
    `Person::"ben" == resource.owner && context.mfa`,
    `resource.secret == File::"f2"`, // a Bool attribute: never equal to an entity
  ],
  appliesTo: {
    read: { principal: ["Person", "Bot"], resource: ["File", "Folder"] },
    write: { principal: ["Person"], resource: ["File"] },
    purge: { principal: ["Person", "Bot"], resource: ["Drive", "Folder"] },
  },
  contexts: () =>
    fc.oneof({ arbitrary: fc.record({ mfa: fc.boolean() }) as fc.Arbitrary<Record<string, CedarValue>>, weight: 6 }, { arbitrary: fc.constantFrom<Record<string, CedarValue>>({}, { mfa: 1 }), weight: 1 }),
};

describe("slicing never changes a decision: action groups and deep membership", () => {
  it("generated policy sets × 20 generated requests each, 120 sets", () => {
    runWorld(hierarchyWorld, 120, 20);
  }, 600_000);
  it("slices actually shrink: a read by a Person keeps only what can match", () => {
    const policies = [
      `@id("read") permit (principal, action == Action::"read", resource);`,
      `@id("any-group") permit (principal, action in Action::"any", resource is Folder);`,
      `@id("mutate-group") permit (principal is Person, action in Action::"mutate", resource);`,
      `@id("team") permit (principal in Team::"t1", action, resource);`,
      `@id("org-folder") permit (principal, action, resource in Org::"o");`,
      `@id("bot-only") permit (principal is Bot, action, resource);`,
      `@id("drive") permit (principal, action, resource is Drive);`,
    ].join("\n");
    const compiled = compileDirect({ schema: hierarchySchema, policies }, hierarchyEntities);
    const ids = (a: string, p: string, r: string) => compiled.slicer.sliceFor(a, p, r);
    // read(Person, File): `any-group` needs a Folder, `mutate-group` a mutate action, `bot-only` a Bot, `drive` a Drive.
    expect(ids("read", "Person", "File").size).toBe(3);
    // purge is in both groups; a Drive can be in an Org; a Bot is in nothing.
    expect(ids("purge", "Person", "Drive").size).toBe(4);
    expect(ids("purge", "Bot", "Folder").size).toBe(3);
    // An unknown action or type keeps only what has no constraint it could fail.
    expect(ids("launch", "Planet", "Moon").size).toBe(0);
  });
});
