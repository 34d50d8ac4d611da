/**
 * Authenticated hops upstream: what a backend's registry entry asks of the connection beyond its API
 * key. `assertion`: a gateway-signed assertion of the principal and decision in `X-Verity-Assertion`
 * (assertion.ts). `mtlsCertificate`: the connection is opened through that Worker `mtls_certificates`
 * binding, whose `fetch` presents the certificate (declare the binding in wrangler.toml; the README's
 * network section has the steps). A configured binding that is missing refuses the request: the
 * backend would otherwise be reached without the client certificate it relies on.
 */
import type { ClassificationLevel, Principal } from "../context.ts";
import type { Env } from "../env.ts";
import { GatewayError } from "../errors.ts";
import type { Backend } from "../workload/index.ts";
import { ASSERTION_HEADER, assertionClaims, signAssertion } from "./assertion.ts";

export interface HopFacts {
  issuer: string;
  requestId: string;
  configVersion: string;
  policyVersion: string;
  classification: ClassificationLevel;
  now: number;
}

export interface Hop {
  /** Headers to add to the upstream request (the assertion). */
  headers: Record<string, string>;
  /** The mTLS binding to fetch through, if the backend wants one. */
  via?: Pick<Fetcher, "fetch">;
}

function isFetcher(value: unknown): value is Pick<Fetcher, "fetch"> {
  return typeof value === "object" && value !== null && typeof (value as { fetch?: unknown }).fetch === "function";
}

export function mtlsFetcher(env: Env, backend: Backend): Pick<Fetcher, "fetch"> | undefined {
  if (backend.mtlsCertificate === undefined) return undefined;
  const binding = (env as unknown as Record<string, unknown>)[backend.mtlsCertificate];
  if (!isFetcher(binding)) {
    throw new GatewayError("config_unavailable", "the selected backend's client certificate is not configured", {
      cause: new Error(`mtls_certificates binding ${backend.mtlsCertificate} is not bound`),
    });
  }
  return binding;
}

export async function backendHop(env: Env, backend: Backend, principal: Principal, facts: HopFacts): Promise<Hop> {
  const via = mtlsFetcher(env, backend);
  if (!backend.assertion) return via ? { headers: {}, via } : { headers: {} };
  const claims = assertionClaims(
    {
      issuer: facts.issuer,
      audience: backend.assertion.audience,
      principal,
      requestId: facts.requestId,
      decision: "allow",
      policyVersion: facts.policyVersion,
      configVersion: facts.configVersion,
      classification: facts.classification,
      backend: backend.id,
    },
    facts.now,
  );
  const assertion = await signAssertion(env.KEY_RING, claims);
  return { headers: { [ASSERTION_HEADER]: assertion }, ...(via ? { via } : {}) };
}
