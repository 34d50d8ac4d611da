/**
 * Plane 2 entry: no trust by location. Inbound: size and type limits, header hygiene, route segments
 * by principal kind, CORS closed by default, and abuse limits (RateLimiter). Outbound: one egress
 * firewall that every fetch goes through (exact origins, no private or metadata addresses, no
 * redirects, bounded answers), header hygiene, and the gateway-signed assertion for backends that ask.
 */
export { createEgress, egressTarget, type Egress, type EgressInit, type EgressOptions } from "./egress.ts";
export { readBoundedBody, readJsonBody, type JsonBody } from "./inbound.ts";
export { identityHeaders, upstreamHeaders, responseHeaders } from "./headers.ts";
export { addressClassOf, isLocalDevelopment, LOCAL_DEV_LOOPBACK, loopbackOrigins, refusedAddress, type AddressClass } from "./addresses.ts";
export { DEFAULT_SEGMENTS, segmentOf, segmentRefusal, type SegmentName, type Segments } from "./segments.ts";
export { createCors, crossOrigin, grantResponse, isPreflight, originRefusal, preflight } from "./cors.ts";
export { DEFAULT_BOUNDS, DEFAULT_MAX_RESPONSE_BYTES, networkPlan, type DestinationBounds, type NetworkPlan, type TenantNetwork } from "./plan.ts";
export { DEFAULT_LIMITS, LimiterCore, type Admission, type Limits, type UsageStore } from "./limits.ts";
export { admit, charge, LimitedError, type LimiterNamespace, type LimitRefusal } from "./admission.ts";
export { RateLimiter } from "./rate-limiter.ts";
export { backendHop, mtlsFetcher, type Hop, type HopFacts } from "./hop.ts";
export { ASSERTION_HEADER, ASSERTION_LIFETIME_S, ASSERTION_TYPE, assertionClaims, signAssertion, type AssertionFacts } from "./assertion.ts";
