/**
 * PERSON and LOCATION, rule-based and honest about it: without a language model, a name is found only
 * where the text says it is one — a title before a capitalised name ("Dr. Jane Roe"), "my name is …",
 * a common first name from a small gazetteer followed by a capitalised surname, a street address, or
 * "lives in / born in" before a capitalised place. Everything else (a bare surname, a name in lower
 * case, a city mentioned in passing) is missed on purpose, and scores stay low: these findings raise a
 * request to internal, they do not make it confidential.
 */
import { type Emit, report, type Rule, scan } from "./scan.ts";

const PERSON: Rule = { type: "PERSON", category: "pii", level: 1, score: 0.6 };
const LOCATION: Rule = { type: "LOCATION", category: "pii", level: 1, score: 0.5 };

const NAME = "[A-Z][a-z'’-]{1,24}";
const TITLED = new RegExp(`(?<![A-Za-z])(?:Mr|Mrs|Ms|Mx|Miss|Dr|Prof|Sir|Dame|Herr|Frau|Mme|Mlle|Sr|Sra)\\.? (${NAME}(?: ${NAME}){0,2})`, "g");
const INTRODUCED = new RegExp(`(?<![A-Za-z])(?:[Mm]y name is|[Mm]y name's|I am called|[Ss]igned,?|[Rr]egards,?\\n?|[Ss]incerely,?\\n?) ?(${NAME}(?: ${NAME}){0,2})`, "g");
// Two or three capitalised words; the first is checked against the gazetteer.
const CAPITALISED_PAIR = new RegExp(`(?<![A-Za-z])(${NAME}) (${NAME}(?:-${NAME})?)`, "g");
/** Street suffixes (USPS Publication 28, common ones, and British usage). */
const STREET_SUFFIXES = (
  "Street St Avenue Ave Road Rd Boulevard Blvd Lane Ln Drive Dr Way Court Ct Place Pl Square Sq Close Terrace Crescent " +
  "Highway Hwy Parkway Pkwy Circle Cir Trail Trl Loop Plaza Path Pike Row Run Walk Alley Bridge Crossing Creek Grove Heights " +
  "Hill Hills Junction Junctions Meadow Meadows Park Plains Point Port Ridge Spring Springs Station Summit Valley View Views " +
  "Village Vista Fields Field Gardens Green Harbor Island Landing Manor Mill Mills Pass Ranch Shore Shores Stream Turnpike " +
  "Expressway Freeway Fork Forks Falls Ford Fort Ferry Estates Extension Dale Corner Corners Cove Cliff Cliffs Center Common " +
  "Commons Bypass Brook Brooks Branch Bluff Bend Beach Haven Hollow Isle Key Knoll Lake Lakes Lodge Mall Mount Mountain " +
  "Orchard Oval Pine Pines Prairie Rapids Rest Route Spur Trace Track Tunnel Via Well Wells Gateway Mews Parade Grange"
).split(" ");
const STREET_ADDRESS = new RegExp(`(?<![A-Za-z0-9])[0-9]{1,5}[A-Za-z]? (?:${NAME} ){1,3}(?:${STREET_SUFFIXES.join("|")})\\b\\.?`, "g");
const RESIDES = new RegExp(`(?<![A-Za-z])(?:[Ll]ives? in|[Ll]iving in|[Bb]orn in|[Rr]esides? in|[Mm]oved to|[Bb]ased in|[Ll]ocated in|[Aa]ddress:?) (${NAME}(?: ${NAME}){0,2})`, "g");

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

export function scanNames(text: string, emit: Emit): void {
  const named = (m: RegExpExecArray) => {
    const name = m[1]!;
    const start = m.index + m[0].length - name.length;
    report(text, start, start + name.length, PERSON, emit);
  };
  scan(text, TITLED, named);
  scan(text, INTRODUCED, named);
  scan(text, CAPITALISED_PAIR, (m) => {
    if (!FIRST_NAMES.has(m[1]!)) return m.index + m[1]!.length + 1; // the surname may start the next pair
    report(text, m.index, m.index + m[0].length, PERSON, emit, 0.45);
  });
  scan(text, STREET_ADDRESS, (m) => report(text, m.index, m.index + m[0].length, LOCATION, emit, 0.6));
  scan(text, RESIDES, (m) => {
    const place = m[1]!;
    const start = m.index + m[0].length - place.length;
    report(text, start, start + place.length, LOCATION, emit, 0.45);
  });
}
