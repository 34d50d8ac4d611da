/**
 * Tool calls proposed in model output, inside workerd with the real stack: the mock backend proposes
 * (`#tool:`) an allowed call (search_documents for alice), a call to a tool the caller may not use
 * (send_email for alice without MFA: step-up; anything for mallory, a contractor), and an allowed tool
 * with forbidden arguments (send_email for bob outside acme.example). The first goes through; the
 * others are removed with a notice (and `x-verity-tool-refusals` on whole replies); every decision is
 * in the audit log. Offered tools the caller may not use are cut from the request before it leaves.
 */
import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { auditFor, bearer, chatBody, gatewayFetch, messagesBody, receivedWith, type StoredRecord } from "../support/gateway.ts";
import { seedKv } from "../support/seed.ts";
import { tokenFor } from "../support/tokens.ts";

let alice: string;
let bob: string;
let mallory: string;

beforeAll(async () => {
  await seedKv(env.CONFIG);
  [alice, bob, mallory] = await Promise.all([tokenFor("alice"), tokenFor("bob"), tokenFor("mallory")]);
});

const OPENAI_TOOLS = ["search_documents", "send_email"].map((name) => ({ type: "function", function: { name, parameters: { type: "object" } } }));
const ANTHROPIC_TOOLS = ["search_documents", "send_email"].map((name) => ({ name, input_schema: { type: "object" } }));
/** The Anthropic model alice's tenant (EU) is served: only eu-confidential speaks Anthropic in the EU. */
const EU_CLAUDE = "claude-sonnet-4-5";

const SEARCH = '#tool:search_documents {"query":"q3 report"}';
const EMAIL_INSIDE = '#tool:send_email {"to":"carol@acme.example","subject":"hi","body":"hello"}';
const EMAIL_OUTSIDE = '#tool:send_email {"to":"eve@evil.example","subject":"hi","body":"hello"}';

/** The data of each SSE event of a stream, in order (`[DONE]` as the string). */
function sseData(text: string): Array<Record<string, any> | "[DONE]"> {
  return text
    .split("\n\n")
    .filter((block) => block.includes("data: "))
    .map((block) => block.slice(block.indexOf("data: ") + 6))
    .map((data) => (data === "[DONE]" ? data : (JSON.parse(data) as Record<string, any>)));
}

/** The call_tool decisions of a request, waiting briefly for the completion record to land too. */
async function toolDecisions(response: Response): Promise<StoredRecord[]> {
  const records = await auditFor("acme", response.headers.get("x-request-id")!);
  return records.filter((r) => r.action === "call_tool");
}

async function invokeDecision(response: Response): Promise<StoredRecord | undefined> {
  return (await auditFor("acme", response.headers.get("x-request-id")!)).find((r) => r.action === "invoke_model");
}

const post = (path: string, body: string, token: string, headers: Record<string, string> = {}) => gatewayFetch(path, { method: "POST", body, headers: bearer(token, headers) });
/**
 * Mail arguments carry an address (PII): on a public-tier backend policy redacts PII from the prompt
 * before it leaves, so the model would propose a redacted recipient. Labelled confidential, the
 * request goes to eu-confidential, which sees the prompt as sent.
 */
const CONFIDENTIAL = { "x-verity-classification": "confidential" };

describe("OpenAI, whole replies", () => {
  it("lets alice's allowed call through, audited as an allow before the reply", async () => {
    const response = await post("/v1/chat/completions", chatBody(SEARCH, { tools: OPENAI_TOOLS.slice(0, 1) }), alice);
    expect(response.status).toBe(200);
    expect(response.headers.get("x-verity-tool-refusals")).toBeNull();
    const reply = (await response.json()) as Record<string, any>;
    expect(reply.choices[0].finish_reason).toBe("tool_calls");
    expect(reply.choices[0].message.tool_calls[0].function).toEqual({ name: "search_documents", arguments: '{"query":"q3 report"}' });
    const [decision] = await toolDecisions(response);
    expect(decision).toMatchObject({
      decision: "allow",
      origin: "model",
      resource: { type: "Tool", id: "search_documents" },
      toolCallId: reply.choices[0].message.tool_calls[0].id,
      argumentsDigest: expect.any(String),
      principal: { id: "alice" },
    });
  });

  it("removes send_email for alice (no MFA): step-up notice, finish_reason stop, header, audited deny", async () => {
    const response = await post("/v1/chat/completions", chatBody(EMAIL_INSIDE, { tools: OPENAI_TOOLS }), alice, CONFIDENTIAL);
    expect(response.status).toBe(200);
    expect(response.headers.get("x-verity-tool-refusals")).toBe("send_email=insufficient_user_authentication");
    const reply = (await response.json()) as Record<string, any>;
    expect(reply.choices[0]).toMatchObject({ finish_reason: "stop", message: { content: expect.stringContaining("[verity: tool call to send_email refused (insufficient_user_authentication)") } });
    expect(reply.choices[0].message.tool_calls).toBeUndefined();
    const [decision] = await toolDecisions(response);
    expect(decision).toMatchObject({ decision: "deny", code: "insufficient_user_authentication", resource: { id: "send_email" } });
  });

  it("removes send_email for bob (MFA) when the recipient is outside acme.example: policy_denied, audited", async () => {
    const response = await post("/v1/chat/completions", chatBody(EMAIL_OUTSIDE, { tools: OPENAI_TOOLS }), bob, CONFIDENTIAL);
    expect(response.headers.get("x-verity-tool-refusals")).toBe("send_email=policy_denied");
    const reply = (await response.json()) as Record<string, any>;
    expect(reply.choices[0].message.content).toContain("refused (policy_denied)");
    const [decision] = await toolDecisions(response);
    expect(decision).toMatchObject({ decision: "deny", code: "policy_denied", reasons: ["tool.email-own-domain"], principal: { id: "bob" } });
  });

  it("lets bob's send_email inside acme.example through", async () => {
    const response = await post("/v1/chat/completions", chatBody(EMAIL_INSIDE, { tools: OPENAI_TOOLS }), bob, CONFIDENTIAL);
    const reply = (await response.json()) as Record<string, any>;
    expect(reply.choices[0].message.tool_calls[0].function.name).toBe("send_email");
    expect((await toolDecisions(response))[0]).toMatchObject({ decision: "allow" });
  });

  it("refuses a call to a tool the request did not offer (tool_not_offered)", async () => {
    const response = await post("/v1/chat/completions", chatBody(SEARCH), alice);
    expect(response.headers.get("x-verity-tool-refusals")).toBe("search_documents=tool_not_offered");
    expect((await toolDecisions(response))[0]).toMatchObject({ decision: "deny", code: "tool_not_offered" });
  });

  it("refuses arguments that fail the tool's schema", async () => {
    const response = await post("/v1/chat/completions", chatBody('#tool:search_documents {"query":""}', { tools: OPENAI_TOOLS }), alice);
    expect(response.headers.get("x-verity-tool-refusals")).toBe("search_documents=tool_arguments_invalid");
  });
});

describe("OpenAI, streams", () => {
  it("streams alice's allowed call in fragments, after its audited allow", async () => {
    const response = await post("/v1/chat/completions", chatBody(SEARCH, { tools: OPENAI_TOOLS, stream: true }), alice);
    const events = sseData(await response.text());
    const chunks = events.filter((e): e is Record<string, any> => e !== "[DONE]");
    const fragments = chunks.flatMap((c) => c.choices?.[0]?.delta?.tool_calls ?? []);
    expect(fragments[0]).toMatchObject({ index: 0, function: { name: "search_documents" } });
    expect(fragments.map((f: any) => f.function.arguments).join("")).toBe('{"query":"q3 report"}');
    expect(chunks.at(-1)!.choices[0].finish_reason).toBe("tool_calls");
    expect(events.at(-1)).toBe("[DONE]");
    expect((await toolDecisions(response))[0]).toMatchObject({ decision: "allow" });
  });

  it("drops mallory's call (a contractor may call no tools) and says why in the text", async () => {
    const response = await post("/v1/chat/completions", chatBody(SEARCH, { tools: OPENAI_TOOLS, stream: true }), mallory);
    const text = await response.text();
    expect(text).not.toContain("tool_calls\":[");
    const chunks = sseData(text).filter((e): e is Record<string, any> => e !== "[DONE]");
    const content = chunks.map((c) => c.choices?.[0]?.delta?.content ?? "").join("");
    expect(content).toContain("[verity: tool call to search_documents refused (policy_denied)");
    expect(chunks.at(-1)!.choices[0].finish_reason).toBe("stop");
    expect((await toolDecisions(response))[0]).toMatchObject({ decision: "deny", code: "policy_denied", principal: { id: "mallory" } });
  });

  it("drops bob's send_email outside acme.example from the stream", async () => {
    const response = await post("/v1/chat/completions", chatBody(EMAIL_OUTSIDE, { tools: OPENAI_TOOLS, stream: true }), bob, CONFIDENTIAL);
    const text = await response.text();
    expect(text).not.toContain("evil.example");
    expect(text).toContain("refused (policy_denied)");
    expect((await toolDecisions(response))[0]).toMatchObject({ decision: "deny", code: "policy_denied" });
  });
});

describe("Anthropic", () => {
  it("passes alice's allowed tool_use block (whole) and streams it", async () => {
    const whole = await post("/v1/messages", messagesBody(SEARCH, { model: EU_CLAUDE, tools: ANTHROPIC_TOOLS }), alice);
    expect(whole.status).toBe(200);
    const message = (await whole.json()) as Record<string, any>;
    expect(message.stop_reason).toBe("tool_use");
    expect(message.content[0]).toMatchObject({ type: "tool_use", name: "search_documents", input: { query: "q3 report" } });
    expect((await toolDecisions(whole))[0]).toMatchObject({ decision: "allow", toolCallId: message.content[0].id });

    const streamed = await post("/v1/messages", messagesBody(SEARCH, { model: EU_CLAUDE, tools: ANTHROPIC_TOOLS, stream: true }), alice);
    const text = await streamed.text();
    expect(text).toContain('"type":"tool_use"');
    expect(text).toContain("input_json_delta");
    expect(text).toContain('"stop_reason":"tool_use"');
  });

  it("replaces alice's send_email block by a notice text block, whole and streamed; stop_reason end_turn", async () => {
    const whole = await post("/v1/messages", messagesBody(EMAIL_INSIDE, { model: EU_CLAUDE, tools: ANTHROPIC_TOOLS }), alice);
    expect(whole.headers.get("x-verity-tool-refusals")).toBe("send_email=insufficient_user_authentication");
    const message = (await whole.json()) as Record<string, any>;
    expect(message).toMatchObject({ stop_reason: "end_turn", content: [{ type: "text", text: expect.stringContaining("send_email refused (insufficient_user_authentication)") }] });

    const streamed = await post("/v1/messages", messagesBody(EMAIL_INSIDE, { model: EU_CLAUDE, tools: ANTHROPIC_TOOLS, stream: true }), alice);
    const events = sseData(await streamed.text()) as Array<Record<string, any>>;
    expect(events.some((e) => e.content_block?.type === "tool_use")).toBe(false);
    expect(events.find((e) => e.type === "content_block_start")).toMatchObject({ index: 0, content_block: { type: "text" } });
    expect(events.find((e) => e.type === "message_delta")!.delta.stop_reason).toBe("end_turn");
    expect((await toolDecisions(streamed))[0]).toMatchObject({ decision: "deny", code: "insufficient_user_authentication" });
  });
});

describe("offered tools", () => {
  it("cuts send_email from alice's request before it leaves, and records what was removed", async () => {
    const marker = `offer-${crypto.randomUUID()}`;
    const response = await post("/v1/chat/completions", chatBody(marker, { tools: OPENAI_TOOLS, tool_choice: "auto", parallel_tool_calls: true }), alice);
    expect(response.status).toBe(200);
    const sent = (await receivedWith("eu-public", marker))?.body as Record<string, any>;
    expect(sent.tools.map((t: any) => t.function.name)).toEqual(["search_documents"]);
    expect(sent.tool_choice).toBe("auto");
    expect(await invokeDecision(response)).toMatchObject({ decision: "allow", toolsRemoved: [{ tool: "send_email", code: "insufficient_user_authentication" }] });
  });

  it("takes the tool fields out entirely when no offered tool remains (mallory)", async () => {
    const marker = `offer-${crypto.randomUUID()}`;
    const response = await post("/v1/chat/completions", chatBody(marker, { tools: OPENAI_TOOLS, parallel_tool_calls: false }), mallory);
    expect(response.status).toBe(200);
    const sent = (await receivedWith("eu-public", marker))?.body as Record<string, any>;
    expect(sent.tools).toBeUndefined();
    expect(sent.parallel_tool_calls).toBeUndefined();
    expect((await invokeDecision(response))?.toolsRemoved).toHaveLength(2);
  });

  it("refuses a request whose tool_choice names a removed tool with that tool's refusal, audited, nothing sent", async () => {
    const marker = `offer-${crypto.randomUUID()}`;
    const response = await post("/v1/chat/completions", chatBody(marker, { tools: OPENAI_TOOLS, tool_choice: { type: "function", function: { name: "send_email" } } }), alice);
    expect(response.status).toBe(401);
    expect(response.headers.get("www-authenticate")).toContain("insufficient_user_authentication");
    expect(await invokeDecision(response)).toMatchObject({ decision: "deny", code: "insufficient_user_authentication" });
    expect(await receivedWith("eu-public", marker)).toBeUndefined();
  });

  it("refuses tool_choice any (Anthropic) when no offered tool remains", async () => {
    const response = await post("/v1/messages", messagesBody("hi", { model: EU_CLAUDE, tools: ANTHROPIC_TOOLS, tool_choice: { type: "any" } }), mallory);
    expect(response.status).toBe(403);
    expect(((await response.json()) as Record<string, any>).type).toBe("error");
  });
});
