/**
 * Route segmentation by principal kind: there is no "inside", so a workload's credential does not
 * open the human routes (audit) and a person's does not open workload-only ones, unless the tenant's
 * configuration says so (`tenants.<id>.segments` in the registry). Routes are grouped into segments
 * by path prefix, first match wins; a path no segment claims admits nobody (fail closed).
 */
import type { Principal } from "../context.ts";
import { GatewayError } from "../errors.ts";

export type PrincipalKind = Principal["kind"];
export type SegmentName = "ai" | "tools" | "mcp" | "audit" | "admin";
export type Segments = Readonly<Record<SegmentName, readonly PrincipalKind[]>>;

/** Longest prefixes first: `/v1/tools/` is the tools segment, the rest of `/v1/` the AI routes. */
const PREFIXES: ReadonlyArray<readonly [string, SegmentName]> = [
  ["/audit/", "audit"],
  ["/admin/", "admin"],
  ["/mcp/", "mcp"],
  ["/v1/tools/", "tools"],
  ["/v1/", "ai"],
];

/**
 * Defaults: the model, tool and MCP routes serve people and workloads alike (policy decides what each
 * may do); the audit and admin routes are for people (who must also hold the route's role, which the
 * route's own policy decision checks).
 */
export const DEFAULT_SEGMENTS: Segments = {
  ai: ["user", "workload"],
  tools: ["user", "workload"],
  mcp: ["user", "workload"],
  audit: ["user"],
  admin: ["user"],
};

export function segmentOf(pathname: string): SegmentName | undefined {
  for (const [prefix, segment] of PREFIXES) if (pathname.startsWith(prefix)) return segment;
  return undefined;
}

/** The refusal of `kind` on `pathname` under `segments`; undefined when the segment admits it. */
export function segmentRefusal(pathname: string, kind: PrincipalKind, segments: Segments): GatewayError | undefined {
  const segment = segmentOf(pathname);
  if (segment !== undefined && segments[segment].includes(kind)) return undefined;
  const who = kind === "user" ? "people" : "workloads";
  return new GatewayError("segment_denied", segment ? `the ${segment} routes are not open to ${who}` : "this route is not open to authenticated callers");
}
