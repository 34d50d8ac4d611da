/**
 * Plane 5 entry: the configuration the gateway trusts. One signed bundle (registry, policy bundle,
 * entity seed; see bundle-format.ts) is read from KV, verified against the pinned keys, validated
 * and compiled once per content version, and swapped in as one immutable `GatewayConfig`. A bundle
 * that fails any check never replaces the last good configuration, and its refusal is audited once;
 * with none in force, every request is refused (fail closed).
 *
 * Rollback: versions only go forward from the version in force in this isolate, and never below the
 * pinned floor `BUNDLE_MIN_VERSION`. A cold isolate knows only the floor; see the README.
 */
import { GatewayError } from "../errors.ts";
import { sha256Hex } from "../lib/encoding.ts";
import { isLocalDevelopment, loopbackOrigins } from "../network/addresses.ts";
import { compilePolicy, type PolicyDecisionPoint } from "../policy/index.ts";
import { BUNDLE_KEY } from "./bundle-format.ts";
import { BundleError, verifyBundle } from "./bundle-verify.ts";
import { worldEntities } from "./entities.ts";
import { parseRegistry, type Registry } from "./registry.ts";
import { importTrustedKeys, type TrustedKeys } from "./trusted-keys.ts";

export type { Backend, Issuer, Level, McpServer, Registry, Tenant, Tier, Tool, Transmitter, TrustDomain, Workload } from "./registry.ts";
export { RegistryError, parseRegistry } from "./registry.ts";
export { worldEntities } from "./entities.ts";
export { workloadGate, type WorkloadVerdict } from "./gate.ts";
export { BUNDLE_KEY } from "./bundle-format.ts";
export type { BundleRefusalCode } from "./bundle-verify.ts";

export interface GatewayConfig {
  /** SHA-256 of the bundle as stored: changes whenever anything the gateway trusts changes. */
  readonly version: string;
  /** The signed, monotonically increasing bundle version. */
  readonly bundleVersion: number;
  /** Key id of the pinned key whose signature was accepted. */
  readonly signedBy: string;
  readonly registry: Registry;
  readonly pdp: PolicyDecisionPoint;
}

/** The Worker bindings the configuration source reads. */
export interface ConfigBindings {
  CONFIG: KVNamespace;
  /** How long (ms) an isolate trusts its in-memory configuration before rereading KV. */
  CONFIG_REFRESH_MS: string;
  /** JWK Set of the Ed25519 public keys whose bundles are trusted. */
  BUNDLE_TRUSTED_KEYS: string;
  /** Lowest bundle version any isolate accepts, cold ones included. */
  BUNDLE_MIN_VERSION: string;
  /** `loopback` on the local stack only (never in wrangler.toml): registry entries may name loopback. */
  VERITY_LOCAL_DEV?: string;
}

/** Why a bundle was refused: a signature-envelope refusal, or a check after it. */
export type ConfigRefusalCode =
  | BundleError["code"]
  | "bundle_missing"
  | "bundle_version_reused"
  | "config_invalid"
  | "trust_config_invalid";

/** What the source asks to be audited (in the `_config` log): a bundle put in force or refused. */
export type ConfigEvent =
  | { type: "config_loaded"; bundleDigest: string; bundleVersion: number; signedBy: string; replaced: string | null }
  | { type: "config_refused"; bundleDigest: string | null; code: ConfigRefusalCode; reason: string; kept: string | null; keptBundleVersion: number | null };

export type ConfigAudit = (event: ConfigEvent) => Promise<void>;

export interface ConfigSourceOptions {
  now?: () => number;
}

export interface ConfigSource {
  /**
   * The configuration in force; KV is reread when the copy in memory is older than
   * `CONFIG_REFRESH_MS`. Verification runs only when the stored bundle's bytes change.
   */
  current(env: ConfigBindings, audit?: ConfigAudit): Promise<GatewayConfig>;
}

class ConfigRefusal extends Error {
  override readonly name = "ConfigRefusal";
  constructor(
    readonly code: ConfigRefusalCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

function refusalOf(error: unknown): ConfigRefusal {
  if (error instanceof ConfigRefusal) return error;
  if (error instanceof BundleError) return new ConfigRefusal(error.code, error.message, { cause: error });
  return new ConfigRefusal("config_invalid", `the signed configuration does not validate: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
}

/** Pinned keys, imported once per distinct `BUNDLE_TRUSTED_KEYS` text (one per deployment in practice). */
const keysByText = new Map<string, Promise<TrustedKeys>>();

function trustedKeys(text: string | undefined): Promise<TrustedKeys> {
  const key = text ?? "";
  let keys = keysByText.get(key);
  if (!keys) {
    keys = importTrustedKeys(key).catch((cause: unknown) => {
      throw new ConfigRefusal("trust_config_invalid", `BUNDLE_TRUSTED_KEYS cannot be used: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    });
    keysByText.set(key, keys);
  }
  return keys;
}

function localDevelopment(env: ConfigBindings): boolean {
  try {
    return isLocalDevelopment(env.VERITY_LOCAL_DEV);
  } catch (cause) {
    throw new ConfigRefusal("trust_config_invalid", cause instanceof Error ? cause.message : String(cause), { cause });
  }
}

function minVersionFloor(text: string | undefined): number {
  const floor = Number(text ?? "0");
  if (!Number.isSafeInteger(floor) || floor < 0) throw new ConfigRefusal("trust_config_invalid", "BUNDLE_MIN_VERSION must be a non-negative integer");
  return floor;
}

/** Verifies, validates and compiles one bundle; throws ConfigRefusal. */
async function build(bytes: Uint8Array, digest: string, env: ConfigBindings, inForce: GatewayConfig | undefined): Promise<GatewayConfig> {
  const keys = await trustedKeys(env.BUNDLE_TRUSTED_KEYS);
  const minVersion = Math.max(minVersionFloor(env.BUNDLE_MIN_VERSION), inForce?.bundleVersion ?? 0);
  const bundle = await verifyBundle(bytes, keys, { minVersion });
  if (inForce && bundle.version === inForce.bundleVersion) {
    throw new ConfigRefusal("bundle_version_reused", `bundle version ${bundle.version} is in force with other content; a new bundle needs a new version`);
  }
  const registry = parseRegistry(bundle.documents.registry);
  const loopback = loopbackOrigins(registry.origins);
  if (loopback.length > 0 && !localDevelopment(env)) {
    throw new ConfigRefusal("config_invalid", `the registry names loopback destinations (${loopback.join(", ")}), allowed only in local development`);
  }
  const stored = bundle.documents.entities;
  if (!Array.isArray(stored)) throw new ConfigRefusal("config_invalid", "the entities document must be an array");
  const pdp = compilePolicy(bundle.documents.policy, worldEntities(registry, stored));
  return { version: digest, bundleVersion: bundle.version, signedBy: bundle.keyid, registry, pdp };
}

/**
 * One per isolate. Concurrent requests share one in-flight load; a refused bundle keeps the last
 * good configuration, so a bad publish cannot take the gateway down or open it up. The refusal is
 * remembered by digest, so the same bad bytes are neither reverified nor re-audited on every refresh.
 */
export function createConfigSource(options: ConfigSourceOptions = {}): ConfigSource {
  const now = options.now ?? Date.now;
  let inForce: GatewayConfig | undefined;
  let refused: { digest: string | null; refusal: ConfigRefusal } | undefined;
  let checkedAt = -Infinity;
  let inflight: Promise<GatewayConfig> | undefined;

  async function report(audit: ConfigAudit | undefined, event: ConfigEvent): Promise<void> {
    if (event.type === "config_refused") console.error(JSON.stringify({ event: "config_refused", code: event.code, kept: event.kept, reason: event.reason }));
    try {
      await audit?.(event);
    } catch (error) {
      // The decision stands either way; an audit outage must not swap in an unverified bundle.
      console.error(JSON.stringify({ event: "config_audit_failed", type: event.type, error: String(error) }));
    }
  }

  function inForceOr(refusal: ConfigRefusal): GatewayConfig {
    if (inForce) return inForce;
    throw new GatewayError("config_unavailable", "the gateway has no verified configuration; every request is refused", { cause: refusal });
  }

  async function refresh(env: ConfigBindings, audit: ConfigAudit | undefined): Promise<GatewayConfig> {
    let bytes: ArrayBuffer | null;
    try {
      bytes = await env.CONFIG.get(BUNDLE_KEY, "arrayBuffer");
    } catch (cause) {
      // KV unreachable is an outage, not a refused bundle: keep what is in force, audit nothing.
      checkedAt = now();
      console.error(JSON.stringify({ event: "config_unreadable", kept: inForce?.version ?? null, error: String(cause) }));
      return inForceOr(new ConfigRefusal("bundle_missing", "the configuration store cannot be read", { cause }));
    }
    checkedAt = now();
    const digest = bytes === null ? null : await sha256Hex(new Uint8Array(bytes));
    if (inForce && digest === inForce.version) return inForce;
    if (refused && refused.digest === digest) return inForceOr(refused.refusal);
    try {
      if (bytes === null || digest === null) throw new ConfigRefusal("bundle_missing", `no configuration bundle is published at ${BUNDLE_KEY}`);
      const next = await build(new Uint8Array(bytes), digest, env, inForce);
      const replaced = inForce?.version ?? null;
      inForce = next;
      refused = undefined;
      await report(audit, { type: "config_loaded", bundleDigest: digest, bundleVersion: next.bundleVersion, signedBy: next.signedBy, replaced });
      return next;
    } catch (error) {
      const refusal = refusalOf(error);
      refused = { digest, refusal };
      await report(audit, {
        type: "config_refused",
        bundleDigest: digest,
        code: refusal.code,
        reason: refusal.message,
        kept: inForce?.version ?? null,
        keptBundleVersion: inForce?.bundleVersion ?? null,
      });
      return inForceOr(refusal);
    }
  }

  return {
    current(env, audit) {
      if (inForce && now() - checkedAt < Number(env.CONFIG_REFRESH_MS)) return Promise.resolve(inForce);
      inflight ??= refresh(env, audit).finally(() => {
        inflight = undefined;
      });
      return inflight;
    },
  };
}
