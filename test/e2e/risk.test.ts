/**
 * End to end, with the OpenAI SDK against the stack: an anomalous burst from one principal raises its
 * risk, the next request needs step-up (RFC 9470), and a CAEP `session-revoked` SET pushed by the dev
 * Shared Signals transmitter ends the session on the following request. Uses `dave`, a user no other
 * test touches, because a raised level is held for 15 minutes.
 */
import OpenAI, { APIError } from "openai";
import { beforeAll, describe, expect, it } from "vitest";
import { GATEWAY_ORIGIN, SSF_ORIGIN } from "../../dev/config.ts";
import { DEFAULT_TUNING } from "../../worker/verify/risk/score.ts";
import { signSet, subjects } from "../../dev/ssf-set.ts";
import { tokenFor } from "../support/tokens.ts";

let dave: string;
let bob: string;

beforeAll(async () => {
  [dave, bob] = await Promise.all([tokenFor("dave"), tokenFor("bob")]);
});

function claimsOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString("utf8")) as Record<string, unknown>;
}

const client = () => new OpenAI({ apiKey: dave, baseURL: `${GATEWAY_ORIGIN}/v1`, maxRetries: 0 });
const ask = () => client().chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "Hello" }] });

async function refusalOf(call: Promise<unknown>): Promise<APIError> {
  try {
    await call;
  } catch (error) {
    expect(error).toBeInstanceOf(APIError);
    return error as APIError;
  }
  throw new Error("expected a refusal");
}

interface Entry {
  record: { type: string; requestId: string; code?: string; level?: string; event?: string; principal?: { id?: string } | null };
}

async function recentAcmeRecords(): Promise<Entry["record"][]> {
  const auth = { authorization: `Bearer ${bob}` };
  const head = (await (await fetch(`${GATEWAY_ORIGIN}/audit/acme/head`, { headers: auth })).json()) as { size?: number; treeSize?: number };
  const size = head.size ?? head.treeSize ?? 0;
  const response = await fetch(`${GATEWAY_ORIGIN}/audit/acme/entries?start=${Math.max(0, size - 1000)}&end=${size}`, { headers: auth });
  expect(response.status).toBe(200);
  return ((await response.json()) as { entries: Entry[] }).entries.map((e) => e.record);
}

describe("risk and Shared Signals end to end", () => {
  it("a burst raises dave's risk, the next request needs step-up, and session-revoked ends the session", async () => {
    // Before: an ordinary request is served.
    expect((await ask()).choices[0]?.message.content).toBeTruthy();

    // The burst: waves of 25 until the engine notices (a step-up refusal), far past the burst floor
    // (300 in a minute) on a slow machine too, and never more than three times it.
    const statuses: number[] = [];
    const unexpected: string[] = [];
    for (let sent = 0; sent < 3 * DEFAULT_TUNING.burstFloor && !statuses.includes(401); sent += 25) {
      const wave = await Promise.allSettled(Array.from({ length: 25 }, () => ask()));
      for (const result of wave) {
        const refusal = result.status === "rejected" ? (result.reason as APIError) : undefined;
        statuses.push(refusal ? (refusal.status ?? 0) : 200);
        if (refusal && refusal.status !== 401) unexpected.push(`${refusal.status} ${refusal.code ?? String(refusal)}`);
      }
    }
    // Served until the engine noticed, then refused for step-up: nothing else.
    expect(unexpected).toEqual([]);
    expect(statuses).toContain(401);

    // Observations land after each response (waitUntil); give the last ones a moment.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const stepUp = await refusalOf(ask());
    expect(stepUp.status).toBe(401);
    expect(stepUp.code).toBe("insufficient_user_authentication");
    expect(stepUp.headers?.get("www-authenticate")).toMatch(/error="insufficient_user_authentication".*acr_values="urn:verity:acr:mfa".*max_age=300/);

    // The identity provider's transmitter says the session is gone (CAEP session-revoked, pushed).
    const sid = claimsOf(dave).sid as string;
    expect(sid).toBeTruthy();
    const pushed = (await (
      await fetch(`${SSF_ORIGIN}/transmit`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ event: "session-revoked", subject: subjects.userSession("dave", sid) }),
      })
    ).json()) as { status: number; body: string };
    expect(pushed).toEqual({ status: 202, body: "" });

    const ended = await refusalOf(ask());
    expect(ended.status).toBe(401);
    expect(ended.code).toBe("session_revoked");

    // All of it is in acme's log: the raise, the event, and the refusal of the revoked session.
    const records = await recentAcmeRecords();
    expect(records.some((r) => r.type === "risk" && r.principal?.id === "dave" && r.level === "medium")).toBe(true);
    expect(records.some((r) => r.type === "security_event" && r.event?.endsWith("/session-revoked"))).toBe(true);
    expect(records.some((r) => r.type === "decision" && r.code === "session_revoked" && r.principal?.id === "dave")).toBe(true);
  });

  it("answers a transmitter per RFC 8935: 202 once, 400 invalid_request for the replay, 400 invalid_audience", async () => {
    const post = (body: string) => fetch(`${GATEWAY_ORIGIN}/ssf/events`, { method: "POST", headers: { "content-type": "application/secevent+jwt" }, body });
    const set = await signSet({ event: "session-revoked", subject: subjects.session("e2e-unused-session") });
    expect((await post(set)).status).toBe(202);
    const replay = await post(set);
    expect(replay.status).toBe(400);
    expect(await replay.json()).toMatchObject({ err: "invalid_request" });
    const elsewhere = await post(await signSet({ event: "session-revoked", subject: subjects.session("x"), audience: "https://other.example/ssf" }));
    expect(elsewhere.status).toBe(400);
    expect(await elsewhere.json()).toMatchObject({ err: "invalid_audience" });
  });
});
