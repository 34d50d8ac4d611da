/**
 * Plane 3's entry in the Worker: the policy decision point (`pdp.ts`) over cedar-wasm loaded the
 * Workers way. Node tools (the CLI) import `pdp.ts` and provide their own engine.
 */
import { provideCedarEngine } from "./engine.ts";
import { loadWorkersCedar } from "./engine-workers.ts";

provideCedarEngine(loadWorkersCedar);

export * from "./pdp.ts";
