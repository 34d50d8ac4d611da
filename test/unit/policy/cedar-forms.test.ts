/**
 * Cedar's general request and entity forms, which the gateway's own translator never produces but
 * the PDP accepts as Cedar does (Cedar's integration corpus uses them): an action as a full reference
 * with a namespaced type or an empty id, and entities with `tags`. The gateway's own form (an action
 * id of type `Action`) stays strict: an empty id string is still an invalid request.
 */
import { describe, expect, it } from "vitest";
import { REASON, compilePolicy, type AuthzRequest, type EntityJson } from "../../../worker/policy/index.ts";
import { compile, entitiesVersionOf } from "../../../worker/policy/compile.ts";
import { decideWith } from "../../../worker/policy/decide.ts";
import { EntityStore } from "../../../worker/policy/slice.ts";

const namespaced = {
  schema: `namespace A {
    entity U = { level: Long } tags Long;
    action "" appliesTo { principal: U, resource: U };
    action "read" in ["all"] appliesTo { principal: U, resource: U };
    action "all";
  }
  namespace B { action "read" appliesTo { principal: V, resource: V }; }
  entity V;
  action "view" appliesTo { principal: V, resource: V };`,
  policies: `
    permit (principal, action == A::Action::"", resource) when { principal.level > 0 };
    permit (principal, action in A::Action::"all", resource is A::U) when { resource.hasTag("k") && resource.getTag("k") == 7 };
    permit (principal, action == B::Action::"read", resource);
    forbid (principal, action == A::Action::"read", resource) when { principal.level > 5 };
    permit (principal, action == Action::"view", resource);`,
};

const entities: EntityJson[] = [
  { uid: { type: "A::U", id: "u" }, attrs: { level: 1 }, parents: [] },
  { uid: { type: "A::U", id: "tagged" }, attrs: { level: 0 }, parents: [], tags: { k: 7 } },
  { uid: { type: "A::U", id: "high" }, attrs: { level: 9 }, parents: [] },
  { uid: { type: "V", id: "v" }, attrs: {}, parents: [] },
];

const u = (id: string) => ({ type: "A::U", id });
const ask = (action: AuthzRequest["action"], principal: { type: string; id: string }, resource: { type: string; id: string }): AuthzRequest => ({
  principal,
  action,
  resource,
  context: {},
});

describe("Cedar's general forms", () => {
  const pdp = compilePolicy(namespaced, entities, { requirePolicyIds: false });

  it("decides namespaced actions given as full references, each apart from the other namespaces'", () => {
    const v = { type: "V", id: "v" };
    expect(pdp.decide(ask({ type: "A::Action", id: "read" }, u("u"), u("tagged")))).toMatchObject({ effect: "allow", reasons: ["policy1"] });
    expect(pdp.decide(ask({ type: "A::Action", id: "read" }, u("high"), u("tagged")))).toMatchObject({ effect: "deny", reasons: ["policy3"] });
    expect(pdp.decide(ask({ type: "B::Action", id: "read" }, v, v))).toMatchObject({ effect: "allow", reasons: ["policy2"] });
    // The gateway's id form means `Action::"…"`: "view" is declared, "read" is not (Cedar refuses it).
    expect(pdp.decide(ask("view", v, v))).toMatchObject({ effect: "allow", reasons: ["policy4"] });
    expect(pdp.decide(ask({ type: "Action", id: "view" }, v, v))).toMatchObject({ effect: "allow", reasons: ["policy4"] });
    expect(pdp.decide(ask("read", v, v))).toMatchObject({ effect: "deny", reasons: [REASON.evaluationError] });
  });

  it("decides an empty action id in the full form, and still refuses it in the gateway's id form", () => {
    expect(pdp.decide(ask({ type: "A::Action", id: "" }, u("u"), u("u")))).toMatchObject({ effect: "allow", reasons: ["policy0"] });
    expect(pdp.decide(ask("", u("u"), u("u")))).toMatchObject({ effect: "deny", reasons: [REASON.invalidRequest], errors: ["action must be a non-empty string"] });
    expect(pdp.decide(ask({ type: "A::Action" } as never, u("u"), u("u")))).toMatchObject({ effect: "deny", reasons: [REASON.invalidRequest] });
  });

  it("reads entity tags, hands them to Cedar in the slice and hashes them", () => {
    expect(pdp.decide(ask({ type: "A::Action", id: "read" }, u("u"), u("u")))).toMatchObject({ effect: "deny", reasons: [REASON.noPermit] });
    const d = pdp.decide(ask({ type: "A::Action", id: "read" }, u("u"), u("tagged")));
    expect(d.entitySlice.find((e) => e.uid.id === "tagged")?.tags).toEqual({ k: 7 });
    const retagged = entities.map((e) => (e.uid.id === "tagged" ? { ...e, tags: { k: 8 } } : e));
    expect(entitiesVersionOf(EntityStore.from(retagged))).not.toBe(entitiesVersionOf(EntityStore.from(entities)));
    expect(compilePolicy(namespaced, retagged, { requirePolicyIds: false }).decide(ask({ type: "A::Action", id: "read" }, u("u"), u("tagged"))).effect).toBe("deny");
  });

  it("follows entity references inside tags into the slice", () => {
    const store = EntityStore.from([
      { uid: { type: "T", id: "a" }, attrs: {}, parents: [], tags: { next: { __entity: { type: "T", id: "b" } } } },
      { uid: { type: "T", id: "b" }, attrs: {}, parents: [] },
    ]);
    expect(store.slice([{ type: "T", id: "a" }]).map((e) => e.uid.id)).toEqual(["a", "b"]);
  });

  it("refuses malformed tags", () => {
    expect(() => EntityStore.from([{ uid: { type: "T", id: "a" }, attrs: {}, parents: [], tags: [1] }])).toThrow(/tags must be an object/);
  });

  it("slicing keeps the same decisions as the whole set for every action form", () => {
    const compiled = compile(
      { schema: namespaced.schema, policies: namespaced.policies },
      "test",
      EntityStore.from(entities),
      "test",
      { requirePolicyIds: false },
    );
    const actions: AuthzRequest["action"][] = [
      { type: "A::Action", id: "" },
      { type: "A::Action", id: "read" },
      { type: "A::Action", id: "all" },
      { type: "B::Action", id: "read" },
      "view",
      { type: "Action", id: "view" },
      "read",
    ];
    let shrunk = 0;
    for (const action of actions) {
      for (const p of [u("u"), u("high"), u("tagged"), { type: "V", id: "v" }]) {
        for (const r of [u("u"), u("tagged"), { type: "V", id: "v" }]) {
          const sliced = decideWith(compiled, ask(action, p, r), { slicePolicies: true, validateRequest: false });
          const whole = decideWith(compiled, ask(action, p, r), { slicePolicies: false, validateRequest: false });
          expect([sliced.effect, sliced.reasons, sliced.errors], JSON.stringify([action, p, r])).toEqual([whole.effect, whole.reasons, whole.errors]);
          if (compiled.slicer.sliceFor(action, p.type, r.type).size < compiled.slicer.whole.size) shrunk++;
        }
      }
    }
    expect(shrunk).toBeGreaterThan(0);
    // A::Action::"read" is in A::Action::"all": policy1 (`in A::Action::"all"`) is kept, B's and the root's are not.
    expect(compiled.slicer.sliceFor({ type: "A::Action", id: "read" }, "A::U", "A::U").size).toBe(2);
  });
});
