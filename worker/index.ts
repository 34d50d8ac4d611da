/**
 * The Worker: the app of CONTRACTS.md's routes over the real planes, and the Durable Object classes.
 * Everything that can be prepared once per isolate (configuration source, JWKS cache) is created here,
 * outside any request.
 */
import { createApp } from "./app.ts";
import { createIdentity } from "./identity/index.ts";
import { jurisdictionOfTenant, PlacementError } from "./lib/tenant-placement.ts";
import { createAuditSink } from "./verify/index.ts";
import { createContinuousVerification } from "./verify/risk/index.ts";
import { createConfigSource, type ConfigSource, type GatewayConfig } from "./workload/index.ts";

export { AuditLog, KeyRing } from "./verify/index.ts";
export { PayloadVault } from "./data/vault/index.ts";
export { ReplayCache } from "./identity/index.ts";
export { RateLimiter } from "./network/index.ts";
export { Revocations, RiskEngine } from "./verify/risk/index.ts";

const source = createConfigSource();
/** The tenants of the configuration this isolate last put in force: the one a record's request used. */
let tenantsInForce: GatewayConfig["registry"]["tenants"] | undefined;
const config: ConfigSource = {
  async current(env, audit) {
    const current = await source.current(env, audit);
    tenantsInForce = current.registry.tenants;
    return current;
  },
};

/**
 * Each tenant's revocations and its principals' risk engines in the tenant's jurisdiction. They are
 * only reached after this isolate has loaded a configuration (to authenticate, or to read a SET).
 */
const continuous = createContinuousVerification({
  jurisdictionOf: (tenant) =>
    jurisdictionOfTenant(tenant, async () => {
      if (tenantsInForce === undefined) throw new PlacementError("no configuration is in force yet to place tenant objects");
      return tenantsInForce;
    }),
});

export default createApp({
  config,
  authenticate: createIdentity({}),
  continuous,
  // Each tenant's log in the tenant's jurisdiction (worker/lib/tenant-placement.ts).
  audit: (env) =>
    createAuditSink(env.AUDIT_LOG, {
      vars: env,
      jurisdictionOf: (tenant) => jurisdictionOfTenant(tenant, async () => tenantsInForce ?? (await config.current(env)).registry.tenants),
    }),
});
