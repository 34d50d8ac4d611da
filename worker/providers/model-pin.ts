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
import { GatewayError, type WireFormat } from "../errors.ts";
import { serialise, type EventInspector, type InspectStep, type SseEvent } from "./sse.ts";
import { isRecord } from "./validate.ts";

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

/** Longest stretch of a stream (in characters of its events) held back while no event has named the model yet. */
export const MAX_UNVERIFIED_BYTES = 64 * 1024;

export function pinRefusal(): GatewayError {
  return new GatewayError("model_pin_violation", "the model backend answered as a model it is not pinned to serve; the reply was stopped");
}

/**
 * Checks a stream event by event: nothing is passed on until the first event that names the model
 * (OpenAI: the first chunk; Anthropic: `message_start`) honours the pin; afterwards every event that
 * names a model is checked again, so a backend cannot switch models mid-stream. A stream that never
 * names its model (by its end, or within MAX_UNVERIFIED_BYTES) is not trusted either.
 */
export function createStreamPinGuard(format: WireFormat, pin: ModelPin): EventInspector {
  const unnamed: PinViolation = { backend: pin.backendId, requested: pin.requested, claimed: null, reason: "no_model_named" };
  const stop = (pinViolation: PinViolation): InspectStep => ({ events: [], stop: { error: pinRefusal(), pinViolation } });
  /** Events held back until the model is verified; `undefined` once it is. */
  let held: SseEvent[] | undefined = [];
  let heldChars = 0;

  return {
    push(event) {
      const claim = event.data === undefined ? undefined : claimOf(format, event.data);
      if (claim !== undefined) {
        const violation = checkClaim(format, pin, claim);
        if (violation) return stop(violation);
      }
      if (!held) return { events: [event] };
      held.push(event);
      if (claim !== undefined) {
        const released = held;
        held = undefined;
        return { events: released };
      }
      heldChars += serialise(event).length;
      return heldChars > MAX_UNVERIFIED_BYTES ? stop(unnamed) : { events: [] };
    },
    end() {
      return held ? stop(unnamed) : { events: [] };
    },
  };
}
