import { describe, expect, it } from "vitest";
import { principalRef } from "../../worker/caller.ts";
import type { Principal } from "../../worker/context.ts";

const alice: Principal = {
  kind: "user",
  id: "alice",
  tenant: "acme",
  groups: [],
  attributes: {},
  authn: { method: "oidc", issuer: "https://idp.test", acr: "", amr: [], mfa: false, expiresAt: 0, binding: "none" },
};

describe("the principal as the PDP sees it", () => {
  it("is a User or Workload reference", () => {
    expect(principalRef(alice)).toEqual({ type: "User", id: "alice" });
    expect(principalRef({ ...alice, kind: "workload", id: "acme-batch" })).toEqual({ type: "Workload", id: "acme-batch" });
  });

  it("scopes asserted groups to the principal's tenant, so no issuer can name a global role or another tenant's group", () => {
    expect(principalRef({ ...alice, groups: ["members", "auditors", "globex/members"] })).toEqual({
      type: "User",
      id: "alice",
      groups: ["acme/members", "acme/auditors", "acme/globex/members"],
    });
  });
});
