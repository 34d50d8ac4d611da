/**
 * Plane 2 entry: no trust by location. Inbound: size and type limits. Outbound: one egress firewall
 * that every fetch goes through, and header hygiene for what is forwarded upstream.
 */
export { createEgress, type Egress, type EgressInit } from "./egress.ts";
export { readBoundedBody, readJsonBody, type JsonBody } from "./inbound.ts";
export { upstreamHeaders, responseHeaders } from "./headers.ts";
