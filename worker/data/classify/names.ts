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

const TITLES = new Set(["Mr", "Mrs", "Ms", "Mx", "Miss", "Dr", "Prof", "Sir", "Dame", "Herr", "Frau", "Mme", "Mlle", "Sr", "Sra"]);
// The phrases below are tried only when the word before the capitalised words is one of these.
const CUE_WORDS = new Set(["mr", "mrs", "ms", "mx", "miss", "dr", "prof", "sir", "dame", "herr", "frau", "mme", "mlle", "sr", "sra", "is", "called", "signed", "regards", "sincerely", "in", "to", "address"]);
const TITLE_BEFORE = /(?:^|[^A-Za-z])(?:Mr|Mrs|Ms|Mx|Miss|Dr|Prof|Sir|Dame|Herr|Frau|Mme|Mlle|Sr|Sra)\.? $/;
const INTRO_BEFORE = /(?:my name is|my name's|i am called|signed,?|regards,?|sincerely,?) ?\n?$/i;
const PLACE_BEFORE = /(?:lives? in|living in|born in|resides? in|moved to|based in|located in|address:?) $/i;
const HOUSE_NUMBER = /^[0-9]{1,5}[a-z]?$/;
const CUE_CHAR = charTable("A-Za-z0-9'");
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

/** CUE_WORDS by length. */
const CUE_BY_LENGTH: ReadonlyArray<readonly string[] | undefined> = (() => {
  const byLength: string[][] = [];
  for (const word of CUE_WORDS) (byLength[word.length] ??= []).push(word);
  return byLength;
})();

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
  while (start >= 0 && last - start < 12 && allowed(CUE_CHAR, codes[start]!)) start--;
  return start + 1;
}

/**
 * Whether the word before `at` (as `wordBefore` finds it) may be a cue word or a house number, read
 * without copying it: most capitalised words follow an ordinary word and are decided here.
 */
function mayCue(codes: Uint8Array, at: number): boolean {
  const last = cueWordLast(codes, at);
  const start = cueWordStart(codes, last);
  if (start > last) return false;
  const first = codes[start]!;
  if (first >= 48 && first <= 57) return true;
  // CUE_CHAR is ASCII letters, digits and "'": `| 32` lower-cases a letter and keeps the others apart.
  for (const word of CUE_BY_LENGTH[last + 1 - start] ?? []) {
    let k = 0;
    while (k < word.length && (codes[start + k]! | 32) === word.charCodeAt(k)) k++;
    if (k === word.length) return true;
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
const isTail = (c: number) => (c >= 97 && c <= 122) || c === 39 || c === 45 || c === 128;
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
  if (at > 0 && allowed(CUE_CHAR, codes[at - 1]!)) return end;
  const cued = mayCue(codes, at);
  if (end === firstEnd && !cued) return end;
  capitalised(text, codes, at, end, cued, emit);
  return end;
}

/** The run [start, end) of capitalised words, not after a word character; `cued`: as `mayCue` says of it. */
function capitalised(text: string, codes: Uint8Array, start: number, end: number, cued: boolean, emit: Emit): void {
  const run = text.slice(start, end);
  const firstSpace = run.indexOf(" ");
  const first = firstSpace < 0 ? run : run.slice(0, firstSpace);
  // "Mr Smith": the title is part of the run of capitalised words.
  if (firstSpace > 0 && TITLES.has(first)) return report(text, start + first.length + 1, end, PERSON, emit);
  // A house number or a cue word before the run: only where the word before may be one.
  if (cued) {
    const cue = wordBefore(text, codes, start);
    if (codes[start - 1] === 32 && HOUSE_NUMBER.test(cue.word) && STREET_SUFFIXES.has(run.slice(run.lastIndexOf(" ") + 1))) {
      const houseStart = cue.start;
      if (houseStart === 0 || !allowed(CUE_CHAR, text.charCodeAt(houseStart - 1))) return report(text, houseStart, end, LOCATION, emit, 0.6);
    }
    if (CUE_WORDS.has(cue.word)) {
      const before = text.slice(Math.max(0, start - LOOK_BEHIND), start);
      if (TITLE_BEFORE.test(before) || INTRO_BEFORE.test(before)) return report(text, start, end, PERSON, emit);
      if (PLACE_BEFORE.test(before)) return report(text, start, end, LOCATION, emit, 0.45);
    }
  }
  if (firstSpace > 0 && FIRST_NAMES.has(first)) report(text, start, end, PERSON, emit, 0.45);
}
