/**
 * What the `verity bundle …` commands share: the pinned keys and floor of wrangler.toml, reading and
 * verifying a bundle file exactly as the gateway does (signature, statement, digests, then the same
 * registry validation and strict Cedar compile), and running wrangler.
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { BundleError, type VerifiedBundle, verifyBundle } from "../../worker/workload/bundle-verify.ts";
import { worldEntities } from "../../worker/workload/entities.ts";
import { parseRegistry } from "../../worker/workload/registry.ts";
import { importTrustedKeys } from "../../worker/workload/trusted-keys.ts";
import { compilePolicy } from "../cedar-node.ts";
import { REPO_ROOT } from "./paths.ts";

/** A string var from wrangler.toml's [vars] (a basic string, whose escapes are JSON's). */
export function wranglerVar(name: string, path = join(REPO_ROOT, "wrangler.toml")): string | undefined {
  let section = "";
  for (const raw of readFileSync(path, "utf8").split("\n")) {
    const line = raw.trim();
    const header = /^\[\[?([^\]]+)\]\]?$/.exec(line);
    if (header) section = header[1]!.trim();
    const match = new RegExp(`^${name}\\s*=\\s*("(?:[^"\\\\]|\\\\.)*")\\s*(#.*)?$`).exec(line);
    if (section === "vars" && match) return JSON.parse(match[1]!) as string;
  }
  return undefined;
}

export interface BundleCheck {
  bundle: VerifiedBundle;
  /** The policy version (compile) the gateway would put in force. */
  policyVersion: string;
}

/** A refusal with the gateway's code (bundle_* or config_invalid), for the operator. */
export class BundleCheckError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export async function checkBundle(bytes: Uint8Array, trustedKeysText: string, minVersion: number): Promise<BundleCheck> {
  const keys = await importTrustedKeys(trustedKeysText).catch((e: unknown) => {
    throw new BundleCheckError("trust_config_invalid", e instanceof Error ? e.message : String(e));
  });
  let bundle: VerifiedBundle;
  try {
    bundle = await verifyBundle(bytes, keys, { minVersion });
  } catch (error) {
    if (error instanceof BundleError) throw new BundleCheckError(error.code, error.message);
    throw error;
  }
  try {
    const registry = parseRegistry(bundle.documents.registry);
    const entities = bundle.documents.entities;
    if (!Array.isArray(entities)) throw new TypeError("the entities document must be an array");
    const pdp = compilePolicy(bundle.documents.policy, worldEntities(registry, entities));
    return { bundle, policyVersion: pdp.version };
  } catch (error) {
    throw new BundleCheckError("config_invalid", error instanceof Error ? error.message : String(error));
  }
}

/**
 * `--trusted-keys` as a file, or wrangler.toml's BUNDLE_TRUSTED_KEYS (what the deployed gateway pins).
 * The repository's wrangler.toml pins none; locally, pass `--trusted-keys dev/signing/trusted-keys.json`.
 */
export function trustedKeysText(option: string | undefined): string {
  if (option !== undefined) return readFileSync(resolve(option), "utf8");
  const pinned = wranglerVar("BUNDLE_TRUSTED_KEYS");
  const pinsNone = pinned === undefined || (JSON.parse(pinned) as { keys?: unknown[] }).keys?.length === 0;
  if (pinsNone) {
    throw new BundleCheckError("trust_config_invalid", "wrangler.toml pins no BUNDLE_TRUSTED_KEYS; pass --trusted-keys <JWK Set file> (dev: dev/signing/trusted-keys.json)");
  }
  return pinned!;
}

/** `--min-version`, or wrangler.toml's BUNDLE_MIN_VERSION, or 1. */
export function minVersion(option: string | undefined): number {
  const text = option ?? wranglerVar("BUNDLE_MIN_VERSION") ?? "1";
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 0) throw new BundleCheckError("trust_config_invalid", `minimum version ${JSON.stringify(text)} is not a non-negative integer`);
  return value;
}

const WRANGLER = join(REPO_ROOT, "node_modules", "wrangler", "bin", "wrangler.js");

/** Runs wrangler offline and quietly; resolves with its output, rejects with it on a non-zero exit. */
export function runWrangler(args: string[]): Promise<string> {
  return new Promise((done, fail) => {
    const env = { ...process.env, WRANGLER_SEND_METRICS: "false", WRANGLER_HIDE_BANNER: "true", CI: "true", NO_COLOR: "1" };
    const child = spawn(process.execPath, [WRANGLER, ...args], { cwd: REPO_ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr.on("data", (d: Buffer) => (output += d.toString()));
    child.once("error", fail);
    child.once("exit", (code) => (code === 0 ? done(output) : fail(new Error(`wrangler ${args.slice(0, 3).join(" ")} failed (${code}):\n${output}`))));
  });
}
