/**
 * Whether a backend may receive a request now (plane 5, after policy chose it):
 *
 * - a backend that answered as a model it is not pinned to serve is **suspect** for `SUSPECT_SECONDS`
 *   and skipped by routing;
 * - a backend of the confidential tier (or any backend with an `attestation` policy) must hold a
 *   verified attestation, obtained with a fresh nonce from `POST {baseUrl}/attestation` through the
 *   egress firewall; without one it is ineligible (fail closed).
 *
 * State is per isolate, on purpose: the suspect marks, the verified attestations and the consumed
 * nonces live in memory keyed by the configuration's `Backend` object, so they cost no I/O on the
 * request path. Consequences (documented in the README): another isolate learns of a suspect backend
 * only from its own traffic; a newly published configuration starts with no marks and no cached
 * attestations (it may pin other keys); an isolate restart forgets the consumed nonces, which is
 * safe because each nonce is 32 random bytes chosen for one exchange.
 */
import { readTextAtMost, TooLargeError } from "../lib/bounded-read.ts";
import { base64url } from "../lib/encoding.ts";
import type { Egress } from "../network/index.ts";
import {
  AttestationError,
  prepareAttestationPolicy,
  verifyAttestation,
  type AttestationFailure,
  type PreparedAttestationPolicy,
  type VerifiedAttestation,
} from "./attestation.ts";
import type { Backend } from "./registry.ts";

/** How long a backend that broke its model pin is skipped. */
export const SUSPECT_SECONDS = 300;
/** Consumed nonces remembered per isolate (each lives far longer than any token's maxAgeSeconds). */
const NONCE_MEMORY = 4096;
/** An attestation service answers in well under this; the request waits no longer for it. */
const ATTESTATION_TIMEOUT_MS = 5000;
/** A token is a few KiB; a larger answer is refused unread. */
const MAX_ATTESTATION_REPLY_BYTES = 64 * 1024;
export const ATTESTATION_PATH = "/attestation";

export type WorkloadVerdict =
  | { eligible: true; attestation?: VerifiedAttestation & { cached: boolean } }
  | { eligible: false; code: "attestation_failed" | "backend_suspect"; reason: AttestationFailure | "model_pin_violation"; detail: string };

export interface WorkloadGate {
  check(backend: Backend, egress: Egress): Promise<WorkloadVerdict>;
  markSuspect(backend: Backend): void;
}

export interface WorkloadGateOptions {
  /** Milliseconds since the epoch. */
  now?: () => number;
}

/** Insertion-ordered set that forgets its oldest members beyond `capacity`. */
function boundedSet(capacity: number) {
  const members = new Set<string>();
  return {
    has: (value: string) => members.has(value),
    add(value: string) {
      members.add(value);
      if (members.size > capacity) members.delete(members.values().next().value as string);
    },
  };
}

function nonce(): string {
  return base64url(crypto.getRandomValues(new Uint8Array(32)));
}

async function fetchToken(backend: Backend, egress: Egress, sent: string): Promise<string> {
  let response: Response;
  try {
    response = await egress(`${backend.baseUrl}${ATTESTATION_PATH}`, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json" },
      body: JSON.stringify({ nonce: sent }),
      timeoutMs: Math.min(backend.timeoutMs, ATTESTATION_TIMEOUT_MS),
    });
  } catch (cause) {
    throw new AttestationError("unavailable", "the backend's attestation endpoint could not be reached", { cause });
  }
  if (response.status !== 200) {
    await response.body?.cancel().catch(() => undefined);
    throw new AttestationError("unavailable", `the attestation endpoint answered ${response.status}`);
  }
  let text: string;
  try {
    text = await readTextAtMost(response.body, MAX_ATTESTATION_REPLY_BYTES);
  } catch (cause) {
    if (cause instanceof TooLargeError) throw new AttestationError("malformed", "the attestation reply is too large", { cause });
    throw new AttestationError("unavailable", "the attestation reply broke off", { cause });
  }
  let reply: unknown;
  try {
    reply = JSON.parse(text);
  } catch (cause) {
    throw new AttestationError("malformed", "the attestation reply is not JSON", { cause });
  }
  const token = typeof reply === "object" && reply !== null ? (reply as { token?: unknown }).token : undefined;
  if (typeof token !== "string") throw new AttestationError("malformed", "the attestation reply has no token");
  return token;
}

export function createWorkloadGate(options: WorkloadGateOptions = {}): WorkloadGate {
  const now = options.now ?? Date.now;
  const suspectUntil = new WeakMap<Backend, number>();
  const verified = new WeakMap<Backend, VerifiedAttestation>();
  const inflight = new WeakMap<Backend, Promise<VerifiedAttestation>>();
  const policies = new WeakMap<Backend, Promise<PreparedAttestationPolicy>>();
  const consumed = boundedSet(NONCE_MEMORY);

  function policyOf(backend: Backend): Promise<PreparedAttestationPolicy> {
    let prepared = policies.get(backend);
    if (!prepared) {
      if (!backend.attestation) return Promise.reject(new AttestationError("not_configured", "the backend has no attestation policy"));
      prepared = prepareAttestationPolicy(backend.attestation).catch((cause: unknown) => {
        throw new AttestationError("not_configured", "the backend's pinned attestation keys are unusable", { cause });
      });
      policies.set(backend, prepared);
    }
    return prepared;
  }

  async function attest(backend: Backend, egress: Egress): Promise<VerifiedAttestation> {
    const policy = await policyOf(backend);
    const sent = nonce();
    try {
      const token = await fetchToken(backend, egress, sent);
      const attestation = await verifyAttestation(token, policy, { nonce: sent, consumed, now: Math.floor(now() / 1000) });
      verified.set(backend, attestation);
      return attestation;
    } finally {
      // Consumed whatever the outcome: a nonce answers one exchange only.
      consumed.add(sent);
    }
  }

  return {
    async check(backend, egress) {
      const until = suspectUntil.get(backend);
      if (until !== undefined && now() < until) {
        return { eligible: false, code: "backend_suspect", reason: "model_pin_violation", detail: "the backend recently answered as an unpinned model" };
      }
      if (backend.tier !== "confidential" && !backend.attestation) return { eligible: true };

      const cached = verified.get(backend);
      if (cached && now() < cached.relyUntil * 1000) return { eligible: true, attestation: { ...cached, cached: true } };
      // Concurrent requests share one attestation exchange.
      let pending = inflight.get(backend);
      if (!pending) {
        pending = attest(backend, egress).finally(() => inflight.delete(backend));
        inflight.set(backend, pending);
      }
      try {
        return { eligible: true, attestation: { ...(await pending), cached: false } };
      } catch (error) {
        // Fail closed: whatever went wrong, the backend is ineligible, and the refusal is audited.
        const failure = error instanceof AttestationError ? error : new AttestationError("unavailable", "the attestation check failed", { cause: error });
        return { eligible: false, code: "attestation_failed", reason: failure.reason, detail: failure.message };
      }
    },
    markSuspect(backend) {
      suspectUntil.set(backend, now() + SUSPECT_SECONDS * 1000);
      verified.delete(backend);
    },
  };
}

/** The isolate's gate, used by the pipeline. */
export const workloadGate: WorkloadGate = createWorkloadGate();
