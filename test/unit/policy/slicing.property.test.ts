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
import type { CompiledPolicy } from "../../../worker/policy/compile.ts";
import { decideWith, GATEWAY_MODE, type DecideMode } from "../../../worker/policy/decide.ts";
import type { AuthzRequest } from "../../../worker/policy/index.ts";
import { compileDirect, compileGenerated, hierarchyEntities, hierarchySchema, hierarchyWorld, policiesArb, requestArb, seededWorld, type World } from "./arbitraries.ts";
import { schemaText, seededBundle, seededEntities } from "./world.ts";

const UNSLICED: DecideMode = { slicePolicies: false, validateRequest: true };
const SLICED_NO_VALIDATION: DecideMode = { slicePolicies: true, validateRequest: false };
const UNSLICED_NO_VALIDATION: DecideMode = { slicePolicies: false, validateRequest: false };

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
