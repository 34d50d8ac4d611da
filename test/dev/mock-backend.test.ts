import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { MOCK_BACKENDS, type MockBackendSpec } from "../../dev/config.ts";
import {
  INSPECTION_PATH,
  LEAKY_UPSTREAM_DETAIL,
  startMockBackend,
  type RecordedRequest,
  type RunningMockBackend,
} from "../../dev/mock-backend.ts";

const spec = backendSpec("eu-public");
let backend: RunningMockBackend;

beforeAll(async () => {
  backend = await startMockBackend({ ...spec, port: 0 });
});

afterAll(async () => {
  await backend.close();
});

beforeEach(async () => {
  await fetch(`${backend.url}${INSPECTION_PATH}`, { method: "DELETE" });
});

function backendSpec(id: string): MockBackendSpec {
  const found = MOCK_BACKENDS.find((candidate) => candidate.id === id);
  if (found === undefined) throw new Error(`no mock backend ${id} in dev/config.ts`);
  return found;
}

/** Everything one wire format needs for the shared cases below. */
interface Format {
  name: "openai" | "anthropic";
  path: string;
  authHeaders(key: string): Record<string, string>;
  body(message: string, extra?: Record<string, unknown>): Record<string, unknown>;
  text(reply: unknown): string;
  model(reply: unknown): unknown;
  toolCall(reply: unknown): { name: string; args: unknown };
  errorMessage(body: unknown): unknown;
  /** The assistant text, or the tool arguments, a stream carried, reassembled from its deltas. */
  streamed(events: SseEvent[]): { text: string; toolArgs: string; contentDeltas: number; argumentDeltas: number };
}

type Json = Record<string, any>;

const openaiFormat: Format = {
  name: "openai",
  path: "/v1/chat/completions",
  authHeaders: (key) => ({ authorization: `Bearer ${key}` }),
  body: (message, extra = {}) => ({ model: "gpt-4o-mini", messages: [{ role: "user", content: message }], ...extra }),
  text: (reply) => (reply as Json).choices[0].message.content,
  model: (reply) => (reply as Json).model,
  toolCall: (reply) => {
    const call = (reply as Json).choices[0].message.tool_calls[0];
    return { name: call.function.name, args: JSON.parse(call.function.arguments) };
  },
  errorMessage: (body) => (body as Json).error.message,
  streamed: (events) => {
    const deltas = events.filter((event) => event.data !== "[DONE]").map((event) => (JSON.parse(event.data) as Json).choices[0]?.delta);
    const contents = deltas.filter((delta) => typeof delta?.content === "string" && delta.content !== "");
    const args = deltas.flatMap((delta) => delta?.tool_calls ?? []).map((call: Json) => call.function.arguments as string);
    return {
      text: contents.map((delta) => delta.content).join(""),
      toolArgs: args.join(""),
      contentDeltas: contents.length,
      argumentDeltas: args.filter((fragment) => fragment !== "").length,
    };
  },
};

const anthropicFormat: Format = {
  name: "anthropic",
  path: "/v1/messages",
  authHeaders: (key) => ({ "x-api-key": key, "anthropic-version": "2023-06-01" }),
  body: (message, extra = {}) => ({
    model: "claude-sonnet-4-5",
    max_tokens: 256,
    messages: [{ role: "user", content: [{ type: "text", text: message }] }],
    ...extra,
  }),
  text: (reply) => (reply as Json).content[0].text,
  model: (reply) => (reply as Json).model,
  toolCall: (reply) => {
    const block = (reply as Json).content[0];
    expect(block.type).toBe("tool_use");
    return { name: block.name, args: block.input };
  },
  errorMessage: (body) => (body as Json).error.message,
  streamed: (events) => {
    const deltas = events.filter((event) => event.event === "content_block_delta").map((event) => (JSON.parse(event.data) as Json).delta);
    const texts = deltas.filter((delta) => delta.type === "text_delta");
    const args = deltas.filter((delta) => delta.type === "input_json_delta");
    return {
      text: texts.map((delta) => delta.text).join(""),
      toolArgs: args.map((delta) => delta.partial_json).join(""),
      contentDeltas: texts.length,
      argumentDeltas: args.length,
    };
  },
};

function post(format: Format, body: unknown, init: { key?: string; signal?: AbortSignal } = {}): Promise<Response> {
  return fetch(`${backend.url}${format.path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...format.authHeaders(init.key ?? spec.apiKey) },
    body: typeof body === "string" ? body : JSON.stringify(body),
    signal: init.signal,
  });
}

async function complete(format: Format, message: string): Promise<Json> {
  const response = await post(format, format.body(message));
  expect(response.status).toBe(200);
  return (await response.json()) as Json;
}

interface SseEvent {
  event?: string;
  data: string;
}

function parseSse(text: string): SseEvent[] {
  expect(text.endsWith("\n\n")).toBe(true);
  return text
    .split("\n\n")
    .filter((frame) => frame !== "")
    .map((frame) => {
      const fields = new Map(frame.split("\n").map((line) => [line.slice(0, line.indexOf(": ")), line.slice(line.indexOf(": ") + 2)]));
      return { event: fields.get("event"), data: fields.get("data") ?? "" };
    });
}

async function stream(format: Format, message: string, extra: Record<string, unknown> = {}): Promise<SseEvent[]> {
  const response = await post(format, format.body(message, { stream: true, ...extra }));
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toMatch(/^text\/event-stream/);
  return parseSse(await response.text());
}

async function recorded(): Promise<RecordedRequest[]> {
  return (await (await fetch(`${backend.url}${INSPECTION_PATH}`)).json()) as RecordedRequest[];
}

describe.each([openaiFormat, anthropicFormat])("$name wire format", (format) => {
  it("names the backend and answers the requested model with a short fixed text", async () => {
    const response = await post(format, format.body("Hi there"));
    expect(response.headers.get("x-mock-backend")).toBe("eu-public");
    const reply = (await response.json()) as Json;
    expect(format.text(reply)).toBe("Hello from eu-public (eu, public).");
    expect(format.model(reply)).toBe(format.body("").model);
  });

  it("#echo answers with the request body it received", async () => {
    const body = format.body("please #echo", { temperature: 0.2 });
    const reply = (await (await post(format, body)).json()) as Json;
    expect(JSON.parse(format.text(reply))).toEqual(body);
  });

  it("#say: answers exactly the rest of the message, markers in it included", async () => {
    expect(format.text(await complete(format, "#say:AKIA-not-really #model:x  "))).toBe("AKIA-not-really #model:x  ");
  });

  it("#model: claims the named model", async () => {
    expect(format.model(await complete(format, "#model:gpt-9-turbo hello"))).toBe("gpt-9-turbo");
  });

  it("#tool: calls the named tool with the JSON arguments", async () => {
    const reply = await complete(format, '#tool:search_documents {"query": "q3 revenue", "matter": "m-1"}');
    expect(format.toolCall(reply)).toEqual({ name: "search_documents", args: { query: "q3 revenue", matter: "m-1" } });
  });

  it("#tool: with arguments that are not a JSON object is a 400 in the provider's shape", async () => {
    const response = await post(format, format.body("#tool:send_email [1,2]"));
    expect(response.status).toBe(400);
    expect(format.errorMessage(await response.json())).toMatch(/JSON object/);
  });

  it("#slow: delays a non-streamed reply", async () => {
    const started = performance.now();
    await complete(format, "#slow:300 hi");
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
  });

  it("streams the default answer in several chunks that reassemble to it", async () => {
    const { text, contentDeltas } = format.streamed(await stream(format, "hello"));
    expect(text).toBe("Hello from eu-public (eu, public).");
    expect(contentDeltas).toBeGreaterThanOrEqual(3);
  });

  it("streams #echo and #say: text in several chunks", async () => {
    expect(format.streamed(await stream(format, "#say:one-word")).text).toBe("one-word");
    const echoed = format.streamed(await stream(format, "#echo"));
    expect(echoed.contentDeltas).toBeGreaterThanOrEqual(3);
    expect(JSON.parse(echoed.text)).toEqual(format.body("#echo", { stream: true }));
  });

  it("streams tool arguments in fragments that reassemble to the JSON arguments", async () => {
    const events = await stream(format, '#tool:search_documents {"query": "contracts"}');
    const { toolArgs, argumentDeltas } = format.streamed(events);
    expect(argumentDeltas).toBeGreaterThanOrEqual(2);
    expect(JSON.parse(toolArgs)).toEqual({ query: "contracts" });
  });

  it("#slow: sends the first chunk at once and spreads the rest", async () => {
    const started = performance.now();
    const response = await post(format, format.body("#slow:600 hi", { stream: true }));
    const reader = response.body!.getReader();
    await reader.read();
    const firstChunkMs = performance.now() - started;
    while (!(await reader.read()).done);
    expect(firstChunkMs).toBeLessThan(300);
    expect(performance.now() - started).toBeGreaterThanOrEqual(590);
  });

  it("refuses a missing or wrong API key with a 401 in the provider's shape", async () => {
    for (const key of ["", "sk-wrong"]) {
      const response = await post(format, format.body("hi"), { key });
      expect(response.status).toBe(401);
      expect(response.headers.get("x-mock-backend")).toBe("eu-public");
      expect(format.errorMessage(await response.json())).toEqual(expect.any(String));
    }
  });

  it("refuses malformed JSON with a 400 in the provider's shape", async () => {
    const response = await post(format, "{not json");
    expect(response.status).toBe(400);
    expect(format.errorMessage(await response.json())).toEqual(expect.any(String));
  });

  it("#status: fails with that status and an error body holding the fake upstream secret", async () => {
    for (const status of [429, 500, 503]) {
      const response = await post(format, format.body(`#status:${status}`));
      expect(response.status).toBe(status);
      expect(format.errorMessage(await response.json())).toContain(LEAKY_UPSTREAM_DETAIL);
    }
  });

  it("#hang never answers, and records the abort when the client gives up", async () => {
    const controller = new AbortController();
    const pending = post(format, format.body("#hang"), { signal: controller.signal });
    await until(async () => (await recorded()).length === 1);
    controller.abort();
    await expect(pending).rejects.toThrow();
    await until(async () => (await recorded())[0]?.aborted === true);
  });

  it("stops a slow stream when the client disconnects mid-way, and records it", async () => {
    const controller = new AbortController();
    const response = await post(format, format.body("#slow:5000 hi", { stream: true }), { signal: controller.signal });
    await response.body!.getReader().read();
    controller.abort();
    await until(async () => (await recorded())[0]?.aborted === true);
  });

  it("records the requests it received, headers lowercased, for the gateway's tests", async () => {
    const body = format.body("inspect me");
    await post(format, body);
    const [entry] = await recorded();
    expect(entry).toMatchObject({ method: "POST", path: format.path, body, aborted: false });
    expect(entry!.headers["content-type"]).toBe("application/json");
    expect(Object.keys(entry!.headers).every((name) => name === name.toLowerCase())).toBe(true);
    expect(Date.parse(entry!.time)).not.toBeNaN();

    await fetch(`${backend.url}${INSPECTION_PATH}`, { method: "DELETE" });
    expect(await recorded()).toEqual([]);
  });
});

describe("OpenAI specifics", () => {
  it("frames the stream as role chunk, deltas, finish reason, usage chunk, [DONE]", async () => {
    const events = await stream(openaiFormat, "hello", { stream_options: { include_usage: true } });
    expect(events.at(-1)!.data).toBe("[DONE]");
    const chunks = events.slice(0, -1).map((event) => JSON.parse(event.data) as Json);
    expect(chunks.every((chunk) => chunk.object === "chat.completion.chunk")).toBe(true);
    expect(chunks[0]!.choices[0].delta.role).toBe("assistant");
    expect(chunks.at(-2)!.choices[0].finish_reason).toBe("stop");
    expect(chunks.at(-1)!.choices).toEqual([]);
    expect(chunks.at(-1)!.usage).toMatchObject({ prompt_tokens: 2, completion_tokens: 9, total_tokens: 11 });
  });

  it("ends a tool-call stream with finish_reason tool_calls", async () => {
    const chunks = (await stream(openaiFormat, "#tool:search_documents {}")).slice(0, -1).map((event) => JSON.parse(event.data) as Json);
    expect(chunks.at(-1)!.choices[0].finish_reason).toBe("tool_calls");
    expect(chunks.some((chunk) => "usage" in chunk)).toBe(false);
  });

  it("reports usage of a non-streamed reply", async () => {
    const reply = await complete(openaiFormat, "12345678");
    expect(reply.choices[0].finish_reason).toBe("stop");
    expect(reply.usage).toEqual({ prompt_tokens: 2, completion_tokens: 9, total_tokens: 11 });
  });

  it("lists models with a bearer key", async () => {
    const response = await fetch(`${backend.url}/v1/models`, { headers: openaiFormat.authHeaders(spec.apiKey) });
    expect(await response.json()).toMatchObject({ object: "list", data: expect.arrayContaining([expect.objectContaining({ id: "gpt-4o-mini", object: "model" })]) });
  });
});

describe("Anthropic specifics", () => {
  it("frames the stream as the documented event sequence, each event named in its data", async () => {
    const events = await stream(anthropicFormat, "hello");
    const names = events.map((event) => event.event);
    expect(names.slice(0, 3)).toEqual(["message_start", "content_block_start", "ping"]);
    expect(names.slice(-3)).toEqual(["content_block_stop", "message_delta", "message_stop"]);
    expect(events.every((event) => (JSON.parse(event.data) as Json).type === event.event)).toBe(true);
    const delta = JSON.parse(events.at(-2)!.data) as Json;
    expect(delta).toMatchObject({ delta: { stop_reason: "end_turn" }, usage: { output_tokens: 9 } });
  });

  it("stops a tool-use stream with stop_reason tool_use", async () => {
    const events = await stream(anthropicFormat, "#tool:search_documents {}");
    expect(JSON.parse(events.at(-2)!.data)).toMatchObject({ delta: { stop_reason: "tool_use" } });
  });

  it("requires anthropic-version, as the API does", async () => {
    const response = await fetch(`${backend.url}/v1/messages`, {
      method: "POST",
      headers: { "x-api-key": spec.apiKey },
      body: JSON.stringify(anthropicFormat.body("hi")),
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ type: "error", error: { type: "invalid_request_error" } });
  });

  it("requires max_tokens, as the API does", async () => {
    const response = await post(anthropicFormat, { model: "claude-sonnet-4-5", messages: [{ role: "user", content: "hi" }] });
    expect(response.status).toBe(400);
  });

  it("lists models in its own shape when called with x-api-key", async () => {
    const response = await fetch(`${backend.url}/v1/models`, { headers: anthropicFormat.authHeaders(spec.apiKey) });
    expect(await response.json()).toMatchObject({ has_more: false, data: expect.arrayContaining([expect.objectContaining({ type: "model" })]) });
  });
});

describe("every seeded backend", () => {
  it.each(MOCK_BACKENDS.map((seeded) => [seeded.id, seeded] as const))("%s names itself, its region and tier", async (_id, seeded) => {
    // Without the gateway-signed assertion requirement (test/dev/mock-assertion.test.ts covers it).
    const { assertion: _gatewayAssertion, ...plain } = seeded;
    const running = await startMockBackend({ ...plain, port: 0 });
    try {
      const response = await fetch(`${running.url}/v1/chat/completions`, {
        method: "POST",
        headers: { authorization: `Bearer ${seeded.apiKey}` },
        body: JSON.stringify(openaiFormat.body("hi")),
      });
      expect(response.headers.get("x-mock-backend")).toBe(seeded.id);
      expect(openaiFormat.text(await response.json())).toBe(`Hello from ${seeded.id} (${seeded.region}, ${seeded.tier}).`);
    } finally {
      await running.close();
    }
  });
});

describe("routing", () => {
  it("answers unknown paths with a 404 and known ones with the wrong method with a 405", async () => {
    expect((await fetch(`${backend.url}/v2/nothing`)).status).toBe(404);
    expect((await fetch(`${backend.url}/v1/chat/completions`)).status).toBe(405);
  });
});

async function until(condition: () => Promise<boolean>, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
