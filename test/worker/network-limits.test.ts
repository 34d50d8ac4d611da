/**
 * Abuse limits: past its rate a principal is answered 429 `rate_limited` with Retry-After, past its
 * token budget 429 `token_budget_exhausted`; each refusal is audited, and the risk engine sees it.
 */
import { env, runInDurableObject } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { auditFor, bearer, chatBody, gatewayFetch } from "../support/gateway.ts";
import { seedKv } from "../support/seed.ts";
import { tokenFor } from "../support/tokens.ts";
import { riskEngineName } from "../../worker/verify/risk/index.ts";

let alice: string;
let carol: string;

beforeAll(async () => {
  await seedKv(env.CONFIG, (files) => {
    const tenants = files.tenants as Record<string, Record<string, unknown>>;
    // acme: two requests at once, then one a minute. globex: one token per window (any reply spends it).
    tenants.acme!.limits = { principal: { requestsPerMinute: 1, burst: 2 } };
    tenants.globex!.limits = { principal: { tokens: 1, windowSeconds: 3600 } };
  });
  [alice, carol] = await Promise.all([tokenFor("alice"), tokenFor("carol")]);
});

const chat = (token: string) => gatewayFetch("/v1/chat/completions", { method: "POST", headers: bearer(token), body: chatBody("hello") });
const errorOf = async (response: Response) => ((await response.json()) as { error: { code: string; type: string } }).error;

describe("request rate", () => {
  it("answers 429 rate_limited with Retry-After past the burst, audited and seen by the risk engine", async () => {
    for (let i = 0; i < 2; i++) {
      const served = await chat(alice);
      expect(served.status).toBe(200);
      await served.text();
    }
    const limited = await chat(alice);
    expect(limited.status).toBe(429);
    const retryAfter = Number(limited.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(await errorOf(limited)).toMatchObject({ code: "rate_limited", type: "rate_limit_error" });

    const records = await auditFor("acme", limited.headers.get("x-request-id")!);
    expect(records).toHaveLength(1);
    const record = records[0]!;
    expect(record).toMatchObject({ action: "admit", decision: "deny", code: "rate_limited", limit: { limit: "rate", scope: "principal", retryAfterSeconds: retryAfter } });

    // The risk engine's observation of the refused request lands after the response (waitUntil).
    const principal = record.principal as { kind: "user" | "workload"; id: string };
    const engine = env.RISK.get(env.RISK.idFromName(riskEngineName({ tenant: "acme", ...principal })));
    let denyRate = 0;
    for (let i = 0; i < 40 && denyRate === 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      denyRate = await runInDurableObject(engine, (_instance, state) => {
        const row = state.storage.sql.exec<{ state: string }>("SELECT state FROM risk_state").toArray()[0];
        return row ? (JSON.parse(row.state) as { denyRecent: { mean: number } }).denyRecent.mean : 0;
      });
    }
    expect(denyRate).toBeGreaterThan(0);
  });

  it("keeps principals apart: bob is served while alice waits", async () => {
    const bob = await chat(await tokenFor("bob"));
    expect(bob.status).toBe(200);
    await bob.text();
  });

  it("answers in the route's wire format (Anthropic's rate_limit_error)", async () => {
    const response = await gatewayFetch("/v1/messages", {
      method: "POST",
      headers: bearer(alice, { "anthropic-version": "2023-06-01" }),
      body: JSON.stringify({ model: "claude-haiku-4-5", max_tokens: 16, messages: [{ role: "user", content: "hi" }] }),
    });
    expect(response.status).toBe(429);
    expect(response.headers.get("retry-after")).toMatch(/^\d+$/);
    expect(((await response.json()) as { error: { type: string } }).error.type).toBe("rate_limit_error");
  });
});

describe("token budget", () => {
  it("serves until the budget is spent, then answers 429 token_budget_exhausted until the window turns", async () => {
    const first = await chat(carol);
    expect(first.status).toBe(200);
    await first.text();
    // The reply's tokens are charged after the response (waitUntil): the next request sees them.
    let refused: Response | undefined;
    for (let i = 0; i < 40 && !refused; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      const next = await chat(carol);
      if (next.status === 429) refused = next;
      else await next.text();
    }
    expect(refused).toBeDefined();
    expect(Number(refused!.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(Number(refused!.headers.get("retry-after"))).toBeLessThanOrEqual(3600);
    expect((await errorOf(refused!)).code).toBe("token_budget_exhausted");
    const [record] = await auditFor("globex", refused!.headers.get("x-request-id")!);
    expect(record).toMatchObject({ action: "admit", decision: "deny", code: "token_budget_exhausted", limit: { limit: "tokens", scope: "principal" } });
  });
});
