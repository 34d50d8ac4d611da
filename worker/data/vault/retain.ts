/**
 * Honouring `retain` obligations in the chat pipeline: the prompt (the caller's request body, whose
 * SHA-256 is the decision record's `requestDigest`) is sealed into the tenant's vault before the
 * upstream call, and the reply (the bytes the caller received, SSE or JSON) as it streams past.
 *
 * The prompt is awaited: an obligation that cannot be met stops the request (fail closed) before its
 * effect. The reply cannot be taken back once sent, so its storage runs in `waitUntil`; a failure is
 * recorded as `payload_failed`. Either way the audit log receives a `payload_stored` record with the
 * payload's reference, key ids and ciphertext digest, never the plaintext.
 */
import type { Obligation } from "../../policy/index.ts";
import type { AuditRecord, AuditSink } from "../../verify/index.ts";
import { GatewayError } from "../../errors.ts";
import { concatBytes } from "../../lib/encoding.ts";
import { MAX_PAYLOAD_BYTES, type PayloadKind, type StoredPayload } from "./core.ts";
import { vaultFailure, vaultOf, type VaultBindings } from "./edge.ts";
import type { VaultReply } from "./payload-vault.ts";

export interface RetentionContext {
  env: VaultBindings;
  sink: AuditSink;
  requestId: string;
  receivedAt: number;
  tenant: { id: string; jurisdiction: string };
  /** The data subject whose key seals the payloads (the principal's id). */
  subject: string;
  waitUntil(promise: Promise<unknown>): void;
}

export interface Retention {
  /** Seals the prompt when policy says to keep it; throws a GatewayError when it cannot. */
  keepPrompt(body: Uint8Array): Promise<void>;
  /** The reply, with its bytes also sealed as they pass when policy says to keep the output. */
  keepReply(response: Response): Response;
}

/** Days to keep each kind, from the decision's obligations: the longest asked for wins. */
export function retentionDays(obligations: readonly Obligation[]): Partial<Record<PayloadKind, number>> {
  const days: Partial<Record<PayloadKind, number>> = {};
  for (const obligation of obligations) {
    if (obligation.kind === "retain") days[obligation.what] = Math.max(days[obligation.what] ?? 0, obligation.days);
  }
  return days;
}

function payloadRecord(context: RetentionContext, stored: StoredPayload, truncated: boolean): AuditRecord {
  return {
    type: "payload_stored",
    requestId: context.requestId,
    tenant: context.tenant.id,
    time: new Date().toISOString(),
    payload: {
      id: stored.payloadId,
      kind: stored.kind,
      subject: stored.subject,
      kekId: stored.kekId,
      dekId: stored.dekId,
      ciphertextDigest: stored.ciphertextDigest,
      bytes: stored.bytes,
      truncated,
      expiresAt: new Date(stored.expiresAt).toISOString(),
    },
  };
}

async function seal(context: RetentionContext, kind: PayloadKind, days: number, plaintext: Uint8Array): Promise<StoredPayload> {
  let reply: VaultReply<StoredPayload>;
  try {
    reply = await vaultOf(context.env, context.tenant).store({
      tenant: context.tenant.id,
      subject: context.subject,
      kind,
      plaintext,
      createdAt: context.receivedAt,
      retainDays: days,
    });
  } catch (cause) {
    throw new GatewayError("vault_unavailable", "the payload vault is unavailable, so the request was refused", { cause });
  }
  if (!reply.ok) throw vaultFailure(reply);
  return reply.value;
}

/** Reads up to MAX_PAYLOAD_BYTES of a stream (then lets it go); `truncated` when there was more. */
async function firstBytes(stream: ReadableStream<Uint8Array>): Promise<{ bytes: Uint8Array; truncated: boolean }> {
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let length = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    const room = MAX_PAYLOAD_BYTES - length;
    chunks.push(value.length > room ? value.subarray(0, room) : value);
    length += Math.min(value.length, room);
    if (value.length > room) {
      // Cancelling this branch of the tee leaves the caller's branch running.
      await reader.cancel();
      return { bytes: concatBytes(chunks), truncated: true };
    }
  }
  return { bytes: concatBytes(chunks), truncated: false };
}

export function retentionFor(obligations: readonly Obligation[], context: RetentionContext): Retention {
  const days = retentionDays(obligations);
  return {
    async keepPrompt(body) {
      if (days.prompt === undefined) return;
      const stored = await seal(context, "prompt", days.prompt, body);
      try {
        await context.sink.commit(payloadRecord(context, stored, false));
      } catch (cause) {
        throw new GatewayError("audit_unavailable", "the audit log is unavailable, so the request was refused", { cause });
      }
    },
    keepReply(response) {
      if (days.output === undefined || response.body === null) return response;
      const [caller, kept] = response.body.tee();
      const outputDays = days.output;
      context.waitUntil(
        (async () => {
          try {
            const { bytes, truncated } = await firstBytes(kept);
            await context.sink.commit(payloadRecord(context, await seal(context, "output", outputDays, bytes), truncated));
          } catch (error) {
            const code = error instanceof GatewayError ? error.code : "internal";
            console.error(JSON.stringify({ event: "payload_failed", requestId: context.requestId, code, error: String(error) }));
            await context.sink
              .commit({ type: "payload_failed", requestId: context.requestId, tenant: context.tenant.id, time: new Date().toISOString(), kind: "output", code })
              .catch(() => undefined);
          }
        })(),
      );
      return new Response(caller, response);
    },
  };
}
