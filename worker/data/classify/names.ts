/**
 * PERSON and LOCATION, rule-based and honest about it: without a language model, a name is found only
 * where the text says it is one — a title before a capitalised name ("Dr. Jane Roe"), "my name is …",
 * a common first name from a small gazetteer followed by a capitalised surname, a street address, or
 * "lives in / born in" before a capitalised place. Everything else (a bare surname, a name in lower
 * case, a city mentioned in passing) is missed on purpose, and scores stay low: these findings raise a
 * request to internal, they do not make it confidential.
 */
import { allowed, charTable, type Emit, report, type Rule } from "./scan.ts";

const PERSON: Rule = { type: "PERSON", category: "pii", level: 1, score: 0.6 };
const LOCATION: Rule = { type: "LOCATION", category: "pii", level: 1, score: 0.5 };

const TITLES = ["Mr", "Mrs", "Ms", "Mx", "Miss", "Dr", "Prof", "Sir", "Dame", "Herr", "Frau", "Mme", "Mlle", "Sr", "Sra"];
const TITLE_BEFORE = /(?:^|[^A-Za-z])(?:Mr|Mrs|Ms|Mx|Miss|Dr|Prof|Sir|Dame|Herr|Frau|Mme|Mlle|Sr|Sra)\.? $/;
const INTRO_BEFORE = /(?:my name is|my name's|i am called|signed,?|regards,?|sincerely,?) ?\n?$/i;
const PLACE_BEFORE = /(?:lives? in|living in|born in|resides? in|moved to|based in|located in|address:?) $/i;
const HOUSE_NUMBER = /^[0-9]{1,5}[a-z]?$/;
const CUE_CHAR = charTable("A-Za-z0-9'");
/** CUE_CHAR over the sweep's code units (bytes, sweep.ts): one lookup, no range check. */
const CUE_UNIT = Uint8Array.from({ length: 256 }, (_, c) => (c < 128 ? CUE_CHAR[c]! : 0));
/** How far back the phrases are read ("my name is " is the longest). */
const LOOK_BEHIND = 24;

/** Street suffixes (USPS Publication 28, common ones, and British usage). */
const STREET_SUFFIXES = new Set(
  (
  "Street St Avenue Ave Road Rd Boulevard Blvd Lane Ln Drive Dr Way Court Ct Place Pl Square Sq Close Terrace Crescent " +
  "Highway Hwy Parkway Pkwy Circle Cir Trail Trl Loop Plaza Path Pike Row Run Walk Alley Bridge Crossing Creek Grove Heights " +
  "Hill Hills Junction Junctions Meadow Meadows Park Plains Point Port Ridge Spring Springs Station Summit Valley View Views " +
  "Village Vista Fields Field Gardens Green Harbor Island Landing Manor Mill Mills Pass Ranch Shore Shores Stream Turnpike " +
  "Expressway Freeway Fork Forks Falls Ford Fort Ferry Estates Extension Dale Corner Corners Cove Cliff Cliffs Center Common " +
  "Commons Bypass Brook Brooks Branch Bluff Bend Beach Haven Hollow Isle Key Knoll Lake Lakes Lodge Mall Mount Mountain " +
  "Orchard Oval Pine Pines Prairie Rapids Rest Route Spur Trace Track Tunnel Via Well Wells Gateway Mews Parade Grange"
).split(" "),
);
/** Common given names (a few hundred would do better; this is a floor, not a model). */
const FIRST_NAMES = new Set(
  (
    "James John Robert Michael William David Richard Joseph Thomas Charles Christopher Daniel Matthew Anthony Mark Donald Steven Paul " +
    "Andrew Joshua Kenneth Kevin Brian George Timothy Ronald Edward Jason Jeffrey Ryan Jacob Gary Nicholas Eric Jonathan Stephen Larry " +
    "Justin Scott Brandon Benjamin Samuel Gregory Alexander Frank Patrick Raymond Jack Dennis Jerry Tyler Aaron Jose Adam Nathan Henry " +
    "Peter Zachary Douglas Harold Kyle Noah Ethan Jeremy Walter Christian Keith Roger Terry Austin Sean Gerald Carl Dylan Harry Jordan " +
    "Mary Patricia Jennifer Linda Elizabeth Barbara Susan Jessica Sarah Karen Lisa Nancy Betty Sandra Margaret Ashley Kimberly Emily " +
    "Donna Michelle Carol Amanda Melissa Deborah Stephanie Dorothy Rebecca Sharon Laura Cynthia Amy Kathleen Angela Shirley Brenda Emma " +
    "Anna Pamela Nicole Samantha Katherine Christine Helen Debra Rachel Carolyn Janet Maria Catherine Heather Diane Olivia Julie Joyce " +
    "Victoria Ruth Virginia Lauren Kelly Christina Joan Evelyn Judith Andrea Hannah Megan Cheryl Jacqueline Martha Madison Teresa Gloria " +
    "Sara Janice Ann Kathryn Abigail Sophia Frances Jean Alice Judy Isabella Julia Grace Amber Denise Danielle Marilyn Beverly Charlotte " +
    "Natalie Theresa Diana Brittany Doris Kayla Alexis Lori Marie Alan Bob Carol Dave Eve Jane Lucas Liam Oliver Elijah Mia Ava Amelia " +
    "Hans Klaus Jürgen Stefan Wolfgang Uwe Sabine Ursula Monika Petra Pierre Jean Marie Sophie Camille Lucie Juan Carlos Javier Miguel " +
    "Lucia Carmen Pablo Giulia Marco Luca Francesca Lars Erik Anders Ingrid Astrid Sven Mohammed Ahmed Ali Fatima Wei Li Yuki Hiroshi Raj Priya"
  ).split(" "),
);

/**
 * A word's length and first and last code units, as one number: equal words have equal shapes, so
 * a set's shapes rule out most words before one is copied to be looked up.
 */
const shapeOf = (text: string, start: number, end: number) => ((end - start) << 16) ^ (text.charCodeAt(start) << 8) ^ text.charCodeAt(end - 1);
const shapes = (words: Iterable<string>) => new Set(Array.from(words, (word) => shapeOf(word, 0, word.length)));
const STREET_SHAPES = shapes(STREET_SUFFIXES);
const FIRST_NAME_SHAPES = shapes(FIRST_NAMES);
const isStreetSuffix = (text: string, start: number, end: number) =>
  STREET_SHAPES.has(shapeOf(text, start, end)) && STREET_SUFFIXES.has(text.slice(start, end));
const isFirstName = (text: string, start: number, end: number) =>
  FIRST_NAME_SHAPES.has(shapeOf(text, start, end)) && FIRST_NAMES.has(text.slice(start, end));

/**
 * TITLE_BEFORE, INTRO_BEFORE and PLACE_BEFORE are tried only when the word before the capitalised
 * words is a cue word, and only the phrase that can end with it: each phrase's last word is one of
 * its kind's cue words (a title, "is" of "my name is", "in" of "lives in"), and no cue word ends a
 * phrase of another kind.
 */
const TITLE_CUE = 1;
const INTRO_CUE = 2;
const PLACE_CUE = 3;
/** A word starting with a digit: perhaps the house number of a street address. */
const HOUSE_NUMBER_CUE = 4;
const CUE_WORDS = new Map<string, number>([
  ...TITLES.map((title) => [title.toLowerCase(), TITLE_CUE] as const),
  ...["is", "called", "signed", "regards", "sincerely"].map((word) => [word, INTRO_CUE] as const),
  ...["in", "to", "address"].map((word) => [word, PLACE_CUE] as const),
]);

/** Words by length, for comparing code units in place. */
function byLength<T>(entries: Iterable<readonly [string, T]>): ReadonlyArray<ReadonlyArray<readonly [string, T]> | undefined> {
  const lists: Array<Array<readonly [string, T]>> = [];
  for (const entry of entries) (lists[entry[0].length] ??= []).push(entry);
  return lists;
}
const CUE_BY_LENGTH = byLength(CUE_WORDS);
/**
 * Pairs (first << 8 | last) of the first and last letters of CUE_WORDS (lower case, as `| 32` makes
 * the text's letters in `cueBefore`): most words before a capitalised word fail this one lookup.
 */
const CUE_ENDS: Uint8Array = (() => {
  const table = new Uint8Array(256 * 256);
  for (const word of CUE_WORDS.keys()) table[(word.charCodeAt(0) << 8) | word.charCodeAt(word.length - 1)] = 1;
  return table;
})();
const TITLES_BY_LENGTH = byLength(TITLES.map((title) => [title, true] as const));

/** " ", newline, "." or ",": what may stand between a cue word and the capitalised words after it. */
const isCueGap = (c: number) => c === 32 || c === 10 || c === 46 || c === 44;

/** The last code unit of the word right before `at`: past up to three of " \n.,". */
function cueWordLast(codes: Uint8Array, at: number): number {
  let end = at - 1;
  while (end >= 0 && end > at - 4 && isCueGap(codes[end]!)) end--;
  return end;
}

/** Where the word ending at `last` starts: at most 12 characters of CUE_CHAR back. */
function cueWordStart(codes: Uint8Array, last: number): number {
  let start = last;
  while (start >= 0 && last - start < 12 && CUE_UNIT[codes[start]!] === 1) start--;
  return start + 1;
}

/**
 * What the word before `at` (as `wordBefore` finds it) may cue: a cue word's kind, HOUSE_NUMBER_CUE,
 * or 0; read without copying it: most capitalised words follow an ordinary word and are decided here.
 */
function cueBefore(codes: Uint8Array, at: number): number {
  const last = cueWordLast(codes, at);
  const start = cueWordStart(codes, last);
  if (start > last) return 0;
  const first = codes[start]!;
  if (first >= 48 && first <= 57) return HOUSE_NUMBER_CUE;
  if (CUE_ENDS[((first | 32) << 8) | (codes[last]! | 32)] !== 1) return 0;
  // CUE_CHAR is ASCII letters, digits and "'": `| 32` lower-cases a letter and keeps the others apart.
  for (const [word, kind] of CUE_BY_LENGTH[last + 1 - start] ?? []) {
    let k = 0;
    while (k < word.length && (codes[start + k]! | 32) === word.charCodeAt(k)) k++;
    if (k === word.length) return kind;
  }
  return 0;
}

/** Whether text[start, end) is one of TITLES (the sweep's code units, compared in place). */
function isTitle(codes: Uint8Array, start: number, end: number): boolean {
  for (const [title] of TITLES_BY_LENGTH[end - start] ?? []) {
    let k = 0;
    while (k < title.length && codes[start + k] === title.charCodeAt(k)) k++;
    if (k === title.length) return true;
  }
  return false;
}

/** The word right before `at` (past one space, newline, "." or ","), lower case. */
function wordBefore(text: string, codes: Uint8Array, at: number): { word: string; start: number } {
  const last = cueWordLast(codes, at);
  const start = cueWordStart(codes, last);
  return { word: text.slice(start, last + 1).toLowerCase(), start };
}

/** [a-z'’-] in the sweep's code units (sweep.ts: "’" is 128). */
const TAIL = Uint8Array.from({ length: 256 }, (_, c) => ((c >= 97 && c <= 122) || c === 39 || c === 45 || c === 128 ? 1 : 0));
const isTail = (c: number) => TAIL[c] === 1;
const isCapital = (c: number) => c >= 65 && c <= 90;

/** The end of up to 24 tail characters from `from`. */
function tailEnd(codes: Uint8Array, from: number): number {
  let end = from;
  while (end - from < 24 && isTail(codes[end]!)) end++;
  return end;
}

/**
 * The capitalised words at `at` (a capital letter before a tail character, which the sweep checked),
 * for every rule: a look back per run. Returns where the scan for the next run resumes (the run's
 * end). A run is one to three capitalised words, as /[A-Z][a-z'’-]{1,24}(?: [A-Z][a-z'’-]{1,24}){0,2}/
 * would match it (greedy, and a space is never a tail character, so there is nothing to backtrack
 * into), measured on the code units (`codes`, sweep.ts); what stands before the run decides whether
 * it is a name or a place. Most runs are one word after a word character or an ordinary word, and
 * are decided here without reading further.
 */
export function namesAt(text: string, codes: Uint8Array, at: number, emit: Emit): number {
  const firstEnd = tailEnd(codes, at + 1);
  let end = firstEnd;
  for (let more = 0; more < 2 && codes[end] === 32 && isCapital(codes[end + 1]!) && isTail(codes[end + 2]!); more++) end = tailEnd(codes, end + 2);
  if (at > 0 && CUE_UNIT[codes[at - 1]!] === 1) return end;
  const cue = cueBefore(codes, at);
  if (end === firstEnd && cue === 0) return end;
  capitalised(text, codes, at, firstEnd, end, cue, emit);
  return end;
}

/**
 * The run [start, end) of capitalised words, its first word ending at `firstEnd`, not after a word
 * character; `cue`: as `cueBefore` says of the word before it.
 */
function capitalised(text: string, codes: Uint8Array, start: number, firstEnd: number, end: number, cue: number, emit: Emit): void {
  const several = end > firstEnd;
  // "Mr Smith": the title is part of the run of capitalised words.
  if (several && isTitle(codes, start, firstEnd)) return report(text, firstEnd + 1, end, PERSON, emit);
  if (cue === HOUSE_NUMBER_CUE) {
    // The street suffix (the run's last word: the space before the run bounds the lastIndexOf) before
    // the house number: most numbers before a capital end a date or a sentence ("2026. The").
    if (codes[start - 1] === 32 && isStreetSuffix(text, text.lastIndexOf(" ", end - 1) + 1, end)) {
      const house = wordBefore(text, codes, start);
      if (HOUSE_NUMBER.test(house.word) && (house.start === 0 || !allowed(CUE_CHAR, text.charCodeAt(house.start - 1)))) {
        return report(text, house.start, end, LOCATION, emit, 0.6);
      }
    }
  } else if (cue !== 0) {
    const before = text.slice(Math.max(0, start - LOOK_BEHIND), start);
    if ((cue === TITLE_CUE && TITLE_BEFORE.test(before)) || (cue === INTRO_CUE && INTRO_BEFORE.test(before))) return report(text, start, end, PERSON, emit);
    if (cue === PLACE_CUE && PLACE_BEFORE.test(before)) return report(text, start, end, LOCATION, emit, 0.45);
  }
  if (several && isFirstName(text, start, firstEnd)) report(text, start, end, PERSON, emit, 0.45);
}
