/**
 * Backend health (worker/providers/health.ts) with frozen time: the breaker opens after repeated
 * failures, puts its backend last (never out), lets one probe through after the cool-down, and
 * closes on the probe's success or opens again on its failure.
 */
import { describe, expect, it } from "vitest";
import { createBackendHealth } from "../../../worker/providers/health.ts";
import { attemptTimeout, exhausted, failureOf, retriableStatus } from "../../../worker/providers/failover.ts";
import { GatewayError } from "../../../worker/errors.ts";

const EU_PUBLIC = { id: "eu-public", baseUrl: "http://127.0.0.1:8791" };
const EU_CONFIDENTIAL = { id: "eu-confidential", baseUrl: "http://127.0.0.1:8793" };
const ids = (backends: Array<{ id: string }>) => backends.map((b) => b.id);

function world(options: { threshold?: number; windowMs?: number; coolDownMs?: number; probeLeaseMs?: number } = {}) {
  let now = 1_000_000;
  const health = createBackendHealth({ threshold: 3, windowMs: 10_000, coolDownMs: 30_000, probeLeaseMs: 5_000, ...options, now: () => now });
  return { health, advance: (ms: number) => (now += ms) };
}

describe("the circuit breaker", () => {
  it("keeps preference order while every backend is healthy", () => {
    const { health } = world();
    expect(ids(health.order([EU_PUBLIC, EU_CONFIDENTIAL]))).toEqual(["eu-public", "eu-confidential"]);
    expect(health.state(EU_PUBLIC)).toBe("closed");
  });

  it("opens after THRESHOLD failures within the window and puts the backend last, not out", () => {
    const { health, advance } = world();
    health.failed(EU_PUBLIC);
    advance(1000);
    health.failed(EU_PUBLIC);
    expect(health.state(EU_PUBLIC)).toBe("closed");
    advance(1000);
    health.failed(EU_PUBLIC);
    expect(health.state(EU_PUBLIC)).toBe("open");
    expect(ids(health.order([EU_PUBLIC, EU_CONFIDENTIAL]))).toEqual(["eu-confidential", "eu-public"]);
    // Alone in its eligible set, an unhealthy backend is still tried: health never empties the set.
    expect(ids(health.order([EU_PUBLIC]))).toEqual(["eu-public"]);
  });

  it("forgets failures older than the window", () => {
    const { health, advance } = world();
    health.failed(EU_PUBLIC);
    health.failed(EU_PUBLIC);
    advance(10_001);
    health.failed(EU_PUBLIC);
    expect(health.state(EU_PUBLIC)).toBe("closed");
  });

  it("a success closes the circuit and clears the count", () => {
    const { health } = world();
    health.failed(EU_PUBLIC);
    health.failed(EU_PUBLIC);
    health.succeeded(EU_PUBLIC);
    health.failed(EU_PUBLIC);
    expect(health.state(EU_PUBLIC)).toBe("closed");
  });

  it("after the cool-down one probe goes through; its success closes the circuit", () => {
    const { health, advance } = world();
    for (let i = 0; i < 3; i++) health.failed(EU_PUBLIC);
    advance(29_999);
    expect(health.state(EU_PUBLIC)).toBe("open");
    advance(1);
    expect(health.state(EU_PUBLIC)).toBe("half_open");
    expect(ids(health.order([EU_PUBLIC, EU_CONFIDENTIAL]))).toEqual(["eu-public", "eu-confidential"]);
    health.attempting(EU_PUBLIC);
    // While the probe is out, everyone else still finds it last.
    expect(health.state(EU_PUBLIC)).toBe("open");
    expect(ids(health.order([EU_PUBLIC, EU_CONFIDENTIAL]))).toEqual(["eu-confidential", "eu-public"]);
    health.succeeded(EU_PUBLIC);
    expect(health.state(EU_PUBLIC)).toBe("closed");
    expect(ids(health.order([EU_PUBLIC, EU_CONFIDENTIAL]))).toEqual(["eu-public", "eu-confidential"]);
  });

  it("a failed probe opens the circuit for another full cool-down", () => {
    const { health, advance } = world();
    for (let i = 0; i < 3; i++) health.failed(EU_PUBLIC);
    advance(30_000);
    health.attempting(EU_PUBLIC);
    health.failed(EU_PUBLIC);
    expect(health.state(EU_PUBLIC)).toBe("open");
    advance(29_999);
    expect(health.state(EU_PUBLIC)).toBe("open");
    advance(1);
    expect(health.state(EU_PUBLIC)).toBe("half_open");
  });

  it("a probe whose outcome never comes lapses after the lease", () => {
    const { health, advance } = world();
    for (let i = 0; i < 3; i++) health.failed(EU_PUBLIC);
    advance(30_000);
    health.attempting(EU_PUBLIC);
    advance(4_999);
    expect(health.state(EU_PUBLIC)).toBe("open");
    advance(1);
    expect(health.state(EU_PUBLIC)).toBe("half_open");
  });

  it("attempting a closed backend changes nothing", () => {
    const { health } = world();
    health.attempting(EU_PUBLIC);
    expect(health.state(EU_PUBLIC)).toBe("closed");
  });

  it("tracks an upstream by id and base URL: a backend moved to another address starts healthy", () => {
    const { health } = world();
    for (let i = 0; i < 3; i++) health.failed(EU_PUBLIC);
    expect(health.state({ ...EU_PUBLIC })).toBe("open");
    expect(health.state({ ...EU_PUBLIC, baseUrl: "http://127.0.0.1:9999" })).toBe("closed");
  });

  it("refuses a bad option at set-up", () => {
    expect(() => createBackendHealth({ threshold: 0 })).toThrow(TypeError);
    expect(() => createBackendHealth({ coolDownMs: Number.NaN })).toThrow(TypeError);
  });
});

describe("what fails over", () => {
  it("5xx and 429 are the backend's state; other statuses are the request's", () => {
    for (const status of [429, 500, 502, 503, 504, 529]) expect(retriableStatus(status), String(status)).toBe(true);
    for (const status of [200, 307, 400, 401, 403, 404, 413, 422]) expect(retriableStatus(status), String(status)).toBe(false);
  });

  it("an unreachable or silent upstream fails over; an egress refusal or an oversized answer does not", () => {
    expect(failureOf(new GatewayError("upstream_timeout", "x"))).toBe("timeout");
    expect(failureOf(new GatewayError("upstream_error", "x"))).toBe("unreachable");
    expect(failureOf(new GatewayError("egress_denied", "x"))).toBeUndefined();
    expect(failureOf(new GatewayError("upstream_response_too_large", "x"))).toBeUndefined();
    expect(failureOf(new Error("anything else"))).toBeUndefined();
  });

  it("each attempt waits at most its backend's timeout and what is left of the budget", () => {
    expect(attemptTimeout(30_000, 100_000, 10_000)).toBe(30_000);
    expect(attemptTimeout(30_000, 100_000, 90_000)).toBe(10_000);
    // Spent: time out at once (the egress reads 0 as "no bound").
    expect(attemptTimeout(30_000, 100_000, 100_500)).toBe(1);
  });

  it("all attempts failed: 503 upstream_unavailable naming only the backends tried", () => {
    const error = exhausted([
      { attempt: 1, backend: "eu-public", failure: "status", status: 503 },
      { attempt: 2, backend: "eu-confidential", failure: "timeout" },
    ]);
    expect(error.code).toBe("upstream_unavailable");
    expect(error.status).toBe(503);
    expect(error.message).toContain("eu-public: status 503");
    expect(error.message).toContain("eu-confidential: no answer in time");
  });
});
