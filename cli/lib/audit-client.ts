/**
 * The auditor's HTTP client for `/audit/{tenant}/…` and the gateway's JWKS. The auditor token comes
 * from VERITY_TOKEN; nothing here prints it.
 */
import { UsageError } from "./command.ts";

export class GatewayRequestError extends Error {
  override readonly name = "GatewayRequestError";
}

export interface AuditTarget {
  gateway: string;
  tenant: string;
  token: string;
}

export function auditTarget(gateway: string | undefined, tenant: string | undefined): AuditTarget {
  if (gateway === undefined || tenant === undefined) throw new UsageError("--gateway and --tenant go together");
  let url: URL;
  try {
    url = new URL(gateway);
  } catch {
    throw new UsageError(`--gateway ${JSON.stringify(gateway)} is not a URL`);
  }
  const token = process.env.VERITY_TOKEN;
  if (token === undefined || token === "") throw new UsageError("set VERITY_TOKEN to an auditor's access token");
  return { gateway: url.origin, tenant, token };
}

async function get(target: AuditTarget, path: string): Promise<Response> {
  const url = `${target.gateway}/audit/${encodeURIComponent(target.tenant)}${path}`;
  let response: Response;
  try {
    response = await fetch(url, { headers: { authorization: `Bearer ${target.token}` } });
  } catch (cause) {
    throw new GatewayRequestError(`the gateway at ${target.gateway} is unreachable`, { cause });
  }
  if (!response.ok) {
    const body = await response.text();
    let code = "";
    try {
      code = String((JSON.parse(body) as { error?: { code?: unknown } }).error?.code ?? "");
    } catch {
      // not the gateway's error shape; the status says enough
    }
    throw new GatewayRequestError(`GET ${path.split("?")[0]}: HTTP ${response.status}${code ? ` ${code}` : ""}`);
  }
  return response;
}

/** The latest signed checkpoint (issued on demand) and the size it covers. */
export async function fetchCheckpoint(target: AuditTarget): Promise<{ size: number; note: string }> {
  const response = await get(target, "/checkpoint");
  const size = Number(response.headers.get("x-audit-tree-size"));
  if (!Number.isSafeInteger(size) || size < 0) throw new GatewayRequestError("the checkpoint response carries no tree size");
  return { size, note: await response.text() };
}

/**
 * The export: entries [0, size) of the latest checkpoint's size, page by page, then the checkpoint.
 * Yields JSON Lines (without newlines). Reading grows the log (each read is audited), which is why
 * the checkpoint is fetched first and fixes what is exported.
 */
export async function* exportLines(target: AuditTarget): AsyncGenerator<string> {
  const { size, note } = await fetchCheckpoint(target);
  for (let start = 0; start < size; ) {
    const response = await get(target, `/export?start=${start}&end=${size}`);
    const lines = (await response.text()).split("\n").filter((line) => line !== "");
    if (lines.length === 0) throw new GatewayRequestError(`the gateway returned no entries from ${start}`);
    for (const line of lines) yield line;
    const last = JSON.parse(lines.at(-1)!) as { index?: unknown };
    // Resume after the last index served (a deleted row leaves a gap the verifier will name).
    start = typeof last.index === "number" && last.index >= start ? last.index + 1 : start + lines.length;
  }
  yield JSON.stringify({ checkpoint: note });
}

export async function fetchConsistencyProof(target: AuditTarget, from: number, to: number): Promise<string[]> {
  const response = await get(target, `/proof/consistency?from=${from}&to=${to}`);
  const body = (await response.json()) as { proof?: unknown };
  if (!Array.isArray(body.proof) || !body.proof.every((h) => typeof h === "string")) throw new GatewayRequestError("malformed consistency proof");
  return body.proof as string[];
}

/** The gateway's JWKS (`/.well-known/jwks.json`), unauthenticated. */
export async function fetchJwks(gateway: string): Promise<unknown> {
  let response: Response;
  try {
    response = await fetch(`${new URL(gateway).origin}/.well-known/jwks.json`);
  } catch (cause) {
    throw new GatewayRequestError(`the gateway at ${gateway} is unreachable`, { cause });
  }
  if (!response.ok) throw new GatewayRequestError(`GET /.well-known/jwks.json: HTTP ${response.status}`);
  return response.json();
}
