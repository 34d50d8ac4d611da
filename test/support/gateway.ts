/**
 * Drives the Worker in-process (workerd, real KV and Durable Objects) and reads back what the mock
 * backends received and what the audit log recorded. Web APIs only.
 */
import { env } from "cloudflare:test";
import { exports } from "cloudflare:workers";
import { MOCK_BACKENDS } from "../../dev/config.ts";
import seededTenants from "../../kv-seeds/tenants.json";
import { placedStub } from "../../worker/lib/tenant-placement.ts";

export const GATEWAY = "https://gateway.test";

export function gatewayFetch(path: string, init: RequestInit = {}): Promise<Response> {
  return (exports as unknown as { default: Fetcher }).default.fetch(`${GATEWAY}${path}`, init);
}

export function chatBody(text: string, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: text }], ...extra });
}

export function messagesBody(text: string, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ model: "claude-haiku-4-5", max_tokens: 256, messages: [{ role: "user", content: text }], ...extra });
}

export function bearer(token: string, extra: Record<string, string> = {}): Record<string, string> {
  return { authorization: `Bearer ${token}`, "content-type": "application/json", ...extra };
}

export interface ReceivedRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: unknown;
  aborted: boolean;
}

/** What a mock backend received, newest last (it keeps the last 50). */
export async function receivedBy(backendId: string): Promise<ReceivedRequest[]> {
  const spec = MOCK_BACKENDS.find((b) => b.id === backendId);
  if (!spec) throw new Error(`no mock backend ${backendId}`);
  const response = await fetch(`http://127.0.0.1:${spec.port}/__mock/requests`);
  return (await response.json()) as ReceivedRequest[];
}

/** The request a mock backend received whose body contains `marker`. */
export async function receivedWith(backendId: string, marker: string): Promise<ReceivedRequest | undefined> {
  return (await receivedBy(backendId)).find((r) => JSON.stringify(r.body).includes(marker));
}

export interface StoredRecord {
  type: string;
  requestId: string;
  tenant: string;
  decision?: string;
  [field: string]: unknown;
}

/** Every record in a tenant's audit log, in log order. */
export async function auditRecords(tenant: string): Promise<StoredRecord[]> {
  // Typed by hand: the generated RPC stub type of the whole class is too deep for tsc here.
  // Where the gateway writes it: the tenant's jurisdiction from the seeds (gateway logs `_…` have none).
  const jurisdiction = tenant.startsWith("_") ? null : ((seededTenants as Record<string, { jurisdiction: string }>)[tenant]?.jurisdiction ?? null);
  const stub = placedStub(env.AUDIT_LOG, tenant, jurisdiction, env) as unknown as {
    treeHead(): Promise<{ size: number }>;
    entries(start: number, end: number): Promise<Array<{ canonical: string }>>;
  };
  const head = await stub.treeHead();
  if (head.size === 0) return [];
  const page = await stub.entries(0, head.size);
  return page.map((entry) => JSON.parse(entry.canonical) as StoredRecord);
}

export async function auditFor(tenant: string, requestId: string): Promise<StoredRecord[]> {
  return (await auditRecords(tenant)).filter((r) => r.requestId === requestId);
}
