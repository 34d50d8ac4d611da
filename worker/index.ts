/**
 * The Worker: the app of CONTRACTS.md's routes over the real planes, and the Durable Object classes.
 * Everything that can be prepared once per isolate (configuration source, JWKS cache) is created here,
 * outside any request.
 */
import { createApp } from "./app.ts";
import { createIdentity } from "./identity/index.ts";
import { createAuditSink } from "./verify/index.ts";
import { createConfigSource } from "./workload/index.ts";

export { AuditLog, KeyRing } from "./verify/index.ts";
export { ReplayCache } from "./identity/index.ts";
export { Revocations, RiskEngine } from "./verify/risk/index.ts";

export default createApp({
  config: createConfigSource(),
  authenticate: createIdentity({}),
  audit: (env) => createAuditSink(env.AUDIT_LOG),
});
