/**
 * Plane 6's settings, read from Worker vars once per object (a bad value is a start-up TypeError).
 * Defaults are the production schedule; tests and the dev stack may shorten them.
 */
import { DEFAULT_AUDIT_ORIGIN } from "./checkpoint.ts";
import type { KeyRingPolicy } from "./key-ring-core.ts";
import { isKeyName } from "./note.ts";

/** The vars plane 6 reads; every one is optional. */
export interface VerifyVars {
  /** Checkpoint key name and origin prefix (`<origin>/<tenant>` per log). */
  AUDIT_ORIGIN?: string;
  /** Seconds between the checkpoints a growing log signs on its own. */
  CHECKPOINT_INTERVAL_S?: string;
  /** Seconds a signing key is the newest before a successor is created. */
  SIGNING_KEY_ROTATE_S?: string;
  /** Seconds old and new key both sign after the successor is created. */
  SIGNING_KEY_OVERLAP_S?: string;
  /** Seconds a key's public half stays published after it stops signing. */
  SIGNING_KEY_RETAIN_S?: string;
}

const DAY_S = 24 * 60 * 60;
export const DEFAULTS = {
  checkpointIntervalS: 60,
  rotateS: 30 * DAY_S,
  overlapS: 2 * DAY_S,
  // Longest life of something one key alone signed and that may still be relied on: a served
  // checkpoint is re-signed as soon as it lacks a current key, so a day is a wide margin.
  retainS: DAY_S,
} as const;

function seconds(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!/^\d{1,10}$/.test(raw) || value <= 0) throw new TypeError(`${name} must be a positive whole number of seconds`);
  return value;
}

export function auditOrigin(vars: VerifyVars): string {
  const origin = vars.AUDIT_ORIGIN ?? DEFAULT_AUDIT_ORIGIN;
  if (!isKeyName(origin)) throw new TypeError("AUDIT_ORIGIN must contain no spaces, \"+\" or control characters");
  return origin;
}

export function checkpointIntervalMs(vars: VerifyVars): number {
  return seconds("CHECKPOINT_INTERVAL_S", vars.CHECKPOINT_INTERVAL_S, DEFAULTS.checkpointIntervalS) * 1000;
}

export function keyRingPolicy(vars: VerifyVars): KeyRingPolicy {
  return {
    rotateMs: seconds("SIGNING_KEY_ROTATE_S", vars.SIGNING_KEY_ROTATE_S, DEFAULTS.rotateS) * 1000,
    overlapMs: seconds("SIGNING_KEY_OVERLAP_S", vars.SIGNING_KEY_OVERLAP_S, DEFAULTS.overlapS) * 1000,
    retainMs: seconds("SIGNING_KEY_RETAIN_S", vars.SIGNING_KEY_RETAIN_S, DEFAULTS.retainS) * 1000,
  };
}
