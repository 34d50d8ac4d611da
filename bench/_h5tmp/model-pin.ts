/**
 * Model pinning: a reply must be served by the model that was asked for, on a backend pinned to
 * serve it. A reply (whole or streamed) that names another model, or an OpenAI `system_fingerprint`
 * outside the backend's allowlist, is a violation: the gateway stops it, records it, and the
 * workload plane marks the backend suspect.
 *
 * What counts as "the model that was asked for": the requested id itself, or a dated snapshot of it
 * as both providers name them (`gpt-4o-mini-2024-07-18`, `claude-sonnet-4-5-20250929`). Routing only
 * picks a backend whose `models` pins the requested id, so an accepted claim is always pinned.
 */
import type { WireFormat } from "../../worker/errors.ts";
import { isRecord } from "../../worker/providers/validate.ts";

export interface ModelPin {
  backendId: string;
  /** The model the caller asked for (one of the backend's pinned `models`). */
  requested: string;
  models: readonly string[];
  /** When set, an OpenAI-format reply must carry one of these `system_fingerprint`s. */
  systemFingerprints?: readonly string[];
}

/** What a reply said about who served it. */
export interface ModelClaim {
  model?: string;
  /** OpenAI only; `null` when the provider sent it as null. */
  systemFingerprint?: string | null;
}

/** A type, not an interface, so it is JSON for the completion record. */
export type PinViolation = {
  backend: string;
  requested: string;
  claimed: string | null;
  systemFingerprint?: string | null;
  reason: "unpinned_model" | "unlisted_fingerprint" | "no_model_named";
};

const SNAPSHOT_SUFFIX = /^-(?:\d{4}-\d{2}-\d{2}|\d{8})$/;

/** The served-model claim of a whole reply or one stream event, as each wire format carries it. */
export function claimOf(format: WireFormat, event: Record<string, unknown>): ModelClaim | undefined {
  if (format === "anthropic") {
    // Streams name the model in `message_start` only; a whole reply is a `message` object.
    const message = event.type === "message_start" && isRecord(event.message) ? event.message : event.type === "message" ? event : undefined;
    return message && "model" in message ? { model: typeof message.model === "string" ? message.model : "" } : undefined;
  }
  if (!("model" in event)) return undefined;
  const fingerprint = event.system_fingerprint;
  return {
    model: typeof event.model === "string" ? event.model : "",
    ...(fingerprint === undefined ? {} : { systemFingerprint: typeof fingerprint === "string" ? fingerprint : null }),
  };
}

/** `undefined` when the claim honours the pin; otherwise what was wrong. */
export function checkClaim(format: WireFormat, pin: ModelPin, claim: ModelClaim | undefined): PinViolation | undefined {
  const claimed = claim?.model ?? null;
  const base = { backend: pin.backendId, requested: pin.requested, claimed };
  if (!claimed) return { ...base, reason: "no_model_named" };
  const sameModel = claimed === pin.requested || (claimed.startsWith(pin.requested) && SNAPSHOT_SUFFIX.test(claimed.slice(pin.requested.length)));
  if (!sameModel || !pin.models.includes(pin.requested)) return { ...base, reason: "unpinned_model" };
  if (format === "openai" && pin.systemFingerprints !== undefined) {
    const fingerprint = claim?.systemFingerprint;
    if (typeof fingerprint !== "string" || !pin.systemFingerprints.includes(fingerprint)) {
      return { ...base, systemFingerprint: fingerprint ?? null, reason: "unlisted_fingerprint" };
    }
  }
  return undefined;
}

/** Longest stretch of a stream held back while no event has named the model yet. */
export const MAX_UNVERIFIED_BYTES = 64 * 1024;

export interface StreamPinGuard {
  /**
   * The bytes that may go to the caller now (held back until an event names a model that honours the
   * pin), or the violation that ends the stream.
   */
  push(chunk: Uint8Array): GuardStep;
  /** At the end of the stream: a stream that never named its model is not trusted either. */
  end(): GuardStep;
}

export interface GuardStep {
  forward: Uint8Array[];
  violation?: PinViolation;
}

/**
 * Checks a server-sent event stream: nothing is forwarded until the first event that names the model
 * (OpenAI: the first chunk; Anthropic: `message_start`) honours the pin; afterwards every event that
 * names a model is checked again, so a backend cannot switch models mid-stream.
 */
export function createStreamPinGuard(format: WireFormat, pin: ModelPin): StreamPinGuard {
  const decoder = new TextDecoder();
  const unnamed: PinViolation = { backend: pin.backendId, requested: pin.requested, claimed: null, reason: "no_model_named" };
  let partial = "";
  /** Chunks held back until the model is verified; `undefined` once it is. */
  let held: Uint8Array[] | undefined = [];
  let heldBytes = 0;
  let verified = false;

  /** The first violation among whole lines; marks the stream verified when a line honours the pin. */
  function inspect(lines: string): PinViolation | undefined {
    // Most chunks name no model (Anthropic: only message_start does): skip them unsplit.
    if (!lines.includes('"model"')) return undefined;
    for (const line of lines.split("\n")) {
      if (!line.startsWith("data:") || !line.includes('"model"')) continue;
      let event: unknown;
      try {
        event = JSON.parse(line.slice(5));
      } catch {
        continue; // not JSON: it names no model
      }
      const claim = isRecord(event) ? claimOf(format, event) : undefined;
      if (claim === undefined) continue;
      const violation = checkClaim(format, pin, claim);
      if (violation) return violation;
      verified = true;
    }
    return undefined;
  }

  function step(chunk: Uint8Array | undefined, lines: string): GuardStep {
    const violation = inspect(lines);
    if (violation) return { forward: [], violation };
    if (!held) return { forward: chunk ? [chunk] : [] };
    if (chunk) {
      held.push(chunk);
      heldBytes += chunk.byteLength;
    }
    if (verified) {
      const released = held;
      held = undefined;
      return { forward: released };
    }
    return heldBytes > MAX_UNVERIFIED_BYTES ? { forward: [], violation: unnamed } : { forward: [] };
  }

  return {
    push(chunk) {
      const text = partial + decoder.decode(chunk, { stream: true });
      const end = text.lastIndexOf("\n");
      // Only whole lines are read; the rest waits for the next chunk (bounded like the held bytes).
      partial = end < 0 ? text.slice(-MAX_UNVERIFIED_BYTES) : text.slice(end + 1);
      return step(chunk, end < 0 ? "" : text.slice(0, end));
    },
    end() {
      const last = step(undefined, partial + decoder.decode());
      partial = "";
      if (last.violation || !held) return last;
      return { forward: [], violation: unnamed };
    },
  };
}
