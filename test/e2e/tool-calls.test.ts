/**
 * End to end with the official clients (issue 5, "Done when"): the mock backend proposes (`#tool:`)
 * an allowed call, a call to a tool the user may not use, and an allowed tool with forbidden
 * arguments; the first goes through, the other two are removed with the documented notice, streaming
 * and non-streaming, OpenAI and Anthropic; each decision is in the tenant's audit log.
 */
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { beforeAll, describe, expect, it } from "vitest";
import { GATEWAY_ORIGIN } from "../../dev/config.ts";
import { tokenFor } from "../support/tokens.ts";

let alice: string;
let bob: string;
let mallory: string;

beforeAll(async () => {
  [alice, bob, mallory] = await Promise.all([tokenFor("alice"), tokenFor("bob"), tokenFor("mallory")]);
});

/**
 * Mail arguments carry an address (PII), which policy redacts from prompts bound for the public tier;
 * labelled confidential, the request goes to eu-confidential and the model sees the address as sent.
 */
const CONFIDENTIAL = { "x-verity-classification": "confidential" };

function openaiAs(token: string, headers: Record<string, string> = {}): OpenAI {
  return new OpenAI({ apiKey: token, baseURL: `${GATEWAY_ORIGIN}/v1`, maxRetries: 0, defaultHeaders: headers });
}

function anthropicAs(token: string): Anthropic {
  return new Anthropic({ authToken: token, apiKey: null, baseURL: GATEWAY_ORIGIN, maxRetries: 0 });
}

interface Case {
  what: string;
  user: () => string;
  prompt: string;
  tool: string;
  headers?: Record<string, string>;
  /** undefined: allowed; otherwise the refusal code in the notice and the audit record. */
  refused?: string;
}

const CASES: Case[] = [
  { what: "an allowed call (search_documents for alice)", user: () => alice, prompt: '#tool:search_documents {"query":"q3 report"}', tool: "search_documents" },
  {
    what: "a tool alice may not use without MFA (send_email: step-up)",
    user: () => alice,
    prompt: '#tool:send_email {"to":"carol@acme.example","subject":"hi","body":"hello"}',
    tool: "send_email",
    headers: CONFIDENTIAL,
    refused: "insufficient_user_authentication",
  },
  { what: "a tool mallory may not use (contractors call no tools)", user: () => mallory, prompt: '#tool:search_documents {"query":"q3 report"}', tool: "search_documents", refused: "policy_denied" },
  {
    what: "an allowed tool with forbidden arguments (send_email outside acme.example for bob)",
    user: () => bob,
    prompt: '#tool:send_email {"to":"eve@evil.example","subject":"hi","body":"hello"}',
    tool: "send_email",
    headers: CONFIDENTIAL,
    refused: "policy_denied",
  },
];

const OPENAI_TOOLS = ["search_documents", "send_email"].map((name) => ({ type: "function" as const, function: { name, parameters: { type: "object" } } }));
const ANTHROPIC_TOOLS = ["search_documents", "send_email"].map((name) => ({ name, input_schema: { type: "object" as const } }));

interface AuditRecord {
  requestId: string;
  action?: string;
  decision?: string;
  code?: string;
  resource?: { id: string };
}

async function toolDecisions(requestId: string | null): Promise<AuditRecord[]> {
  expect(requestId).toBeTruthy();
  const response = await fetch(`${GATEWAY_ORIGIN}/audit/acme/entries`, { headers: { authorization: `Bearer ${bob}` } });
  expect(response.status).toBe(200);
  const { entries } = (await response.json()) as { entries: Array<{ record: AuditRecord }> };
  return entries.map((e) => e.record).filter((r) => r.requestId === requestId && r.action === "call_tool");
}

function expectDecision(records: AuditRecord[], c: Case): void {
  expect(records).toHaveLength(1);
  expect(records[0]).toMatchObject(c.refused ? { decision: "deny", code: c.refused, resource: { id: c.tool } } : { decision: "allow", resource: { id: c.tool } });
}

const notice = (c: Case) => `[verity: tool call to ${c.tool} refused (${c.refused})`;

describe.each(CASES)("OpenAI SDK: $what", (c) => {
  it("whole reply", async () => {
    const { data, response } = await openaiAs(c.user(), c.headers)
      .chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: c.prompt }], tools: OPENAI_TOOLS })
      .withResponse();
    const choice = data.choices[0]!;
    if (c.refused) {
      expect(choice.message.tool_calls ?? []).toEqual([]);
      expect(choice.message.content).toContain(notice(c));
      expect(choice.finish_reason).toBe("stop");
      expect(response.headers.get("x-verity-tool-refusals")).toBe(`${c.tool}=${c.refused}`);
    } else {
      const call = choice.message.tool_calls?.[0];
      expect(call?.type === "function" ? call.function.name : undefined).toBe(c.tool);
      expect(choice.finish_reason).toBe("tool_calls");
    }
    expectDecision(await toolDecisions(response.headers.get("x-request-id")), c);
  });

  it("stream", async () => {
    const { data: stream, response } = await openaiAs(c.user(), c.headers)
      .chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: c.prompt }], tools: OPENAI_TOOLS, stream: true })
      .withResponse();
    let content = "";
    let name = "";
    let args = "";
    let finish: string | null = null;
    for await (const chunk of stream) {
      const choice = chunk.choices[0];
      content += choice?.delta.content ?? "";
      for (const call of choice?.delta.tool_calls ?? []) {
        name += call.function?.name ?? "";
        args += call.function?.arguments ?? "";
      }
      finish = choice?.finish_reason ?? finish;
    }
    if (c.refused) {
      expect(name).toBe("");
      expect(content).toContain(notice(c));
      expect(finish).toBe("stop");
    } else {
      expect(name).toBe(c.tool);
      expect(JSON.parse(args)).toEqual({ query: "q3 report" });
      expect(finish).toBe("tool_calls");
    }
    expectDecision(await toolDecisions(response.headers.get("x-request-id")), c);
  });
});

// Alice's tenant is in the EU, where only eu-confidential speaks Anthropic; mallory (public tier only)
// has no Anthropic backend there, so her case runs on OpenAI only.
const ANTHROPIC_CASES = CASES.filter((c) => c.user !== CASES[2]!.user);

describe.each(ANTHROPIC_CASES)("Anthropic SDK: $what", (c) => {
  const params = { model: "claude-sonnet-4-5", max_tokens: 256, messages: [{ role: "user" as const, content: c.prompt }], tools: ANTHROPIC_TOOLS };

  it("whole reply", async () => {
    const { data: message, response } = await anthropicAs(c.user()).messages.create(params, { headers: c.headers ?? {} }).withResponse();
    if (c.refused) {
      expect(message.content.some((b) => b.type === "tool_use")).toBe(false);
      expect(message.content.map((b) => (b.type === "text" ? b.text : "")).join("")).toContain(notice(c));
      expect(message.stop_reason).toBe("end_turn");
      expect(response.headers.get("x-verity-tool-refusals")).toBe(`${c.tool}=${c.refused}`);
    } else {
      expect(message.content[0]).toMatchObject({ type: "tool_use", name: c.tool, input: { query: "q3 report" } });
      expect(message.stop_reason).toBe("tool_use");
    }
    expectDecision(await toolDecisions(response.headers.get("x-request-id")), c);
  });

  it("stream", async () => {
    const stream = anthropicAs(c.user()).messages.stream(params, { headers: c.headers ?? {} });
    const message = await stream.finalMessage();
    if (c.refused) {
      expect(message.content.some((b) => b.type === "tool_use")).toBe(false);
      expect(message.content.map((b) => (b.type === "text" ? b.text : "")).join("")).toContain(notice(c));
      expect(message.stop_reason).toBe("end_turn");
    } else {
      expect(message.content[0]).toMatchObject({ type: "tool_use", name: c.tool, input: { query: "q3 report" } });
      expect(message.stop_reason).toBe("tool_use");
    }
    const { response } = await stream.withResponse();
    expectDecision(await toolDecisions(response.headers.get("x-request-id")), c);
  });
});
