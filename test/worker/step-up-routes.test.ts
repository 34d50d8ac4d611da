/**
 * Step-up (RFC 9470) is not only for model calls: wherever policy denies with a `step_up` obligation,
 * the answer is 401 `insufficient_user_authentication` with `acr_values` and `max_age` — here on
 * `/v1/models` and the audit routes, for a principal the risk engine holds at medium.
 */
import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { auditFor, gatewayFetch } from "../support/gateway.ts";
import { seedKv } from "../support/seed.ts";
import { tokenFor } from "../support/tokens.ts";
import { riskEngineName } from "../../worker/verify/risk/index.ts";

let dave: string;

beforeAll(async () => {
  await seedKv(env.CONFIG);
  // Before any request of dave's, so no isolate holds a cached "low" for him.
  await env.RISK.get(env.RISK.idFromName(riskEngineName({ tenant: "acme", kind: "user", id: "dave" }))).assert("medium", "test", "test:medium", 60_000);
  dave = await tokenFor("dave");
});

async function expectStepUp(response: Response): Promise<void> {
  const body = (await response.json()) as { error: { code: string } };
  expect(response.status).toBe(401);
  expect(body.error.code).toBe("insufficient_user_authentication");
  const challenge = response.headers.get("www-authenticate") ?? "";
  expect(challenge).toContain('error="insufficient_user_authentication"');
  expect(challenge).toContain('acr_values="urn:verity:acr:mfa"');
  expect(challenge).toContain("max_age=300");
  const [record] = await auditFor("acme", response.headers.get("x-request-id")!);
  expect(record).toMatchObject({ decision: "deny", principal: { id: "dave" } });
}

describe("step-up outside the chat route (risk at medium, no recent MFA)", () => {
  it("GET /v1/models asks for step-up instead of listing nothing", async () => {
    await expectStepUp(await gatewayFetch("/v1/models", { headers: { authorization: `Bearer ${dave}` } }));
  });

  it("the audit routes ask for step-up instead of a plain 403", async () => {
    await expectStepUp(await gatewayFetch("/audit/acme/head", { headers: { authorization: `Bearer ${dave}` } }));
  });
});
