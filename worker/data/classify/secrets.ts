/**
 * Secrets: credentials with a provider's recognisable prefix, private key blocks, JWTs, URLs and
 * connection strings carrying a password, and — where no prefix exists — a secret-sounding keyword
 * followed by a value that looks random enough (SECRET_GENERIC) or by a password (SECRET_PASSWORD).
 * All are restricted (level 3): they never leave the gateway by default.
 */
import { entropy } from "./checksums.ts";
import { allowed, charTable, type Emit, report, type Rule, scan } from "./scan.ts";

const secret = (type: string, score = 0.95): Rule => ({ type, category: "secret", level: 3, score });

interface PrefixedKey {
  rule: Rule;
  /** The literal start (regex source: literals, escapes, classes and groups of alternatives; see `expand`). */
  prefix: string;
  /** The whole key, tried (sticky) where its prefix was found. Bounded classes only. */
  pattern: RegExp;
  /** Characters that must not stand right before the key (it would be inside a longer token). */
  notBefore: Uint8Array;
  validate?: (value: string) => boolean;
}

/**
 * A JWT's header must decode to a JSON object naming an algorithm. Checked on the decoded text, not
 * with JSON.parse: a stream of near-JWTs must not cost an exception each.
 */
function jwtHeader(token: string): boolean {
  const header = token.slice(0, token.indexOf("."));
  if (header.length % 4 === 1) return false;
  const decoded = atob(header.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(header.length / 4) * 4, "="));
  return decoded.startsWith("{") && decoded.trimEnd().endsWith("}") && decoded.includes('"alg"');
}

const ALNUM = charTable("A-Za-z0-9");
const WORD = charTable("A-Za-z0-9_");
const TOKEN = charTable("A-Za-z0-9_-");
const NONE = new Uint8Array(128);

const key = (rule: Rule, prefix: string, body: string, notBefore: Uint8Array, validate?: (value: string) => boolean): PrefixedKey => ({
  rule, prefix, pattern: new RegExp(`(?:${prefix})${body}`, "y"), notBefore, ...(validate ? { validate } : {}),
});

const PREFIXED: readonly PrefixedKey[] = [
  key(secret("SECRET_AWS_ACCESS_KEY"), "A(?:KIA|SIA|BIA|CCA)", "[0-9A-Z]{16}(?![A-Za-z0-9])", ALNUM),
  key(secret("SECRET_GCP_API_KEY"), "AIza", "[0-9A-Za-z_-]{35}(?![A-Za-z0-9_-])", TOKEN),
  key(secret("SECRET_GCP_SERVICE_ACCOUNT"), '"type"', '\\s{0,3}:\\s{0,3}"service_account"', NONE),
  key(secret("SECRET_AZURE_STORAGE_KEY"), "AccountKey=", "[A-Za-z0-9+/]{86}==", NONE),
  key(secret("SECRET_GITHUB_TOKEN"), "gh[pousr]_", "[A-Za-z0-9]{36,76}(?![A-Za-z0-9_])", WORD),
  key(secret("SECRET_GITHUB_TOKEN"), "github_pat_", "[A-Za-z0-9_]{59,120}(?![A-Za-z0-9_])", WORD),
  key(secret("SECRET_GITLAB_TOKEN"), "gl(?:pat|dt|rt|ptt|cbt)-", "[A-Za-z0-9_-]{20,64}(?![A-Za-z0-9_-])", TOKEN),
  key(secret("SECRET_SLACK_TOKEN"), "xox[abposre]-", "[A-Za-z0-9-]{10,250}(?![A-Za-z0-9-])", TOKEN),
  key(secret("SECRET_SLACK_WEBHOOK"), "https://hooks\\.slack\\.com/services/", "T[A-Z0-9]{6,12}/B[A-Z0-9]{6,12}/[A-Za-z0-9]{20,32}", NONE),
  key(secret("SECRET_STRIPE_KEY"), "[sr]k_(?:live|test)_", "[A-Za-z0-9]{20,99}(?![A-Za-z0-9_])", WORD),
  key(secret("SECRET_ANTHROPIC_API_KEY", 0.99), "sk-ant-", "[A-Za-z0-9_-]{20,200}(?![A-Za-z0-9_-])", TOKEN),
  // sk-… but not sk-ant-… (Anthropic's, above: the scanner tries alternatives in this order).
  key(secret("SECRET_OPENAI_API_KEY"), "sk-", "(?!ant-)[A-Za-z0-9_-]{20,200}(?![A-Za-z0-9_-])", TOKEN),
  key(secret("SECRET_HUGGINGFACE_TOKEN"), "hf_", "[A-Za-z0-9]{34,40}(?![A-Za-z0-9_])", WORD),
  key(secret("SECRET_GROQ_API_KEY"), "gsk_", "[A-Za-z0-9]{48,56}(?![A-Za-z0-9_])", WORD),
  key(secret("SECRET_XAI_API_KEY"), "xai-", "[A-Za-z0-9]{70,90}(?![A-Za-z0-9_-])", TOKEN),
  key(secret("SECRET_REPLICATE_TOKEN"), "r8_", "[A-Za-z0-9]{37}(?![A-Za-z0-9_])", WORD),
  key(secret("SECRET_PERPLEXITY_API_KEY"), "pplx-", "[A-Za-z0-9]{48}(?![A-Za-z0-9_-])", TOKEN),
  key(secret("SECRET_NPM_TOKEN"), "npm_", "[A-Za-z0-9]{36}(?![A-Za-z0-9_])", WORD),
  key(secret("SECRET_SENDGRID_API_KEY"), "SG\\.", "[A-Za-z0-9_-]{22}\\.[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])", WORD),
  key(secret("SECRET_DIGITALOCEAN_TOKEN"), "do[opr]_v1_", "[a-f0-9]{64}(?![A-Za-z0-9_])", WORD),
  key(secret("SECRET_SHOPIFY_TOKEN"), "shp(?:at|ca|pa|ss)_", "[a-fA-F0-9]{32}(?![A-Za-z0-9_])", WORD),
  key(secret("SECRET_JWT", 0.9), "eyJ", "[A-Za-z0-9_-]{5,2048}\\.eyJ[A-Za-z0-9_-]{5,16384}\\.[A-Za-z0-9_-]{0,1024}", TOKEN, jwtHeader),
];

/**
 * The first two characters of every prefix, as a table of pairs (c1 * 128 + c2): the sweep tries
 * the prefixes only where one stands. Expanded from the prefixes' sources, which hold literals, escapes,
 * classes of single characters and non-capturing groups of alternatives, and nothing else.
 */
export const KEY_STARTS: Uint8Array = (() => {
  const table = new Uint8Array(128 * 128);
  for (const k of PREFIXED) {
    for (const literal of expand(k.prefix)) table[literal.charCodeAt(0) * 128 + literal.charCodeAt(1)] = 1;
  }
  return table;
})();

function expand(source: string): string[] {
  let out = [""];
  let i = 0;
  while (i < source.length) {
    let options: string[];
    const c = source[i]!;
    if (c === "\\") {
      options = [source[i + 1]!];
      i += 2;
    } else if (c === "[") {
      const close = source.indexOf("]", i);
      options = [...source.slice(i + 1, close)];
      if (options.includes("-") || options.includes("^")) throw new Error(`prefix class not supported: ${source}`);
      i = close + 1;
    } else if (source.startsWith("(?:", i)) {
      let depth = 0;
      let close = i;
      for (; close < source.length; close++) {
        if (source[close] === "(") depth++;
        else if (source[close] === ")" && --depth === 0) break;
      }
      options = splitTopLevel(source.slice(i + 3, close)).flatMap(expand);
      i = close + 1;
    } else if ("?*+{|()".includes(c)) {
      throw new Error(`prefix syntax not supported: ${source}`);
    } else {
      options = [c];
      i++;
    }
    out = out.flatMap((head) => options.map((option) => head + option));
  }
  if (out.some((literal) => literal.length < 2 || literal.charCodeAt(0) > 127 || literal.charCodeAt(1) > 127)) throw new Error(`prefix too short: ${source}`);
  return out;
}

function splitTopLevel(body: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let from = 0;
  for (let i = 0; i < body.length; i++) {
    if (body[i] === "(") depth++;
    else if (body[i] === ")") depth--;
    else if (body[i] === "|" && depth === 0) {
      parts.push(body.slice(from, i));
      from = i + 1;
    }
  }
  parts.push(body.slice(from));
  return parts;
}

/**
 * The third characters of the prefixes, by their first two (c1 * 128 + c2; a table of 128 ASCII
 * characters each): most pairs of KEY_STARTS stand inside ordinary words ("sk" in "task", "do" in
 * "document"), and their third character rules them out before the regex is run.
 */
const KEY_THIRDS: ReadonlyArray<Uint8Array | undefined> = (() => {
  const thirds = Array.from<Uint8Array | undefined>({ length: 128 * 128 });
  for (const literal of PREFIXED.flatMap((k) => expand(k.prefix))) {
    const third = literal.charCodeAt(2);
    if (!(third < 128)) throw new Error(`prefix shorter than three ASCII characters: ${literal}`);
    (thirds[literal.charCodeAt(0) * 128 + literal.charCodeAt(1)] ??= new Uint8Array(128))[third] = 1;
  }
  return thirds;
})();

/**
 * Every prefix's literals with their key, by their first two characters (c1 * 128 + c2), in the order
 * of PREFIXED and of each prefix's alternatives: the first literal standing at a position names the
 * key, as an alternation of the prefixes (tried in that order) would.
 */
const KEY_LITERALS: ReadonlyArray<ReadonlyArray<{ literal: string; entry: PrefixedKey }> | undefined> = (() => {
  const lists = Array.from<Array<{ literal: string; entry: PrefixedKey }> | undefined>({ length: 128 * 128 });
  for (const entry of PREFIXED) {
    for (const literal of expand(entry.prefix)) (lists[literal.charCodeAt(0) * 128 + literal.charCodeAt(1)] ??= []).push({ literal, entry });
  }
  return lists;
})();

/**
 * The provider key whose prefix stands at `at` (the sweep found a pair of KEY_STARTS there; `codes`:
 * its code units); returns where the prefix scan resumes (past the key, or past its prefix when the
 * key's pattern does not match there), or -1 where no prefix stands.
 */
export function prefixedKeyAt(text: string, codes: Uint8Array, at: number, emit: Emit): number {
  const pair = codes[at]! * 128 + codes[at + 1]!;
  if (KEY_THIRDS[pair]?.[codes[at + 2]!] !== 1) return -1;
  for (const { literal, entry } of KEY_LITERALS[pair]!) {
    if (text.startsWith(literal, at)) return keyAt(text, at, literal.length, entry, emit);
  }
  return -1;
}

/** The key `entry` at `at`, where a literal of its prefix (`prefixLength` long) stands. */
function keyAt(text: string, at: number, prefixLength: number, entry: PrefixedKey, emit: Emit): number {
  if (at > 0 && allowed(entry.notBefore, text.charCodeAt(at - 1))) return at + prefixLength;
  entry.pattern.lastIndex = at;
  if (!entry.pattern.test(text)) return at + prefixLength;
  const end = entry.pattern.lastIndex;
  if (entry.validate && !entry.validate(text.slice(at, end))) return at + prefixLength;
  report(text, at, end, entry.rule, emit);
  return end;
}

/** Azure AD client secrets: three token characters, a digit, "Q~", then 31–34 more. */
const AZURE_CLIENT_SECRET = secret("SECRET_AZURE_CLIENT_SECRET", 0.85);
const AZURE_TAIL = /[A-Za-z0-9_~.-]{31,34}(?![A-Za-z0-9_~.-])/y;
const AZURE_CHAR = charTable("A-Za-z0-9_~.-");

function azureClientSecrets(text: string, emit: Emit): void {
  for (let at = text.indexOf("Q~"); at >= 0; at = text.indexOf("Q~", at + 2)) {
    const start = at - 4;
    const digit = text.charCodeAt(at - 1);
    if (start < 0 || digit < 48 || digit > 57) continue;
    if (![1, 2, 3].every((k) => allowed(AZURE_CHAR, text.charCodeAt(at - 1 - k)))) continue;
    if (start > 0 && allowed(AZURE_CHAR, text.charCodeAt(start - 1))) continue;
    AZURE_TAIL.lastIndex = at + 2;
    const tail = AZURE_TAIL.exec(text);
    if (tail) report(text, start, at + 2 + tail[0].length, AZURE_CLIENT_SECRET, emit);
  }
}

const PRIVATE_KEY = secret("SECRET_PRIVATE_KEY", 1);
const PRIVATE_KEY_BEGIN = /-----BEGIN [A-Z0-9 ]{0,24}PRIVATE KEY(?: BLOCK)?-----/g;
/** A PEM or OpenSSH private key is a few KiB at most; beyond this the END line is not looked for. */
const PRIVATE_KEY_MAX = 16 * 1024;

function privateKeys(text: string, emit: Emit): void {
  scan(text, PRIVATE_KEY_BEGIN, (match) => {
    const afterBegin = match.index + match[0].length;
    const endLine = text.indexOf("-----END ", afterBegin);
    let end = afterBegin;
    if (endLine >= 0 && endLine - match.index <= PRIVATE_KEY_MAX) {
      const close = text.indexOf("-----", endLine + 9);
      end = close >= 0 && close - endLine < 64 ? close + 5 : endLine + 9;
    }
    report(text, match.index, end, PRIVATE_KEY, emit);
    return end;
  });
}

const CONNECTION_STRING = secret("SECRET_CONNECTION_STRING");
const URL_PASSWORD = secret("SECRET_URL_PASSWORD", 0.9);
const DATABASE_SCHEMES = new Set([
  "postgres", "postgresql", "mysql", "mariadb", "mongodb", "mongodb+srv", "redis", "rediss", "amqp", "amqps", "mssql",
  "sqlserver", "oracle", "clickhouse", "cockroachdb", "couchdb", "neo4j", "cassandra", "memcached", "ldap", "ldaps",
]);
// After "://": a user (no ":" "@" "/"), ":", a password (no "@" "/"), "@", then the host part.
const USERINFO = /([^\s:@/?#]{0,64}):([^\s@/?#]{1,128})@[^\s/?#"'<>]{1,255}/y;
const SCHEME_CHAR = /[A-Za-z0-9+.-]/;
const PLACEHOLDER = /^(?:\*+|x+|\.+|<[^>]*>|\$\{[^}]*\}|\{\{[^}]*\}\}|%[A-Za-z_]+%|password|pass|pwd|secret|changeme|\[[^\]]*\])$/i;

/** URLs with a password in their authority; database URLs are connection strings. */
function urlPasswords(text: string, emit: Emit): void {
  for (let at = text.indexOf("://"); at >= 0; at = text.indexOf("://", at + 3)) {
    let start = at;
    while (start > 0 && at - start < 24 && SCHEME_CHAR.test(text[start - 1]!)) start--;
    if (start === at) continue;
    USERINFO.lastIndex = at + 3;
    const match = USERINFO.exec(text);
    if (!match || PLACEHOLDER.test(match[2]!)) continue;
    const scheme = text.slice(start, at).toLowerCase().replace(/^jdbc:/, "");
    report(text, start, USERINFO.lastIndex, DATABASE_SCHEMES.has(scheme) ? CONNECTION_STRING : URL_PASSWORD, emit);
    at = USERINFO.lastIndex - 3;
  }
}

const GENERIC = secret("SECRET_GENERIC", 0.75);
const PASSWORD = secret("SECRET_PASSWORD", 0.8);
// A secret-sounding key name, then the rest of the identifier, a quote, ":" "=" ":=" or "=>", a quote.
const KEYWORD_ASSIGNMENT =
  /(?<![A-Za-z0-9])(api[_-]?key|apikey|secret|token|passw(?:or)?d|pwd|passphrase|credential|access[_-]?key|private[_-]?key|auth)[A-Za-z0-9_.-]{0,24}["']?\s{0,3}(?::=|=>|[:=])\s{0,3}["']?([^\s"'`,;<>(){}[\]]{6,200})/gi;
const MIN_GENERIC_LENGTH = 16;
/** Bits per character above which a value is treated as random (English words sit near 3). */
const MIN_GENERIC_ENTROPY = 3.5;

/** The key name alone, tried first on the few characters before an operator (see `keywordSecrets`). */
const KEYWORD_NAME = /(?<![A-Za-z0-9])(?:api[_-]?key|apikey|secret|token|passw(?:or)?d|pwd|passphrase|credential|access[_-]?key|private[_-]?key|auth)/i;
/**
 * The first two letters of KEYWORD_NAME's alternatives, lower case, as a table of pairs (c1 * 128 + c2):
 * an assignment's key name starts with one of them (see `mayHoldKeyName`).
 */
const KEY_NAME_STARTS: Uint8Array = (() => {
  const table = new Uint8Array(128 * 128);
  for (const start of ["ap", "se", "to", "pa", "pw", "cr", "ac", "pr", "au"]) table[start.charCodeAt(0) * 128 + start.charCodeAt(1)] = 1;
  return table;
})();
/** KEYWORD_ASSIGNMENT's key name and the rest of its identifier: [A-Za-z0-9_.-]. */
const NAME_CHAR = charTable("A-Za-z0-9_.-");
/** \s in ASCII; any other code unit counts too (\s holds a few), so nothing is ruled out that may match. */
const maySpace = (c: number) => c === 32 || (c >= 9 && c <= 13) || c >= 128;

/**
 * Whether an assignment KEYWORD_ASSIGNMENT matches (from `windowStart`) may end at the operator at
 * `op`: a necessary condition, read on a few code units without slicing. Before the operator stand
 * at most 3 spaces and a quote, and before them the identifier, a run of NAME_CHAR that the key name
 * starts a word of (after a character that is not a letter or digit, or at the run's start) with two
 * letters of KEY_NAME_STARTS in either case (only ASCII letters match them under /i, and `| 32`
 * lower-cases those and maps no other unit onto one). Most operators (a JSON key, a time) fail it.
 */
function mayHoldKeyName(text: string, windowStart: number, op: number): boolean {
  let p = op - 1;
  for (let k = 0; k < 3 && p >= windowStart && maySpace(text.charCodeAt(p)); k++) p--;
  const quote = text.charCodeAt(p);
  if (quote === 34 || quote === 39) p--;
  const last = p;
  while (p >= windowStart && allowed(NAME_CHAR, text.charCodeAt(p))) p--;
  for (let at = p + 1; at < last; at++) {
    if (at > p + 1 && allowed(ALNUM, text.charCodeAt(at - 1))) continue;
    if (KEY_NAME_STARTS[(text.charCodeAt(at) | 32) * 128 + (text.charCodeAt(at + 1) | 32)] === 1) return true;
  }
  return false;
}

/**
 * The farthest an assignment's operator stands from its key name's start: the longest name (11),
 * 24 more name characters, a quote and 3 spaces. The name and what follows it up to the operator hold
 * no ":" or "=", so a key name belongs to the first operator after it.
 */
const OPERATOR_REACH = 40;
/** Past the operator: ":=" or "=>", 3 spaces, a quote and a value of at most 200 (with room). */
const VALUE_REACH = 210;

/**
 * Driven by operators, not by every position: most text has no ":" or "=", and of the few characters
 * before each operator (each read once) most hold no key name, so the full pattern runs rarely, on a
 * bounded slice. The matches are those a scan of the whole text would find.
 */
function keywordSecrets(text: string, emit: Emit): void {
  let from = 0;
  let colon = -1;
  let equals = -1;
  while (from < text.length) {
    if (colon < from) colon = text.indexOf(":", from);
    if (equals < from) equals = text.indexOf("=", from);
    if (colon < 0) colon = Infinity;
    if (equals < 0) equals = Infinity;
    const op = Math.min(colon, equals);
    if (op === Infinity) return;
    const windowStart = Math.max(from, op - OPERATOR_REACH);
    if (!mayHoldKeyName(text, windowStart, op) || !KEYWORD_NAME.test(text.slice(windowStart, op))) {
      from = op + 1;
      continue;
    }
    // One character before the window, so the pattern's look-behind sees what stands there.
    const sliceStart = Math.max(0, windowStart - 1);
    const slice = text.slice(sliceStart, op + VALUE_REACH);
    KEYWORD_ASSIGNMENT.lastIndex = windowStart - sliceStart;
    const match = KEYWORD_ASSIGNMENT.exec(slice);
    from = match && sliceStart + match.index <= op ? assignment(text, sliceStart, match, emit) : op + 1;
  }
}

/** Reports one keyword assignment found in a slice starting at `offset`; returns where it ends. */
function assignment(text: string, offset: number, match: RegExpExecArray, emit: Emit): number {
  const keyword = match[1]!.toLowerCase();
  const value = match[2]!;
  const end = offset + match.index + match[0].length;
  const start = end - value.length;
  if (PLACEHOLDER.test(value)) return end;
  if (keyword.startsWith("pass") || keyword === "pwd") {
    report(text, start, end, PASSWORD, emit);
  } else if (value.length >= MIN_GENERIC_LENGTH && /[0-9]/.test(value) && /[A-Za-z]/.test(value) && entropy(value) >= MIN_GENERIC_ENTROPY) {
    report(text, start, end, GENERIC, emit);
  }
  return end;
}

/** The secrets found from a literal (prefixed keys are found by the sweep). */
export function secretsByLiteral(text: string, emit: Emit): void {
  if (text.includes("Q~")) azureClientSecrets(text, emit);
  // "BEGIN " first: looking for a string that starts with "-" (common in dates and ids) is slower.
  if (text.includes("BEGIN ") && text.includes("-----BEGIN ")) privateKeys(text, emit);
  if (text.includes("://")) urlPasswords(text, emit);
  keywordSecrets(text, emit);
}
