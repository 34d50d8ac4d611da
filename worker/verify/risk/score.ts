/**
 * The risk engine's pure core: a principal's behavioural baseline and the level it yields. No I/O,
 * no clock: every function takes `now` (epoch ms), so tests freeze time. The `RiskEngine` Durable
 * Object holds one `RiskState` per principal and calls these functions.
 *
 * Baselines are bounded three ways, so a principal cannot grow the state or teach the engine a
 * poisoned normal in a few requests: every input is clamped to a plausible range; after warm-up an
 * observation is winsorised to mean ± 4σ before it is folded into its EWMA (one request moves a mean
 * by at most α·4σ); and the sets of tools, countries and networks keep only their most recent members.
 */

export const RISK_LEVELS = ["low", "medium", "high"] as const;
export type RiskLevel = (typeof RISK_LEVELS)[number];

export function isRiskLevel(value: unknown): value is RiskLevel {
  return typeof value === "string" && (RISK_LEVELS as readonly string[]).includes(value);
}

export function maxLevel(a: RiskLevel, b: RiskLevel): RiskLevel {
  return RISK_LEVELS.indexOf(a) >= RISK_LEVELS.indexOf(b) ? a : b;
}

/** Exponentially weighted mean and variance (West 1979), with the number of samples folded in. */
export interface Ewma {
  mean: number;
  variance: number;
  n: number;
}

/** Where a request came from, as the edge reports it (`request.cf`). */
export interface Place {
  country?: string;
  asn?: number;
  latitude?: number;
  longitude?: number;
}

/** What one authenticated request showed, reported after its response (never on the request path). */
export interface RequestObservation {
  kind: "request";
  at: number;
  /** The request was refused by policy (403, or a step-up 401) for reasons of its own. */
  denied: boolean;
  /** The network plane refused it for an abuse limit (429); counted like a denial. */
  limited?: boolean;
  /** Classification level of the data the request carried (0 public … 3 restricted). */
  level?: number;
  tools: string[];
  place: Place;
}

/** Tokens a completed model call consumed (input + output). */
export interface UsageObservation {
  kind: "usage";
  at: number;
  tokens: number;
}

export type Observation = RequestObservation | UsageObservation;

/** A level held for a while after it was reached, so waiting a few seconds does not lower it. */
export interface Hold {
  level: RiskLevel;
  until: number;
  reasons: string[];
}

export interface RiskState {
  /** 2 since assertions are kept per transmitter (version 1 held one, read back by `parseState`). */
  version: 2;
  /** Requests folded in (for warm-up). */
  requests: number;
  lastAt: number;
  /** Requests in the last minute or so: a count decayed with a 60 s time constant. */
  recentRequests: number;
  /** Requests in the last hour or so: the same with a one-hour time constant (the rate baseline). */
  hourlyRequests: number;
  denyRecent: Ewma;
  denyBaseline: Ewma;
  level: Ewma;
  /** ln(1 + tokens) per completed call. */
  tokens: Ewma;
  /** Name → last seen (epoch ms); at most MAX_SET members each. */
  tools: Record<string, number>;
  countries: Record<string, number>;
  networks: Record<string, number>;
  lastPlace?: { latitude: number; longitude: number; at: number };
  held?: Hold;
  /**
   * Each trusted transmitter's assertion (CAEP risk-level-change, assurance-level-change), by source:
   * one transmitter's `low` withdraws only its own, never another's `high`.
   */
  assertions?: Record<string, Assertion>;
}

/**
 * A transmitter's level and how long it holds. `at` is the event time (epoch s) of the latest
 * assertion or withdrawal applied for that source; a withdrawal keeps it (as a level of low that has
 * run out) so a retried older delivery cannot undo it.
 */
export interface Assertion extends Hold {
  at?: number;
}

/** Transmitters remembered per principal (a trust list is short); the stalest are forgotten first. */
export const MAX_ASSERTION_SOURCES = 16;

/** The engine's tuning. Defaults below; thresholds are points, signals add points. */
export interface RiskTuning {
  /** Observations before novelty and deviation signals count (a new principal has no normal yet). */
  warmup: number;
  /** Requests in the last minute above which a burst counts whatever the baseline: 300/min = 5 rps for a minute. */
  burstFloor: number;
  /** ... and as a multiple of the principal's own per-minute baseline. */
  burstFactor: number;
  floodFloor: number;
  floodFactor: number;
  /** How long a reached level is held (ms). */
  holdMs: Record<Exclude<RiskLevel, "low">, number>;
  /** Points at which the level is medium / high. */
  mediumAt: number;
  highAt: number;
  /** Faster than this between two places (km/h) is impossible travel (an airliner cruises at ~900). */
  maxTravelKmh: number;
  /** Closer than this (km) is ignored: IP geolocation is rarely more precise. */
  minTravelKm: number;
}

export const DEFAULT_TUNING: RiskTuning = {
  warmup: 10,
  burstFloor: 300,
  burstFactor: 5,
  floodFloor: 1200,
  floodFactor: 20,
  holdMs: { medium: 15 * 60_000, high: 60 * 60_000 },
  mediumAt: 2,
  highAt: 4,
  maxTravelKmh: 1000,
  minTravelKm: 500,
};

/** Numeric tunings an operator may override (`RISK_TUNING`); the hold times stay as designed. */
const TUNABLE = ["warmup", "burstFloor", "burstFactor", "floodFloor", "floodFactor", "mediumAt", "highAt", "maxTravelKmh", "minTravelKm"] as const;

/**
 * The tuning in force: DEFAULT_TUNING with the overrides of `RISK_TUNING` (a JSON object of positive
 * numbers, e.g. `{"burstFloor":6000}`). Anything else is a deployment error and throws, so a broken
 * setting makes the risk engine unavailable (requests are refused) rather than silently lenient.
 */
export function tuningFrom(text: string | undefined): RiskTuning {
  if (text === undefined || text === "") return DEFAULT_TUNING;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    throw new TypeError("RISK_TUNING is not JSON", { cause });
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new TypeError("RISK_TUNING must be a JSON object");
  const tuning: RiskTuning = { ...DEFAULT_TUNING };
  for (const [name, value] of Object.entries(parsed)) {
    if (!(TUNABLE as readonly string[]).includes(name)) throw new TypeError(`RISK_TUNING: unknown setting "${name}" (known: ${TUNABLE.join(", ")})`);
    if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) throw new TypeError(`RISK_TUNING: "${name}" must be a positive number`);
    tuning[name as (typeof TUNABLE)[number]] = value;
  }
  if (tuning.highAt < tuning.mediumAt) throw new TypeError("RISK_TUNING: highAt must not be below mediumAt");
  return tuning;
}

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
/** Members kept per set (tools, countries, networks): enough for any one person, small enough to store whole. */
export const MAX_SET = 32;
/** Upper bound of the decayed hourly count: 100 requests/s for an hour; beyond it nothing is learned. */
const MAX_HOURLY = 100 * 3600;
/** Largest token count taken at face value per call (a 1M-token context window). */
const MAX_TOKENS = 1_000_000;
/** Smallest standard deviation a z-score divides by, so a flat baseline does not make every change infinite. */
const MIN_SIGMA = 0.25;
const EARTH_RADIUS_KM = 6371;

export function emptyState(): RiskState {
  const ewma = (): Ewma => ({ mean: 0, variance: 0, n: 0 });
  return {
    version: 2,
    requests: 0,
    lastAt: 0,
    recentRequests: 0,
    hourlyRequests: 0,
    denyRecent: ewma(),
    denyBaseline: ewma(),
    level: ewma(),
    tokens: ewma(),
    tools: {},
    countries: {},
    networks: {},
  };
}

function clamp(x: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, x));
}

/**
 * Folds `x` into `e` with weight max(1/n, alpha): the plain mean while samples are few, then an EWMA.
 * After `warmup` samples the input is winsorised to mean ± 4σ first, which is what bounds the
 * influence of one observation.
 */
export function ewmaUpdate(e: Ewma, x: number, alpha: number, warmup: number): Ewma {
  const n = e.n + 1;
  const sigma = Math.max(Math.sqrt(e.variance), MIN_SIGMA);
  const value = e.n >= warmup ? clamp(x, e.mean - 4 * sigma, e.mean + 4 * sigma) : x;
  const weight = Math.max(1 / n, alpha);
  const diff = value - e.mean;
  const increment = weight * diff;
  return { mean: e.mean + increment, variance: (1 - weight) * (e.variance + diff * increment), n };
}

export function zScore(e: Ewma, x: number): number {
  return (x - e.mean) / Math.max(Math.sqrt(e.variance), MIN_SIGMA);
}

/** A count decayed with time constant `tau` (ms): the value at `now`. */
function decayed(count: number, since: number, now: number, tau: number): number {
  return count * Math.exp(-Math.max(0, now - since) / tau);
}

/** Great-circle distance (haversine), km. */
export function distanceKm(a: { latitude: number; longitude: number }, b: { latitude: number; longitude: number }): number {
  const rad = Math.PI / 180;
  const dLat = (b.latitude - a.latitude) * rad;
  const dLon = (b.longitude - a.longitude) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.latitude * rad) * Math.cos(b.latitude * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_KM * Math.asin(Math.min(1, Math.sqrt(h)));
}

/** Whether going from `from` to `to` in the time between them is faster than anyone travels. */
export function impossibleTravel(
  from: { latitude: number; longitude: number; at: number },
  to: { latitude: number; longitude: number; at: number },
  tuning: Pick<RiskTuning, "maxTravelKmh" | "minTravelKm"> = DEFAULT_TUNING,
): boolean {
  const km = distanceKm(from, to);
  if (km < tuning.minTravelKm) return false;
  // One second at least, so two requests at the same instant from far apart count as impossible.
  const hours = Math.max(to.at - from.at, 1000) / HOUR_MS;
  return km / hours > tuning.maxTravelKmh;
}

/** Adds `member` to a most-recently-seen set, dropping the least recent beyond MAX_SET. */
function remember(set: Record<string, number>, member: string, now: number): Record<string, number> {
  const next = { ...set, [member]: now };
  const names = Object.keys(next);
  if (names.length <= MAX_SET) return next;
  names.sort((a, b) => next[a]! - next[b]!);
  for (const name of names.slice(0, names.length - MAX_SET)) delete next[name];
  return next;
}

export interface Signal {
  reason: string;
  points: number;
}

export interface Scored {
  state: RiskState;
  signals: Signal[];
  /** The level after this observation (held and asserted levels included). */
  level: RiskLevel;
}

function validPlace(place: Place): place is Place & { latitude: number; longitude: number } {
  return (
    typeof place.latitude === "number" &&
    typeof place.longitude === "number" &&
    Math.abs(place.latitude) <= 90 &&
    Math.abs(place.longitude) <= 180
  );
}

function scoreRequest(state: RiskState, obs: RequestObservation, now: number, tuning: RiskTuning): { state: RiskState; signals: Signal[] } {
  const signals: Signal[] = [];
  const warm = state.requests >= tuning.warmup;
  const recent = decayed(state.recentRequests, state.lastAt, now, MINUTE_MS) + 1;
  const hourly = Math.min(MAX_HOURLY, decayed(state.hourlyRequests, state.lastAt, now, HOUR_MS) + 1);
  const perMinuteBaseline = hourly / 60;
  if (recent >= Math.max(tuning.floodFloor, tuning.floodFactor * perMinuteBaseline)) signals.push({ reason: "request_flood", points: 4 });
  else if (recent >= Math.max(tuning.burstFloor, tuning.burstFactor * perMinuteBaseline)) signals.push({ reason: "request_burst", points: 2 });

  // Indicators are 0 or 1 already, so there is nothing to winsorise (warm-up Infinity).
  const denied = obs.denied || obs.limited === true ? 1 : 0;
  const denyRecent = ewmaUpdate(state.denyRecent, denied, 0.2, Infinity);
  const denyBaseline = ewmaUpdate(state.denyBaseline, denied, 0.02, Infinity);
  if (warm && denyRecent.mean >= 0.5 && denyRecent.mean - state.denyBaseline.mean >= 0.3) signals.push({ reason: "deny_spike", points: 2 });

  let level = state.level;
  if (obs.level !== undefined) {
    const value = clamp(Math.round(obs.level), 0, 3);
    if (warm && value >= 2 && value - state.level.mean >= 1.5) signals.push({ reason: "classification_above_baseline", points: 1 });
    level = ewmaUpdate(state.level, value, 0.05, tuning.warmup);
  }

  let tools = state.tools;
  for (const tool of obs.tools.slice(0, MAX_SET)) {
    if (warm && !(tool in tools) && !signals.some((s) => s.reason === "new_tool")) signals.push({ reason: "new_tool", points: 1 });
    tools = remember(tools, tool, now);
  }

  let { countries, networks, lastPlace } = state;
  const { country, asn } = obs.place;
  if (country !== undefined && country !== "") {
    if (warm && !(country in countries)) signals.push({ reason: "new_country", points: 1 });
    countries = remember(countries, country, now);
  }
  if (asn !== undefined) {
    const network = String(asn);
    if (warm && !(network in networks)) signals.push({ reason: "new_network", points: 1 });
    networks = remember(networks, network, now);
  }
  if (validPlace(obs.place)) {
    const here = { latitude: obs.place.latitude, longitude: obs.place.longitude, at: now };
    if (lastPlace && impossibleTravel(lastPlace, here, tuning)) signals.push({ reason: "impossible_travel", points: 3 });
    lastPlace = here;
  }

  return {
    state: {
      ...state,
      requests: state.requests + 1,
      lastAt: now,
      recentRequests: recent,
      hourlyRequests: hourly,
      denyRecent,
      denyBaseline,
      level,
      tools,
      countries,
      networks,
      ...(lastPlace ? { lastPlace } : {}),
    },
    signals,
  };
}

function scoreUsage(state: RiskState, obs: UsageObservation, tuning: RiskTuning): { state: RiskState; signals: Signal[] } {
  const x = Math.log1p(clamp(obs.tokens, 0, MAX_TOKENS));
  const signals: Signal[] = [];
  if (state.tokens.n >= tuning.warmup && zScore(state.tokens, x) >= 4) signals.push({ reason: "token_volume", points: 1 });
  return { state: { ...state, tokens: ewmaUpdate(state.tokens, x, 0.05, tuning.warmup) }, signals };
}

function levelOf(points: number, tuning: RiskTuning): RiskLevel {
  return points >= tuning.highAt ? "high" : points >= tuning.mediumAt ? "medium" : "low";
}

/** The level in force at `now`: the highest of the engine's held level and the transmitters' assertions. */
export function currentLevel(state: RiskState, now: number): RiskLevel {
  let level: RiskLevel = state.held && state.held.until > now ? state.held.level : "low";
  for (const assertion of Object.values(state.assertions ?? {})) {
    if (assertion.until > now) level = maxLevel(level, assertion.level);
  }
  return level;
}

/** Folds one observation into the baseline and scores it; a level above low is held for a while. */
export function observe(state: RiskState, obs: Observation, now: number, tuning: RiskTuning = DEFAULT_TUNING): Scored {
  const scored = obs.kind === "request" ? scoreRequest(state, obs, now, tuning) : scoreUsage(state, obs, tuning);
  const points = scored.signals.reduce((sum, s) => sum + s.points, 0);
  const reached = levelOf(points, tuning);
  let next = scored.state;
  if (reached !== "low") {
    const active = next.held && next.held.until > now ? next.held : undefined;
    const level = active ? maxLevel(active.level, reached) : reached;
    next = { ...next, held: { level, until: now + tuning.holdMs[level === "high" ? "high" : "medium"], reasons: scored.signals.map((s) => s.reason) } };
  }
  return { state: next, signals: scored.signals, level: currentLevel(next, now) };
}

/**
 * A transmitter's assertion (CAEP): `low` withdraws that transmitter's earlier one; others hold for
 * `ttlMs`. With the event's time (`madeAt`, epoch s), one older than the latest applied from the same
 * source is ignored: a delivery retried after a failure can arrive after a newer event and must not
 * undo it. Sources' clocks are never compared with each other.
 */
export function assertLevel(state: RiskState, level: RiskLevel, source: string, reason: string, now: number, ttlMs: number, madeAt?: number): RiskState {
  // No prototype: a source is a name from outside (`ssf:<transmitter>`), never an inherited property.
  const assertions: Record<string, Assertion> = Object.assign(Object.create(null) as Record<string, Assertion>, state.assertions);
  const earlier = Object.hasOwn(assertions, source) ? assertions[source] : undefined;
  if (madeAt !== undefined && earlier?.at !== undefined && madeAt < earlier.at) return state;
  const at = madeAt ?? earlier?.at;
  if (level === "low" && at === undefined) delete assertions[source];
  else assertions[source] = { level, until: level === "low" ? now : now + ttlMs, reasons: [reason], ...(at !== undefined ? { at } : {}) };
  return { ...state, assertions: boundedSources(assertions, now) };
}

/** At most MAX_ASSERTION_SOURCES: those that have run out go first, then those ending soonest. */
function boundedSources(assertions: Record<string, Assertion>, now: number): Record<string, Assertion> {
  const sources = Object.entries(assertions);
  if (sources.length <= MAX_ASSERTION_SOURCES) return assertions;
  const live = (a: Assertion) => (a.until > now ? 1 : 0);
  sources.sort(([, a], [, b]) => live(b) - live(a) || b.until - a.until);
  return Object.fromEntries(sources.slice(0, MAX_ASSERTION_SOURCES));
}

/**
 * Version 1 kept one transmitter's assertion; it becomes that source's entry (a bare withdrawal time
 * had no source and is dropped).
 */
interface StoredStateV1 extends Omit<RiskState, "version" | "assertions"> {
  version: 1;
  asserted?: Hold & { source: string };
  assertedAt?: number;
}

function fromVersion1(stored: StoredStateV1): RiskState {
  const { asserted, assertedAt, ...rest } = stored;
  const assertions: Record<string, Assertion> = Object.create(null) as Record<string, Assertion>;
  if (asserted !== undefined) {
    const { source, ...hold } = asserted;
    assertions[source] = { ...hold, ...(assertedAt !== undefined ? { at: assertedAt } : {}) };
  }
  return { ...rest, version: 2, assertions };
}

/** Reads a stored state back (version 1 converted); anything else is refused. */
export function parseState(value: unknown): RiskState {
  const version = typeof value === "object" && value !== null ? (value as { version?: unknown }).version : undefined;
  if (version !== 1 && version !== 2) throw new TypeError("stored risk state is not version 1 or 2");
  const state = version === 1 ? fromVersion1(value as StoredStateV1) : (value as RiskState);
  for (const key of ["requests", "lastAt", "recentRequests", "hourlyRequests"] as const) {
    if (typeof state[key] !== "number" || !Number.isFinite(state[key])) throw new TypeError(`stored risk state: ${key} is not a number`);
  }
  return state;
}
