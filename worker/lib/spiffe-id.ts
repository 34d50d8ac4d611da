/**
 * SPIFFE IDs (SPIFFE-ID §2): `spiffe://<trust-domain>/<path>`. Shared by the registry (which
 * workloads own which IDs) and the identity plane (SVIDs), so both read an ID the same way.
 */

export interface SpiffeId {
  /** The whole ID, exactly as given. */
  id: string;
  trustDomain: string;
  path: string;
}

const TRUST_DOMAIN = /^[a-z0-9._-]+$/;
const PATH_SEGMENT = /^[A-Za-z0-9._-]+$/;
/** SPIFFE-ID §2.3: URI SANs of up to 2048 bytes. */
const MAX_LENGTH = 2048;

/**
 * Parses a SPIFFE ID, or returns undefined: lowercase trust domain, no port, userinfo, query or
 * fragment, path segments of `[A-Za-z0-9._-]` that are not `.` or `..`, no trailing slash.
 */
export function parseSpiffeId(value: string): SpiffeId | undefined {
  if (value.length > MAX_LENGTH || !value.startsWith("spiffe://")) return undefined;
  const rest = value.slice("spiffe://".length);
  const slash = rest.indexOf("/");
  const trustDomain = slash === -1 ? rest : rest.slice(0, slash);
  const path = slash === -1 ? "" : rest.slice(slash);
  if (trustDomain.length === 0 || trustDomain.length > 255 || !TRUST_DOMAIN.test(trustDomain)) return undefined;
  if (path !== "") {
    const segments = path.slice(1).split("/");
    if (segments.some((s) => s === "" || s === "." || s === ".." || !PATH_SEGMENT.test(s))) return undefined;
  }
  return { id: value, trustDomain, path };
}
