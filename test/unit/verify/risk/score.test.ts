/** The risk engine's pure core with frozen time: EWMA bounds, impossible travel, signals and levels. */
import { describe, expect, it } from "vitest";
import {
  assertLevel,
  currentLevel,
  DEFAULT_TUNING,
  distanceKm,
  emptyState,
  ewmaUpdate,
  impossibleTravel,
  MAX_ASSERTION_SOURCES,
  MAX_SET,
  observe,
  parseState,
  type RequestObservation,
  type RiskState,
  tuningFrom,
} from "../../../../worker/verify/risk/score.ts";

const T0 = Date.UTC(2026, 10, 26, 8, 0, 0);
const BERLIN = { country: "DE", asn: 3320, latitude: 52.52, longitude: 13.405 };
const SYDNEY = { country: "AU", asn: 1221, latitude: -33.87, longitude: 151.21 };
const PARIS = { country: "FR", asn: 3215, latitude: 48.857, longitude: 2.352 };

function request(at: number, extra: Partial<RequestObservation> = {}): RequestObservation {
  return { kind: "request", at, denied: false, level: 0, tools: [], place: BERLIN, ...extra };
}

/** A principal with a normal day behind it: one request every 2 minutes for `count` requests. */
function warmedUp(count = 30): { state: RiskState; now: number } {
  let state = emptyState();
  let now = T0;
  for (let i = 0; i < count; i++) {
    now += 120_000;
    state = observe(state, request(now), now).state;
  }
  return { state, now };
}

describe("ewmaUpdate", () => {
  it("is the plain mean while samples are few", () => {
    let e = { mean: 0, variance: 0, n: 0 };
    for (const x of [2, 4, 6]) e = ewmaUpdate(e, x, 0.05, 10);
    expect(e.mean).toBeCloseTo(4);
    expect(e.n).toBe(3);
  });

  it("after warm-up bounds one observation's pull to alpha × 4σ (winsorised)", () => {
    let e = { mean: 0, variance: 0, n: 0 };
    for (let i = 0; i < 50; i++) e = ewmaUpdate(e, i % 2, 0.05, 10); // mean ≈ 0.5, σ ≈ 0.5
    const before = e;
    const after = ewmaUpdate(e, 1e9, 0.05, 10);
    const sigma = Math.max(Math.sqrt(before.variance), 0.25);
    expect(after.mean - before.mean).toBeLessThanOrEqual(0.05 * (4 * sigma + Math.abs(before.mean)) + 1e-9);
    expect(after.mean).toBeLessThan(1);
  });
});

describe("impossible travel", () => {
  it("measures great-circle distance", () => {
    expect(distanceKm(BERLIN, PARIS)).toBeGreaterThan(850);
    expect(distanceKm(BERLIN, PARIS)).toBeLessThan(900);
  });

  it("Berlin to Sydney in ten minutes is impossible; in a day it is not", () => {
    expect(impossibleTravel({ ...BERLIN, at: T0 }, { ...SYDNEY, at: T0 + 10 * 60_000 })).toBe(true);
    expect(impossibleTravel({ ...BERLIN, at: T0 }, { ...SYDNEY, at: T0 + 24 * 3600_000 })).toBe(false);
  });

  it("ignores short hops that IP geolocation cannot resolve, even at once", () => {
    const potsdam = { latitude: 52.39, longitude: 13.06 };
    expect(impossibleTravel({ ...BERLIN, at: T0 }, { ...potsdam, at: T0 })).toBe(false);
  });

  it("same instant, far apart: impossible (the time is floored at one second)", () => {
    expect(impossibleTravel({ ...BERLIN, at: T0 }, { ...PARIS, at: T0 })).toBe(true);
  });
});

describe("observe", () => {
  it("a new principal's ordinary requests stay low", () => {
    const { state, now } = warmedUp();
    expect(currentLevel(state, now)).toBe("low");
  });

  it("a burst above the floor is medium and held after the burst ends", () => {
    let { state, now } = warmedUp();
    let level = "low";
    // The one-minute count decays while the burst runs, so a few more than the floor are needed.
    for (let i = 0; i < DEFAULT_TUNING.burstFloor * 1.3; i++) {
      now += 50;
      ({ state, level } = observe(state, request(now), now));
    }
    expect(level).toBe("medium");
    expect(state.held?.reasons).toContain("request_burst");
    // Ten minutes of silence later: still held (15 min), then it lapses.
    expect(currentLevel(state, now + 10 * 60_000)).toBe("medium");
    expect(currentLevel(state, now + 16 * 60_000)).toBe("low");
  });

  it("a flood is high", () => {
    let { state, now } = warmedUp();
    let level = "low";
    for (let i = 0; i < DEFAULT_TUNING.floodFloor * 1.3; i++) {
      now += 10;
      ({ state, level } = observe(state, request(now), now));
    }
    expect(level).toBe("high");
  });

  it("impossible travel alone is medium; with a new network and country it is high", () => {
    const { state, now } = warmedUp();
    const sameNetwork = observe(state, request(now + 60_000, { place: { ...SYDNEY, country: "DE", asn: 3320 } }), now + 60_000);
    expect(sameNetwork.signals.map((s) => s.reason)).toEqual(["impossible_travel"]);
    expect(sameNetwork.level).toBe("medium");
    const elsewhere = observe(state, request(now + 60_000, { place: SYDNEY }), now + 60_000);
    expect(elsewhere.signals.map((s) => s.reason).sort()).toEqual(["impossible_travel", "new_country", "new_network"]);
    expect(elsewhere.level).toBe("high");
  });

  it("novelty counts only after warm-up: a first request from anywhere is not suspicious", () => {
    const first = observe(emptyState(), request(T0, { place: SYDNEY, tools: ["send_email"] }), T0);
    expect(first.signals).toEqual([]);
  });

  it("a new tool is one point (low); with a new country it is medium", () => {
    const { state, now } = warmedUp();
    expect(observe(state, request(now + 60_000, { tools: ["send_email"] }), now + 60_000).level).toBe("low");
    const both = observe(state, request(now + 60_000, { tools: ["send_email"], place: { ...PARIS, asn: 3320 } }), now + 3 * 3600_000);
    expect(both.signals.map((s) => s.reason).sort()).toEqual(["new_country", "new_tool"]);
    expect(both.level).toBe("medium");
  });

  it("a run of denials is a deny spike", () => {
    let { state, now } = warmedUp();
    let reasons: string[] = [];
    for (let i = 0; i < 5; i++) {
      now += 1000;
      const scored = observe(state, request(now, { denied: true }), now);
      state = scored.state;
      reasons = scored.signals.map((s) => s.reason);
    }
    expect(reasons).toContain("deny_spike");
  });

  it("token volume far above the baseline is a signal", () => {
    let state = emptyState();
    for (let i = 0; i < 20; i++) state = observe(state, { kind: "usage", at: T0 + i, tokens: 100 + (i % 3) * 20 }, T0 + i).state;
    const scored = observe(state, { kind: "usage", at: T0 + 100, tokens: 500_000 }, T0 + 100);
    expect(scored.signals.map((s) => s.reason)).toEqual(["token_volume"]);
  });

  it("classification well above the baseline is a signal", () => {
    const { state, now } = warmedUp();
    expect(observe(state, request(now + 1000, { level: 3 }), now + 1000).signals.map((s) => s.reason)).toEqual(["classification_above_baseline"]);
  });

  it("keeps its sets bounded", () => {
    let { state, now } = warmedUp();
    for (let i = 0; i < 100; i++) {
      now += 3600_000;
      state = observe(state, request(now, { tools: [`tool_${i}`], place: { country: `C${i}`, asn: 10_000 + i } }), now).state;
    }
    expect(Object.keys(state.tools).length).toBe(MAX_SET);
    expect(Object.keys(state.countries).length).toBe(MAX_SET);
    expect(Object.keys(state.networks).length).toBe(MAX_SET);
    expect(JSON.stringify(state).length).toBeLessThan(8192);
  });
});

describe("assertions from transmitters", () => {
  it("raise the level for their time and are withdrawn by low", () => {
    const raised = assertLevel(emptyState(), "high", "ssf:dev", "ssf:risk-level-change", T0, 3600_000);
    expect(currentLevel(raised, T0 + 1000)).toBe("high");
    expect(currentLevel(raised, T0 + 3600_001)).toBe("low");
    expect(currentLevel(assertLevel(raised, "low", "ssf:dev", "x", T0 + 10, 0), T0 + 20)).toBe("low");
  });

  it("are ordered by event time: an older one arriving late (a retried delivery) changes nothing", () => {
    const raised = assertLevel(emptyState(), "high", "ssf:dev", "r", T0, 3600_000, 1_000);
    const withdrawn = assertLevel(raised, "low", "ssf:dev", "r", T0 + 10, 0, 1_200);
    expect(withdrawn.assertions?.["ssf:dev"]?.at).toBe(1_200);
    expect(assertLevel(withdrawn, "high", "ssf:dev", "r", T0 + 20, 3600_000, 1_100)).toBe(withdrawn);
    expect(currentLevel(assertLevel(withdrawn, "medium", "ssf:dev", "r", T0 + 20, 3600_000, 1_200), T0 + 30)).toBe("medium");
  });

  it("are kept per transmitter: one's low never withdraws another's high, and their clocks are not compared", () => {
    const fromA = assertLevel(emptyState(), "high", "ssf:a", "r", T0, 3600_000, 5_000);
    const bothRaised = assertLevel(fromA, "medium", "ssf:b", "r", T0 + 10, 3600_000, 100);
    expect(currentLevel(bothRaised, T0 + 20)).toBe("high");
    const bLowered = assertLevel(bothRaised, "low", "ssf:b", "r", T0 + 30, 0, 200);
    expect(currentLevel(bLowered, T0 + 40)).toBe("high");
    const aLowered = assertLevel(bLowered, "low", "ssf:a", "r", T0 + 50, 0, 5_001);
    expect(currentLevel(aLowered, T0 + 60)).toBe("low");
    // b's older event (a retried delivery) is still ordered against b's own latest.
    expect(assertLevel(aLowered, "high", "ssf:b", "r", T0 + 70, 3600_000, 150)).toBe(aLowered);
  });

  it("keep a source named like an inherited property as its own entry", () => {
    const state = assertLevel(emptyState(), "high", "__proto__", "r", T0, 3600_000);
    expect(Object.keys(state.assertions ?? {})).toEqual(["__proto__"]);
    expect(currentLevel(JSON.parse(JSON.stringify(state)) as RiskState, T0 + 1)).toBe("high");
  });

  it("remember at most MAX_ASSERTION_SOURCES transmitters, forgetting those that have run out first", () => {
    let state = assertLevel(emptyState(), "high", "ssf:first", "r", T0, 3600_000);
    for (let i = 0; i < MAX_ASSERTION_SOURCES + 4; i++) state = assertLevel(state, "low", `ssf:t${i}`, "r", T0 + i, 0, 1_000 + i);
    expect(Object.keys(state.assertions ?? {}).length).toBe(MAX_ASSERTION_SOURCES);
    expect(currentLevel(state, T0 + 100)).toBe("high");
  });

  it("read back from a version-1 state: its one assertion becomes its source's", () => {
    const { assertions: _none, ...rest } = emptyState();
    const v1 = { ...rest, version: 1, asserted: { level: "high", until: T0 + 3600_000, reasons: ["r"], source: "ssf:dev" }, assertedAt: 1_000 };
    const state = parseState(JSON.parse(JSON.stringify(v1)));
    expect(state.version).toBe(2);
    expect(state.assertions).toEqual({ "ssf:dev": { level: "high", until: T0 + 3600_000, reasons: ["r"], at: 1_000 } });
    expect(currentLevel(state, T0)).toBe("high");
    expect(assertLevel(state, "low", "ssf:dev", "r", T0 + 1, 0, 999)).toBe(state);
    expect(() => parseState({ ...rest, version: 3 })).toThrow("not version 1 or 2");
  });
});

describe("operator tuning (RISK_TUNING)", () => {
  it("is the default when unset, and overrides only the numbers it names", () => {
    expect(tuningFrom(undefined)).toBe(DEFAULT_TUNING);
    expect(tuningFrom("")).toBe(DEFAULT_TUNING);
    expect(tuningFrom('{"burstFloor":6000,"floodFloor":60000}')).toEqual({ ...DEFAULT_TUNING, burstFloor: 6000, floodFloor: 60000 });
  });

  it("refuses anything but positive numbers for known settings, so a typo cannot turn detection off quietly", () => {
    expect(() => tuningFrom("{")).toThrow("RISK_TUNING is not JSON");
    expect(() => tuningFrom("[1]")).toThrow("must be a JSON object");
    expect(() => tuningFrom('{"burstFlor":1}')).toThrow('unknown setting "burstFlor"');
    expect(() => tuningFrom('{"burstFloor":0}')).toThrow('"burstFloor" must be a positive number');
    expect(() => tuningFrom('{"burstFloor":"9"}')).toThrow('"burstFloor" must be a positive number');
    expect(() => tuningFrom('{"holdMs":1}')).toThrow('unknown setting "holdMs"');
    expect(() => tuningFrom('{"mediumAt":5,"highAt":3}')).toThrow("highAt must not be below mediumAt");
  });
});
