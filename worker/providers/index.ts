/** Wire formats, one file each, behind one interface; the pipeline never branches on the provider. */
import type { WireFormat } from "../errors.ts";
import { anthropic } from "./anthropic.ts";
import { openai } from "./openai.ts";
import type { WireProvider } from "./types.ts";

export type { UsageReport, WireProvider } from "./types.ts";
export { relayReply, upstreamRefused, type RelayOutcome } from "./relay.ts";
export { createBackendHealth, isolateHealth, type BackendHealth, type CircuitState } from "./health.ts";
export { attemptTimeout, exhausted, failureOf, FAILOVER_BUDGET_MS, MAX_ATTEMPTS, retriableStatus, type FailedAttempt } from "./failover.ts";

export const PROVIDERS: Readonly<Record<WireFormat, WireProvider>> = { openai, anthropic };
