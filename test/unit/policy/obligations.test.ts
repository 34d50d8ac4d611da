import { describe, expect, it } from "vitest";
import { parseObligations, PolicyAnnotationError } from "../../../worker/policy/index.ts";

describe("@obligation grammar", () => {
  it("parses each kind into its typed form", () => {
    expect(parseObligations("max_tokens:4096", "p")).toEqual([{ kind: "max_tokens", limit: 4096 }]);
    expect(parseObligations("redact:PII", "p")).toEqual([{ kind: "redact", category: "PII" }]);
    expect(parseObligations("route:tier=confidential", "p")).toEqual([{ kind: "route", tier: "confidential" }]);
    expect(parseObligations("route:tier=self-hosted", "p")).toEqual([{ kind: "route", tier: "self-hosted" }]);
    expect(parseObligations("step_up:acr=urn:verity:acr:mfa", "p")).toEqual([{ kind: "step_up", acr: "urn:verity:acr:mfa" }]);
    expect(parseObligations("step_up:acr=urn:verity:acr:mfa,max_age=0", "p")).toEqual([{ kind: "step_up", acr: "urn:verity:acr:mfa", maxAge: 0 }]);
    expect(parseObligations("tool_call:refuse_reply", "p")).toEqual([{ kind: "refuse_reply" }]);
    expect(() => parseObligations("tool_call:remove", "p")).toThrow();
  });
  it("several items separated by ';', whitespace ignored", () => {
    expect(parseObligations(" max_tokens:1 ;redact:SECRET_AWS_ACCESS_KEY ", "p")).toEqual([
      { kind: "max_tokens", limit: 1 },
      { kind: "redact", category: "SECRET_AWS_ACCESS_KEY" },
    ]);
  });
  it("refuses anything else, naming the policy", () => {
    for (const bad of ["", ";", "max_tokens:-1", "max_tokens:1.5", "max_tokens:01", "redact:", "route:confidential", "step_up:max_age=5", "step_up:acr=a,acr=b", "step_up:acr=has space", "audit:yes"]) {
      let error: unknown;
      try {
        parseObligations(bad, "my.policy");
      } catch (e) {
        error = e;
      }
      expect(error, bad).toBeInstanceOf(PolicyAnnotationError);
      expect((error as PolicyAnnotationError).code).toBe("POLICY_ANNOTATION_INVALID");
      expect((error as PolicyAnnotationError).message).toContain("my.policy");
    }
  });
});
