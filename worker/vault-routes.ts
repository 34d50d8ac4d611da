/**
 * Routes over the tenant's payload vault (worker/data/vault):
 *
 *   POST /admin/{tenant}/erasure  `{"subject": "<id>"}`  crypto-shreds a data subject: needs the PDP's
 *        `administer` on the tenant; the decision is committed first, the erasure's result after it.
 *   POST /admin/{tenant}/vault/rewrap  after a KEK rotation, re-wraps the tenant's data keys (`administer`).
 *   GET  /audit/{tenant}/payload/{id}  decrypts one kept payload for the tenant's auditor (`read_audit`,
 *        audited like every audit read); an erased subject's payload answers 410 `payload_erased`.
 */
import type { Context } from "hono";
import { authorizeAuditor } from "./audit-routes.ts";
import { authenticateCaller, authorizeTenantAction, commit, type PipelineDeps } from "./caller.ts";
import { checkSubject, vaultFailure, vaultOf, VaultError, type VaultReply } from "./data/vault/index.ts";
import type { AppEnv } from "./env.ts";
import { GatewayError } from "./errors.ts";
import { base64 } from "./lib/encoding.ts";
import { readJsonBody } from "./network/index.ts";
import type { Tenant } from "./workload/index.ts";

/** An erasure request is one small JSON object. */
const MAX_ERASURE_BODY_BYTES = 4096;

function subjectOf(json: unknown): string {
  const subject = typeof json === "object" && json !== null && !Array.isArray(json) ? (json as Record<string, unknown>).subject : undefined;
  try {
    return checkSubject(subject);
  } catch (error) {
    throw new GatewayError("invalid_request", error instanceof VaultError ? `"subject": ${error.message}` : '"subject" is required', { cause: error });
  }
}

/**
 * The tenant a person may administer (the PDP's `administer`, itself audited with what `describe`
 * reads of the request); throws otherwise.
 */
async function authorizeAdministrator(
  c: Context<AppEnv>,
  deps: PipelineDeps,
  describe: () => Promise<{ what: string; subject?: string }>,
): Promise<Tenant> {
  const caller = await authenticateCaller(c, deps);
  // Read after authentication: an anonymous caller learns nothing about the request's shape.
  const fields = await describe();
  return authorizeTenantAction(c, deps, caller, "administer", fields, {
    notPerson: "administration is for a tenant's administrators",
    notAllowed: "administering this tenant is not allowed by policy",
  });
}

async function askVault<T>(ask: () => Promise<VaultReply<T>>, unavailable: string): Promise<T> {
  let reply: VaultReply<T>;
  try {
    reply = await ask();
  } catch (cause) {
    throw new GatewayError("vault_unavailable", unavailable, { cause });
  }
  if (!reply.ok) throw vaultFailure(reply);
  return reply.value;
}

/** `POST /admin/{tenant}/erasure`: destroys the subject's data keys in the tenant's vault. */
export async function handleErasure(c: Context<AppEnv>, deps: PipelineDeps): Promise<Response> {
  let subject = "";
  const tenant = await authorizeAdministrator(c, deps, async () => {
    subject = subjectOf((await readJsonBody(c.req.raw, MAX_ERASURE_BODY_BYTES)).json);
    return { what: "erasure", subject };
  });
  const vault = vaultOf(c.env, tenant);
  const { erasedAt, dataKeys, payloads } = await askVault(() => vault.erase(tenant.id, subject), "the payload vault is unavailable; nothing was erased");
  // Key ids only: what was destroyed, provably, without anything that could reopen it.
  await commit(deps.audit(c.env), {
    type: "erasure",
    requestId: c.var.state.requestId,
    tenant: tenant.id,
    time: new Date(erasedAt).toISOString(),
    subject,
    dataKeysDestroyed: dataKeys,
    payloadsUnreadable: payloads,
  });
  return c.json({ subject, erasedAt: new Date(erasedAt).toISOString(), dataKeysDestroyed: dataKeys.length, payloadsUnreadable: payloads });
}

/**
 * `POST /admin/{tenant}/vault/rewrap`: after a KEK rotation (`KEK_<TENANT>` = "new,old"), wraps every
 * data key of the tenant under the new KEK, so the old one can be dropped from the secret.
 */
export async function handleRewrap(c: Context<AppEnv>, deps: PipelineDeps): Promise<Response> {
  const tenant = await authorizeAdministrator(c, deps, async () => ({ what: "rewrap" }));
  const vault = vaultOf(c.env, tenant);
  const { rewrapped, kekId } = await askVault(() => vault.rewrap(tenant.id), "the payload vault is unavailable; nothing was re-wrapped");
  await commit(deps.audit(c.env), { type: "rewrap", requestId: c.var.state.requestId, tenant: tenant.id, time: new Date().toISOString(), kekId, rewrapped });
  return c.json({ kekId, rewrapped });
}

/** `GET /audit/{tenant}/payload/{id}`: one kept payload, decrypted for the tenant's auditor. */
export async function handlePayloadRead(c: Context<AppEnv>, deps: PipelineDeps): Promise<Response> {
  const payloadId = c.req.param("id") ?? "";
  const tenant = await authorizeAuditor(c, deps, `payload:${payloadId}`);
  const vault = vaultOf(c.env, tenant);
  const opened = await askVault(() => vault.read(tenant.id, payloadId), "the payload vault is unavailable");
  const { plaintext, ...meta } = opened;
  let text: string | undefined;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(plaintext);
  } catch {
    text = undefined;
  }
  return c.json({
    ...meta,
    createdAt: new Date(meta.createdAt).toISOString(),
    expiresAt: new Date(meta.expiresAt).toISOString(),
    content: base64(plaintext),
    ...(text === undefined ? {} : { text }),
  });
}
