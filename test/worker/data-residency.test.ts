/**
 * Residency routing through the whole Worker (issue 6, item 4), with the seeded world: the eligible
 * set is what policy allows for this principal, classification and residency; the first eligible
 * backend by preference serves; with none, a clear deny and nothing sent anywhere. The mock backends'
 * request logs show where each prompt went — and where it never went.
 */
import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { receivedWith } from "../support/gateway.ts";
import { seedKv } from "../support/seed.ts";
import { tokenFor } from "../support/tokens.ts";
import { EMAIL, marker, post, recordsOf } from "./data-support.ts";

const BACKENDS = ["eu-public", "us-public", "eu-confidential"] as const;
const CARD = "4111 1111 1111 1111";

let alice: string;
let carol: string;
let mallory: string;

beforeAll(async () => {
  await seedKv(env.CONFIG);
  [alice, carol, mallory] = await Promise.all([tokenFor("alice"), tokenFor("carol"), tokenFor("mallory")]);
});

/** Which backends received the request carrying `m` (each backend's log is read once). */
async function reachedBy(m: string): Promise<string[]> {
  const reached: string[] = [];
  for (const backend of BACKENDS) if (await receivedWith(backend, m)) reached.push(backend);
  return reached;
}

const chat = (text: string, extra: Record<string, unknown> = {}) => ({ model: "gpt-4o-mini", messages: [{ role: "user", content: text }], ...extra });

describe("an EU tenant's personal data never reaches a US backend", () => {
  it("alice's PII (a model all three backends serve) goes to eu-public, redacted, and nowhere else", async () => {
    const m = marker();
    const response = await post("/v1/chat/completions", chat(`mail ${EMAIL} ${m}`), alice);
    expect(response.status).toBe(200);
    expect(await reachedBy(m)).toEqual(["eu-public"]);
  });

  it("alice asking for a model only the US serves is refused, and nothing is sent", async () => {
    const m = marker();
    const response = await post("/v1/messages", { model: "claude-haiku-4-5", max_tokens: 64, messages: [{ role: "user", content: `mail ${EMAIL} ${m}` }] }, alice);
    expect(response.status).toBe(403);
    expect(((await response.json()) as { error: { type: string } }).error.type).toBe("permission_error");
    const [decision] = await recordsOf("acme", response);
    expect(decision).toMatchObject({ decision: "deny", code: "policy_denied" });
    const candidates = decision!.candidates as Array<{ resource: { id: string }; effect: string; reasons: string[] }>;
    expect(candidates).toEqual([expect.objectContaining({ resource: { type: "Backend", id: "us-public" }, effect: "deny", reasons: ["model.personal-data-in-jurisdiction"] })]);
    expect(await reachedBy(m)).toEqual([]);
  });

  it("carol's (globex, US) PII goes to us-public, redacted, never to an EU backend", async () => {
    const m = marker();
    const response = await post("/v1/chat/completions", chat(`mail ${EMAIL} ${m}`), carol);
    expect(response.status).toBe(200);
    expect(await reachedBy(m)).toEqual(["us-public"]);
    expect(JSON.stringify((await receivedWith("us-public", m))!.body)).not.toContain(EMAIL);
  });
});

describe("confidential and restricted data only reach the confidential tier", () => {
  it("restricted (labelled) data from alice goes to eu-confidential only", async () => {
    const m = marker();
    const response = await post("/v1/chat/completions", chat(`board minutes ${m}`), alice, { "x-verity-classification": "restricted" });
    expect(response.status).toBe(200);
    expect(await reachedBy(m)).toEqual(["eu-confidential"]);
  });

  it("a card number (PCI, confidential) goes to eu-confidential as sent: no public backend, no redaction owed there", async () => {
    const m = marker();
    const response = await post("/v1/chat/completions", chat(`charge ${CARD} ${m}`), alice);
    expect(response.status).toBe(200);
    expect(await reachedBy(m)).toEqual(["eu-confidential"]);
    expect(JSON.stringify((await receivedWith("eu-confidential", m))!.body)).toContain(CARD);
    const [decision] = await recordsOf("acme", response);
    expect(decision).toMatchObject({ decision: "allow", resource: { id: "eu-confidential" }, classification: { level: 2 } });
  });

  it("no eligible backend is a clear deny (no_eligible_backend), never a fallback to a public one", async () => {
    for (const [who, token, body] of [
      // gpt-4.1 is served only on public backends; restricted data may not go there.
      ["alice", () => alice, (m: string) => chat(`plan ${m}`, { model: "gpt-4.1" })],
      // mallory (contractor) may use only the public tier; a card number may use only the confidential one.
      ["mallory", () => mallory, (m: string) => chat(`charge ${CARD} ${m}`)],
    ] as const) {
      const m = marker();
      const headers: Record<string, string> = who === "alice" ? { "x-verity-classification": "restricted" } : {};
      const response = await post("/v1/chat/completions", body(m), token(), headers);
      expect(response.status, who).toBe(403);
      expect(((await response.json()) as { error: { code: string } }).error.code, who).toBe("no_eligible_backend");
      const [decision] = await recordsOf("acme", response);
      expect(decision, who).toMatchObject({ decision: "deny", code: "no_eligible_backend" });
      expect(await reachedBy(m), who).toEqual([]);
    }
  });
});
