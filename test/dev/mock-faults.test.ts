/**
 * `#fail:<id>:<fault>` (dev/mock/steering.ts): only the named backend fails, so a test can make the
 * preferred backend fail while the next eligible one answers (the gateway's fail-over tests).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MOCK_BACKENDS } from "../../dev/config.ts";
import { LEAKY_UPSTREAM_DETAIL, startMockBackend, type RunningMockBackend } from "../../dev/mock-backend.ts";
import { parseSteering } from "../../dev/mock/steering.ts";

const spec = (id: string) => {
  const found = MOCK_BACKENDS.find((b) => b.id === id);
  if (!found) throw new Error(`no mock backend ${id}`);
  return { ...found, port: 0 };
};
let euPublic: RunningMockBackend;
let usPublic: RunningMockBackend;

beforeAll(async () => {
  [euPublic, usPublic] = await Promise.all([startMockBackend(spec("eu-public")), startMockBackend(spec("us-public"))]);
});

afterAll(async () => {
  await Promise.all([euPublic.close(), usPublic.close()]);
});

function chat(backend: RunningMockBackend, key: string, text: string, stream = false): Promise<Response> {
  return fetch(`${backend.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
    body: JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: text }], stream }),
  });
}
const eu = (text: string, stream = false) => chat(euPublic, spec("eu-public").apiKey, text, stream);
const us = (text: string, stream = false) => chat(usPublic, spec("us-public").apiKey, text, stream);

describe("#fail:<id>:<fault>", () => {
  it("parses every fault, by backend, and only before #say:", () => {
    const steering = parseSteering("#fail:eu-public:503 #fail:us-public:reset #fail:eu-confidential:cut #say:#fail:x:500");
    expect([...steering.faults]).toEqual([
      ["eu-public", { kind: "status", status: 503 }],
      ["us-public", { kind: "reset" }],
      ["eu-confidential", { kind: "cut" }],
    ]);
    expect(parseSteering("#fail:eu-public:200 #fail:eu-public:50 #fail:eu-public:resets").faults.size).toBe(0);
  });

  it("a status: the named backend answers it (with the fake upstream secret); another answers normally", async () => {
    const failing = await eu("#fail:eu-public:503 hello");
    expect(failing.status).toBe(503);
    expect(await failing.text()).toContain(LEAKY_UPSTREAM_DETAIL);
    const other = await us("#fail:eu-public:503 hello");
    expect(other.status).toBe(200);
    expect(JSON.stringify(await other.json())).toContain("Hello from us-public");
  });

  it("reset: the connection drops without an answer", async () => {
    await expect(eu("#fail:eu-public:reset hello")).rejects.toThrow();
    expect((await us("#fail:eu-public:reset hello")).status).toBe(200);
  });

  it("cut: a stream sends its first event, then the connection drops", async () => {
    const response = await eu("#fail:eu-public:cut hello", true);
    expect(response.status).toBe(200);
    const reader = response.body!.getReader();
    const first = await reader.read();
    expect(new TextDecoder().decode(first.value)).toContain("data: ");
    await expect((async () => {
      for (;;) if ((await reader.read()).done) return "ended cleanly";
    })()).rejects.toThrow();
  });

  it("cut: a whole reply breaks off after half its body", async () => {
    const response = await eu("#fail:eu-public:cut hello");
    expect(response.status).toBe(200);
    await expect(response.text()).rejects.toThrow();
  });
});
