/**
 * Steering: how a test tells a mock backend what to answer, through the last user message.
 *
 * | the message contains  | the backend replies with                                                  |
 * |-----------------------|---------------------------------------------------------------------------|
 * | `#echo`               | the full request body it received (JSON) as the assistant text            |
 * | `#tool:<name> <args>` | a call of tool `<name>` with `<args>`, a JSON object (empty means `{}`)   |
 * | `#say:<text>`         | exactly `<text>`, the rest of the message                                 |
 * | `#model:<id>`         | a reply that claims model `<id>`                                          |
 * | `#slow:<ms>`          | chunks spread over `<ms>` ms, the first at once (not streaming: late)     |
 * | `#status:<code>`      | HTTP `<code>` (400–599), a provider-shaped error whose message holds the  |
 * |                       | fake secret `upstream-internal-detail-XYZ`: the gateway must not leak it  |
 * | `#hang`               | nothing: the request is accepted and never answered (gateway timeouts)    |
 * | `#fail:<id>:<fault>`  | only on backend `<id>` (others ignore it): `<fault>` is a status (400–599)|
 * |                       | answered as `#status:` does, `reset` (the connection is dropped unanswered)|
 * |                       | or `cut` (a 200 whose body breaks off: a stream after its first event)    |
 * | anything else         | `Hello from <id> (<region>, <tier>).`, streamed in several chunks         |
 *
 * The first five are the public contract (CONTRACTS.md); `#status:`, `#hang` and `#fail:` exist for the
 * gateway's tests (`#fail:` makes one backend of several fail, for fail-over; it may appear more than once). `#say:` and `#tool:` take the rest of the message, so markers meant to combine with them go
 * before them: `#slow:300 #model:m-x #say:hello #echo` says "hello #echo" slowly, as model m-x.
 */

export type SteeredContent =
  | { kind: "default" }
  | { kind: "echo" }
  | { kind: "say"; text: string }
  | { kind: "tool"; name: string; input: Record<string, unknown> };

export interface Steering {
  content: SteeredContent;
  model?: string;
  slowMs?: number;
  status?: number;
  hang: boolean;
  /** `#fail:` faults by backend id. */
  faults: ReadonlyMap<string, Fault>;
}

/** A fault one backend is told to have: an error status, a dropped connection, or a reply that breaks off. */
export type Fault = { kind: "status"; status: number } | { kind: "reset" } | { kind: "cut" };

/** A steering marker the mock cannot act on; answered as the provider's invalid-request error. */
export class SteeringError extends Error {
  override readonly name = "SteeringError";
}

export const LEAKY_UPSTREAM_DETAIL = "upstream-internal-detail-XYZ";

const REST_OF_MESSAGE_MARKER = /#(say|tool):/;
const TOOL_CALL = /^([A-Za-z0-9_.-]{1,64})(?:\s+([\s\S]*))?$/;
const FAULT = /#fail:([A-Za-z0-9_.-]{1,64}):([45]\d\d|reset|cut)(?![\w-])/g;

export function parseSteering(message: string): Steering {
  const rest = REST_OF_MESSAGE_MARKER.exec(message);
  // Markers inside the text of `#say:` or the arguments of `#tool:` are payload, not steering.
  const head = rest === null ? message : message.slice(0, rest.index);
  const content =
    rest === null ? plainContent(head) : restOfMessageContent(rest[1], message.slice(rest.index + rest[0].length), head);
  return {
    content,
    model: /#model:(\S+)/.exec(head)?.[1],
    slowMs: numberAfter(/#slow:(\d{1,6})(?!\d)/, head),
    status: numberAfter(/#status:([45]\d\d)(?!\d)/, head),
    hang: /#hang\b/.test(head),
    faults: faultsIn(head),
  };
}

function faultsIn(text: string): Map<string, Fault> {
  const faults = new Map<string, Fault>();
  for (const [, backend, fault] of text.matchAll(FAULT)) {
    if (backend === undefined || fault === undefined) continue;
    faults.set(backend, fault === "reset" || fault === "cut" ? { kind: fault } : { kind: "status", status: Number(fault) });
  }
  return faults;
}

function plainContent(message: string): SteeredContent {
  return /#echo\b/.test(message) ? { kind: "echo" } : { kind: "default" };
}

function restOfMessageContent(marker: string | undefined, rest: string, head: string): SteeredContent {
  if (/#echo\b/.test(head)) return { kind: "echo" };
  return marker === "say" ? { kind: "say", text: rest } : toolCall(rest);
}

function toolCall(spec: string): SteeredContent {
  const match = TOOL_CALL.exec(spec.trim());
  if (match?.[1] === undefined) throw new SteeringError("#tool: needs a tool name: `#tool:<name> <json-args>`");
  return { kind: "tool", name: match[1], input: toolInput(match[2]?.trim() ?? "") };
}

function toolInput(text: string): Record<string, unknown> {
  if (text === "") return {};
  let input: unknown;
  try {
    input = JSON.parse(text);
  } catch {
    throw new SteeringError(`#tool: arguments are not JSON: ${text}`);
  }
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    throw new SteeringError("#tool: arguments must be a JSON object");
  }
  return input as Record<string, unknown>;
}

function numberAfter(pattern: RegExp, text: string): number | undefined {
  const digits = pattern.exec(text)?.[1];
  return digits === undefined ? undefined : Number(digits);
}
