/**
 * Tool calls a model proposes in its reply, whatever the wire format: the pure core the OpenAI and
 * Anthropic handlers (proposals-openai.ts, proposals-anthropic.ts) share. A streamed call arrives in
 * fragments — its id and name first, then pieces of its arguments' JSON text — and is decided only
 * once it is complete; until then only its own fragments are held back.
 *
 * What the caller sees when a call is refused is the same in both formats and both modes: the call
 * is removed, and in its place the reply carries the text `refusalNotice` returns, so a client that
 * only reads text still learns why; when no call remains, the finish (stop) reason says the model
 * simply stopped. A refusal whose policy says so refuses the whole reply instead.
 */
import type { ErrorCode, GatewayError } from "../errors.ts";
import { MAX_TOOL_ARGUMENT_BYTES } from "./authorize.ts";

/** One complete tool call as the model proposed it. */
export interface ProposedCall {
  /** The provider's id of the call (`call_…`, `toolu_…`); "" if the model sent none. */
  id: string;
  name: string;
  /** The arguments' JSON text exactly as proposed (possibly malformed: the gate decides). */
  arguments: string;
}

export type CallRuling =
  | {
      allowed: true;
      /**
       * The arguments' JSON text the caller receives, when it is not the model's: placeholders of the
       * request's tokenized values restored (the call was decided on these, the values it will run with).
       */
      arguments?: string;
    }
  | {
      allowed: false;
      /** Why, for the caller: its code and message go into the notice, or it refuses the reply. */
      error: GatewayError;
      /** Policy refuses the whole reply, not only this call. */
      refuseReply: boolean;
    };

/**
 * Decides one proposed call and makes the decision durable in the audit log before it resolves, so
 * an allowed call never reaches the caller before its decision is recorded. A rejection (the log
 * could not commit) refuses the reply.
 */
export interface ToolCallGate {
  decide(call: ProposedCall): Promise<CallRuling>;
}

/** The model's tool calls broke the wire format (a fragment of a call already decided, …). */
export class ProposalError extends Error {
  override readonly name = "ProposalError";
}

/**
 * The most argument text kept for one call: one character past the largest the gate accepts, so an
 * oversized call is still refused as too large (never cut down to something that parses) while the
 * gateway never holds more than that for it.
 */
const MAX_ASSEMBLED_CHARS = MAX_TOOL_ARGUMENT_BYTES + 1;

/** Collects one call's fragments; `T` is what the handler holds back with them (its events). */
export class CallAssembly<T> {
  private id = "";
  private name = "";
  private text = "";
  readonly held: T[] = [];

  constructor(readonly index: number) {}

  /** Adds a fragment; id and name parts concatenate as OpenAI streams them (normally whole, once). */
  add(fragment: { id?: unknown; name?: unknown; arguments?: unknown }, held?: T): void {
    if (typeof fragment.id === "string") this.id += fragment.id;
    if (typeof fragment.name === "string") this.name += fragment.name;
    if (typeof fragment.arguments === "string" && this.text.length < MAX_ASSEMBLED_CHARS) {
      this.text = (this.text + fragment.arguments).slice(0, MAX_ASSEMBLED_CHARS);
    }
    if (held !== undefined) this.held.push(held);
  }

  /** The call; `emptyArguments` stands in when no argument text came (Anthropic: the block's `input`). */
  complete(emptyArguments = "{}"): ProposedCall {
    return { id: this.id, name: this.name, arguments: this.text === "" ? emptyArguments : this.text };
  }
}

/**
 * OpenAI streams a choice's calls one after another, each fragment naming its call's `index`: a
 * fragment of a later index completes the call before it; an earlier index is out of order.
 */
export class CallSequence<T> {
  private current: CallAssembly<T> | undefined;
  private lastIndex = -1;

  /** Adds a fragment of call `index`; returns the call it completed, if any. Throws ProposalError. */
  add(index: number, fragment: { id?: unknown; name?: unknown; arguments?: unknown }, held?: T): CallAssembly<T> | undefined {
    if (!Number.isSafeInteger(index) || index < 0) throw new ProposalError("a tool call fragment has no valid index");
    if (index < this.lastIndex) throw new ProposalError("a tool call fragment arrived after its call was complete");
    let completed: CallAssembly<T> | undefined;
    if (index > this.lastIndex) {
      completed = this.current;
      this.current = new CallAssembly<T>(index);
      this.lastIndex = index;
    }
    this.current!.add(fragment, held);
    return completed;
  }

  /** Whether a fragment of call `index` would complete the open call (a later index begins). */
  completes(index: number): boolean {
    return this.current !== undefined && index > this.lastIndex;
  }

  /** Whether a call is being assembled. */
  get open(): boolean {
    return this.current !== undefined;
  }

  /** The call still open (the choice finished, or the stream ended). */
  finish(): CallAssembly<T> | undefined {
    const open = this.current;
    this.current = undefined;
    return open;
  }
}

/** The text put in place of a refused call. */
export function refusalNotice(call: ProposedCall, ruling: Extract<CallRuling, { allowed: false }>): string {
  return `[verity: tool call to ${call.name || "(unnamed tool)"} refused (${ruling.error.code}): ${ruling.error.message}]`;
}

/** Tally of one reply's (or choice's) decided calls, for its finish reason. */
export interface CallTally {
  allowed: number;
  refused: number;
}

/** A finish reason naming tool calls stays only while a call remains; otherwise the model "stopped". */
export function finishReasonAfter(reason: unknown, toolReason: string, stopReason: string, tally: CallTally): unknown {
  return reason === toolReason && tally.allowed === 0 && tally.refused > 0 ? stopReason : reason;
}

/** A call removed from a whole reply, and why. */
export interface RefusedCall {
  call: ProposedCall;
  code: ErrorCode;
}

/** A whole reply after its calls were decided: without the refused ones, and which those were. */
export interface AuthorizedReply {
  reply: Record<string, unknown>;
  refused: RefusedCall[];
}

/** Names of refused calls with their codes, for a whole reply's `x-verity-tool-refusals` header. */
export function refusalHeader(refusals: readonly RefusedCall[]): string {
  // The name is the model's text: only characters a header value and a tool id may hold go out.
  return refusals.map(({ call, code }) => `${call.name.replace(/[^A-Za-z0-9_.:-]/g, "_").slice(0, 64) || "_"}=${code}`).join(", ");
}
