/**
 * Plane 5 entry: the configuration the gateway trusts. Registry (tenants, issuers, backends, tools),
 * policy bundle and entity store are read from KV, validated and compiled once per content version,
 * and swapped in as one immutable `GatewayConfig`. A document that fails validation never replaces
 * the last good configuration; with none in force, every request is refused (fail closed).
 */
import { GatewayError } from "../errors.ts";
import { sha256Hex } from "../lib/encoding.ts";
import { compilePolicy, type PolicyDecisionPoint } from "../policy/index.ts";
import { worldEntities } from "./entities.ts";
import { parseRegistry, type Registry } from "./registry.ts";

export type { Backend, Issuer, Level, Registry, Tenant, Tier, Tool, TrustDomain, Workload } from "./registry.ts";
export { RegistryError, parseRegistry } from "./registry.ts";
export { worldEntities } from "./entities.ts";

/** KV keys of the configuration documents; `npm start` and the tests seed them from kv-seeds/. */
export const CONFIG_KEYS = { registry: "config/registry", policy: "config/policy", entities: "config/entities" } as const;

export interface GatewayConfig {
  /** Content hash over all three documents: changes whenever anything the gateway trusts changes. */
  readonly version: string;
  readonly registry: Registry;
  readonly pdp: PolicyDecisionPoint;
}

export interface ConfigSourceOptions {
  now?: () => number;
}

export interface ConfigSource {
  /** The configuration in force; KV is reread when the copy in memory is older than `refreshMs`. */
  current(kv: KVNamespace, refreshMs: number): Promise<GatewayConfig>;
}

function parseJson(key: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new GatewayError("config_unavailable", `configuration document ${key} is not valid JSON`, { cause });
  }
}

async function load(kv: KVNamespace): Promise<{ version: string; build: () => GatewayConfig }> {
  const [registryText, policyText, entitiesText] = await Promise.all([
    kv.get(CONFIG_KEYS.registry, "text"),
    kv.get(CONFIG_KEYS.policy, "text"),
    kv.get(CONFIG_KEYS.entities, "text"),
  ]);
  if (registryText === null || policyText === null || entitiesText === null) {
    throw new GatewayError("config_unavailable", "the gateway has no configuration (registry, policy and entities must be published)");
  }
  const version = await sha256Hex(`${registryText}\n${policyText}\n${entitiesText}`);
  return {
    version,
    build() {
      const registry = parseRegistry(parseJson(CONFIG_KEYS.registry, registryText));
      const stored = parseJson(CONFIG_KEYS.entities, entitiesText);
      if (!Array.isArray(stored)) throw new GatewayError("config_unavailable", `${CONFIG_KEYS.entities} must be an array`);
      const pdp = compilePolicy(parseJson(CONFIG_KEYS.policy, policyText), worldEntities(registry, stored));
      return { version, registry, pdp };
    },
  };
}

/**
 * One per isolate. Concurrent requests share one in-flight load; a failed load keeps the last good
 * configuration (and is logged), so a bad publish cannot take the gateway down or open it up.
 */
export function createConfigSource(options: ConfigSourceOptions = {}): ConfigSource {
  const now = options.now ?? Date.now;
  let inForce: GatewayConfig | undefined;
  let checkedAt = -Infinity;
  let inflight: Promise<GatewayConfig> | undefined;

  async function refresh(kv: KVNamespace): Promise<GatewayConfig> {
    try {
      const loaded = await load(kv);
      if (inForce?.version !== loaded.version) inForce = loaded.build();
    } catch (error) {
      if (!inForce) {
        throw error instanceof GatewayError
          ? error
          : new GatewayError("config_unavailable", "the gateway's configuration is invalid; every request is refused", { cause: error });
      }
      console.error(JSON.stringify({ event: "config_refused", kept: inForce.version, error: String(error) }));
    } finally {
      checkedAt = now();
    }
    return inForce;
  }

  return {
    current(kv, refreshMs) {
      if (inForce && now() - checkedAt < refreshMs) return Promise.resolve(inForce);
      inflight ??= refresh(kv).finally(() => {
        inflight = undefined;
      });
      return inflight;
    },
  };
}
