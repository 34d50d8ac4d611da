/** The entity slice each decision is taken on, and that it is all a replay needs. */
import { describe, expect, it } from "vitest";
import { compilePolicy, type EntityJson } from "../../../worker/policy/index.ts";
import { EntityStore } from "../../../worker/policy/slice.ts";
import { chat, seededBundle, seededEntities, seededPdp, toolCall, user, withMfa } from "./world.ts";
import { tenantActionRequest } from "../../../worker/policy/index.ts";

const uids = (slice: EntityJson[]) => slice.map((e) => `${e.uid.type}::${e.uid.id}`).sort();

describe("entity slice", () => {
  const pdp = seededPdp();
  it("holds the principal, its groups and tenant, the resource, and the sliced policies' literals, nothing else", () => {
    const d = pdp.decide(chat(user("alice"), "eu-public"));
    // Group::"admins" and Group::"auditors" (literals of the admin.* and audit.* policies) are not
    // here: those policies are not in this request's policy slice, and a literal on the right of
    // `in` is never read anyway.
    expect(uids(d.entitySlice)).toEqual(["Backend::eu-public", "Group::acme/members", "Tenant::acme", "User::alice"]);
    const audit = pdp.decide(tenantActionRequest("read_audit", { principal: { type: "User", id: "alice" }, tenant: "acme", authn: withMfa, risk: "low", geo: { country: "", continent: "" } }));
    // `principal in Group::"auditors"` reads the principal's ancestors, never the group itself.
    expect(uids(audit.entitySlice)).toEqual(["Group::acme/members", "Tenant::acme", "User::alice"]);
  });
  it("follows a resource's references (Tool.tenant) and transitive parents", () => {
    const d = pdp.decide(toolCall(user("bob"), "send_email", { authn: withMfa }));
    expect(uids(d.entitySlice)).toEqual([
      "Group::acme/auditors",
      "Group::acme/members",
      "Group::auditors", // a parent of acme/auditors
      "Tenant::acme",
      "Tool::send_email",
      "User::bob",
    ]);
  });
  it("is small compared with the store", () => {
    expect(pdp.decide(chat(user("carol"), "us-public")).entitySlice.length).toBeLessThan(seededEntities().length / 3);
  });
  it("replays: the same request on the slice alone gives the same decision", () => {
    const requests = [
      chat(user("alice"), "eu-public"),
      chat(user("alice"), "us-public"),
      chat(user("mallory"), "eu-confidential"),
      toolCall(user("alice"), "send_email"),
      tenantActionRequest("read_audit", { principal: { type: "User", id: "bob" }, tenant: "acme", authn: withMfa, risk: "low", geo: { country: "", continent: "" } }),
    ];
    for (const request of requests) {
      const original = pdp.decide(request);
      const replay = compilePolicy(seededBundle(), original.entitySlice).decide(request);
      expect({ ...replay, entitiesVersion: "", entitySlice: [] }).toEqual({ ...original, entitiesVersion: "", entitySlice: [] });
    }
  });
  it("closure handles cycles and unknown references", () => {
    const store = EntityStore.from([
      { uid: { type: "G", id: "a" }, attrs: { next: { __entity: { type: "G", id: "b" } } }, parents: [] },
      { uid: { type: "G", id: "b" }, attrs: {}, parents: [{ type: "G", id: "a" }, { type: "G", id: "missing" }] },
      { uid: { type: "G", id: "c" }, attrs: {}, parents: [] },
    ]);
    expect(uids(store.slice([{ type: "G", id: "a" }]))).toEqual(["G::a", "G::b"]);
  });
});
