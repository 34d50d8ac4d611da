/**
 * Routes over the tenant's payload vault (worker/data/vault):
 *
 *   POST /admin/{tenant}/erasure  `{"subject": "<id>"}`  crypto-shreds a data subject: needs the PDP's
 *        `administer` on the tenant; the decision is committed first, the erasure's result after it.
 *   GET  /audit/{tenant}/payload/{id}  decrypts one kept payload for the tenant's auditor (`read_audit`,
 *        audited like every audit read); an erased subject's payload answers 410 `payload_erased`.
 */
import type { Context } from "hono";
import { authorizeAuditor } from "./audit-routes.ts";
import { authenticateCaller, commit, decisionRecord, principalRef, requestEnvironment, stepUpRequired, type PipelineDeps } from "./caller.ts";
import { checkSubject, vaultFailure, vaultOf, VaultError } from "./data/vault/index.ts";
import type { AppEnv } from "./env.ts";
import { GatewayError } from "./errors.ts";
import { base64 } from "./lib/encoding.ts";
import { readJsonBody } from "./network/index.ts";
import { tenantActionRequest, type TenantActionFacts } from "./policy/index.ts";

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

/** `POST /admin/{tenant}/erasure`: destroys the subject's data keys in the tenant's vault. */
export async function handleErasure(c: Context<AppEnv>, deps: PipelineDeps): Promise<Response> {
  const state = c.var.state;
  const sink = deps.audit(c.env);
  const { config, principal } = await authenticateCaller(c, deps);
  const tenantId = c.req.param("tenant") ?? "";
  const tenant = config.registry.tenants.get(tenantId);
  if (tenant === undefined) throw new GatewayError("not_found", "no such tenant");
  const subject = subjectOf((await readJsonBody(c.req.raw, MAX_ERASURE_BODY_BYTES)).json);
  const resource = { type: "Tenant", id: tenant.id };
  if (principal.kind !== "user") {
    await commit(sink, decisionRecord(state, principal, { action: "administer", what: "erasure", subject, resource, decision: "deny", code: "forbidden", configVersion: config.version }));
    throw new GatewayError("forbidden", "erasure is for a tenant's administrators");
  }
  const facts: TenantActionFacts = {
    ...requestEnvironment(principal, c.req.raw, state.receivedAt),
    principal: { ...principalRef(principal), type: "User" },
    tenant: tenant.id,
  };
  const decision = config.pdp.decide(tenantActionRequest("administer", facts));
  await commit(
    sink,
    decisionRecord(state, principal, {
      action: "administer",
      what: "erasure",
      subject,
      resource,
      decision: decision.effect,
      reasons: decision.reasons,
      errors: decision.errors,
      obligations: decision.obligations,
      policyVersion: decision.policyVersion,
      configVersion: config.version,
      facts,
      entitySlice: decision.entitySlice,
    }),
  );
  if (decision.effect !== "allow") {
    throw stepUpRequired(decision.obligations) ?? new GatewayError("policy_denied", "erasing data subjects of this tenant is not allowed by policy");
  }

  let reply;
  try {
    reply = await vaultOf(c.env, tenant).erase(tenant.id, subject);
  } catch (cause) {
    throw new GatewayError("vault_unavailable", "the payload vault is unavailable; nothing was erased", { cause });
  }
  if (!reply.ok) throw vaultFailure(reply);
  const { erasedAt, dataKeys, payloads } = reply.value;
  // Key ids only: what was destroyed, provably, without anything that could reopen it.
  await commit(sink, {
    type: "erasure",
    requestId: state.requestId,
    tenant: tenant.id,
    time: new Date(erasedAt).toISOString(),
    subject,
    dataKeysDestroyed: dataKeys,
    payloadsUnreadable: payloads,
  });
  return c.json({ subject, erasedAt: new Date(erasedAt).toISOString(), dataKeysDestroyed: dataKeys.length, payloadsUnreadable: payloads });
}

/** `GET /audit/{tenant}/payload/{id}`: one kept payload, decrypted for the tenant's auditor. */
export async function handlePayloadRead(c: Context<AppEnv>, deps: PipelineDeps): Promise<Response> {
  const payloadId = c.req.param("id") ?? "";
  const tenant = await authorizeAuditor(c, deps, `payload:${payloadId}`);
  let reply;
  try {
    reply = await vaultOf(c.env, tenant).read(tenant.id, payloadId);
  } catch (cause) {
    throw new GatewayError("vault_unavailable", "the payload vault is unavailable", { cause });
  }
  if (!reply.ok) throw vaultFailure(reply);
  const { plaintext, ...meta } = reply.value;
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
