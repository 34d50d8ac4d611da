/**
 * Generators shared by the policy property tests (slicing.property.test.ts, evaluate.property.test.ts):
 * worlds (schema, entities, the references and conditions policies draw from), policy sets over a
 * world, and requests (mostly well-typed, some not; asserted groups); compiling generated sets.
 */
import fc from "fast-check";
import { bundleVersion, compile, entitiesVersionOf, readBundle, type CompiledPolicy } from "../../../worker/policy/compile.ts";
import { PolicyValidationError, type AuthzRequest, type CedarValue, type EntityJson, type EntityRef } from "../../../worker/policy/index.ts";
import { EntityStore } from "../../../worker/policy/slice.ts";
import { schemaText, seededEntities } from "./world.ts";

export const lit = (ref: EntityRef) => `${ref.type}::${JSON.stringify(ref.id)}`;

// ---- generic policy generator over a world description ----------------------------------------

export interface World {
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

/** Policy sets over `world`; conditions drawn from `world.conditions` unless `condition` is given. */
export function policiesArb(world: World, condition: fc.Arbitrary<string> = fc.constantFrom(...world.conditions)): fc.Arbitrary<Map<string, string>> {
  const policy = fc.record({
    effect: fc.constantFrom("permit", "permit", "forbid"),
    principal: scopeArb(world, "principal"),
    action: actionScopeArb(world),
    resource: scopeArb(world, "resource"),
    clauses: fc.array(fc.tuple(fc.constantFrom("when", "unless"), condition), { maxLength: 2 }),
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

export function requestArb(world: World): fc.Arbitrary<AuthzRequest> {
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

export const seededWorld: World = {
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

// ---- the hierarchy world ---------------------------------------------------------------------

export const hierarchySchema = `
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
export const hierarchyEntities: EntityJson[] = [
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
export const hierarchyWorld: World = {
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

export function compileDirect(bundle: { schema: string; policies: string }, entities: EntityJson[], validation: "strict" | "report" = "strict"): CompiledPolicy {
  const checked = readBundle(bundle);
  const store = EntityStore.from(entities);
  return compile(checked, bundleVersion(checked), store, entitiesVersionOf(store), { requirePolicyIds: true, validation });
}

/**
 * Compiles generated policies, dropping those strict validation refuses (a generated scope such as
 * `principal is Backend` on invoke_model is a type error); what is left is a set Cedar accepts.
 */
export function compileGenerated(schema: string, policies: Map<string, string>, entities: EntityJson[]): CompiledPolicy | undefined {
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
