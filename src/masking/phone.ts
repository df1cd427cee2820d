/**
 * Phone numbers, validated against real numbering plans (libphonenumber-js "max"
 * metadata: area codes and number ranges per type, not just lengths; see phone-plan.ts).
 *
 * Not libphonenumber's own text matcher: it accepts things no reader would call a phone
 * number — it reads "2024-01-15" as a German number, and "415-555-2671" as German too,
 * without the trunk "0" — and costs 15–50 µs per candidate. The detector has its own
 * `find` instead of rules, because one pass finds both kinds of candidate and only one
 * kind needs a label before it (two rules would cost two passes over every digit):
 *
 * - written like a phone number: "+" and a country code, or digit groups joined by
 *   spaces, dots, dashes, slashes or an area code in parentheses ("(415) 555-2671",
 *   "030/1234567", "+44 (0)20 7946 0958"). National numbers are read in each configured
 *   region and must be written as that region dials them (with its trunk prefix, e.g.
 *   the "0" of "030"); international ones are valid from anywhere;
 * - a bare run of digits ("4155552671", "14155552671") only right after a word that
 *   says it is one ("phone", "tel", "mobile"…): otherwise it is any id.
 *
 * A candidate is a whole run of digit groups: a number is never cut out of a longer
 * sequence ("4111 1111 1111 1112" holds no phone number), at the price of missing two
 * numbers separated by a single space.
 */
import { isSupportedCountry, type CountryCode } from 'libphonenumber-js/max';
import { anyCase, DIGIT_GROUPS, type Detector, type DetectorMatch } from './detector.js';
import { validInternationalNumber, validNationalNumber } from './phone-plan.js';
import { codeAt, isAlphanumeric, isDigit, type DigitRuns, type TextFacts } from './text-facts.js';

export const DEFAULT_PHONE_REGIONS: readonly string[] = ['US'];

export class PhoneRegionError extends Error {
  constructor(readonly region: string) {
    super(`unknown phone region "${region}"; use an ISO 3166-1 alpha-2 code such as US, GB, DE or FR`);
    this.name = 'PhoneRegionError';
  }
}

/**
 * Not inside a token, an address, a longer run of digit groups ("(311) 070-4393" holds
 * no "070-4393") or a printed IBAN ("IE65 QDKA 0541 9435 9946 13").
 */
const EDGE_BEFORE = '(?<![A-Za-z0-9_+.\\/:#@()-])(?<![\\d)][ .\\/-])(?<!\\b[A-Z]{2}\\d\\d(?: [A-Z0-9]{4})+ )';
/**
 * Not followed by more of the same run, a letter, an "@" (an SMS gateway address is an
 * email), or a separator and a letter ("0-568-59147-X" is an ISBN).
 */
const EDGE_AFTER = '(?![A-Za-z0-9_@]|[ .\\/:-]?\\d|[./-][A-Za-z])';
const AREA = '\\(\\d{1,5}\\)';
/** Between digit groups: one separator, or a parenthesised group ("+44 (0)20", "+1 (415) 555"). */
const JOIN = `(?:[ .\\/-]|[ .-]?${AREA}[ .-]?)`;
/**
 * "+" and up to 15 digits, or digit groups (at least two, or an area code in parentheses
 * first). A single run of digits is a bare candidate, and a short one is none at all.
 */
const WRITTEN = `(?:\\+\\d{7,15}(?!\\d)|\\+?(?:${AREA}[ .-]?\\d+|\\d+${JOIN}\\d+)(?:${JOIN}\\d+)*)`;
/**
 * A word naming a phone number, whole or as a part of a camel-case, snake-case or
 * kebab-case key: "phone_number", "mobilePhone", "Tel.", not "hotel" or "phones". A dot
 * may end it as an abbreviation ("Tel. 555…"), not as the end of a sentence ("… by phone.
 * ISBN 3688967860").
 */
const LABEL_WORD = anyCase([
  // telephone, telefon, tel, téléphone; cellphone, cell, call, contact; phone, ph, portable;
  // mobile, mobil, mob, msisdn — grouped by their first letters, so the regex engine reads
  // those once at each position, not once per word.
  't(?:el(?:e(?:phone|fon))?|éléphone)',
  'c(?:ell(?:phone)?|all|ontact)',
  'p(?:h(?:one)?|ortable)',
  'm(?:ob(?:ile?)?|sisdn)',
  'fax', 'sms', 'whatsapp', 'landline', 'handy',
]);
/** The letters LABEL_WORD starts with: looked at first, they rule out most positions at once. */
const LABEL_FIRSTS = '(?=[tcpmfswlhTCPMFSWLH])';
const LABEL =
  `(?:(?<![A-Za-z])|(?<=[a-z])(?=[A-Z]))${LABEL_WORD}` +
  `(?:[ _-]?${anyCase(['number', 'num', 'no', 'nr'])}|#)?(?![a-z])(?:\\.(?! ?[A-Z]))?`;

const MIN_DIGITS = 7;
/** 15 (E.164) after a two-digit international prefix ("0049…"). */
const MAX_DIGITS = 17;

/**
 * Digit groups in the well-known shapes of other things, whatever a numbering plan says.
 * Anchored as a whole, so it is tried at the candidate's start only; the last shape, a
 * group of one digit at the end, is checked by hand (endsInOneDigit).
 */
const NOT_A_PHONE = new RegExp(
  `^(?:${[
    '\\d{4}([-/.])\\d{1,2}\\1\\d{1,2}', // 2024-01-15, 2024/1/5
    '\\d{1,2}([-/.])\\d{1,2}\\2\\d{2,4}', // 15.01.2024, 01/15/24
    '\\d{1,3}(?:\\.\\d{1,3}){3}', // IPv4
    '\\d+\\.\\d+', // a decimal number (164.0338)
    '\\d{3}-\\d\\d-\\d{4}', // an SSN (invalid ones included)
    '\\d{5}-\\d{4}', // a ZIP+4 code
  ].join('|')})$`,
);

/** The digits of `text`, in order (a loop: a global replace costs a match per separator). */
function digitsOf(text: string): string {
  let digits = '';
  for (let i = 0; i < text.length; i++) {
    const code = codeAt(text, i);
    if (code >= 48 && code <= 57) digits += String.fromCharCode(code);
  }
  return digits;
}

/** A last group of one digit: an ISBN's check digit ("0-394-31806-4"), never a phone's. */
function endsInOneDigit(candidate: string): boolean {
  const n = candidate.length;
  return n >= 2 && isDigit(codeAt(candidate, n - 1)) && !isDigit(codeAt(candidate, n - 2));
}

function writtenNumberValidator(regions: readonly CountryCode[]): (candidate: string) => boolean {
  return (candidate) => {
    // Most candidates are short numbers and dates: out before anything is allocated.
    if (candidate.length <= MIN_DIGITS || endsInOneDigit(candidate) || NOT_A_PHONE.test(candidate)) return false;
    const digits = digitsOf(candidate);
    if (digits.length < MIN_DIGITS || digits.length > MAX_DIGITS || digits.length === candidate.length) return false;
    if (candidate.startsWith('+')) return validInternationalNumber(digits);
    return regions.some((region) => validNationalNumber(candidate, digits, region));
  };
}

function bareNumberValidator(regions: readonly CountryCode[]): (candidate: string) => boolean {
  // After a phone word, E.164 without its "+" (how many databases store numbers) counts too.
  return (digits) => regions.some((region) => validNationalNumber(digits, digits, region)) || validInternationalNumber(digits);
}

function checkedRegions(regions: readonly string[]): CountryCode[] {
  return regions.map((region) => {
    if (!isSupportedCountry(region)) throw new PhoneRegionError(region);
    return region;
  });
}

/**
 * Written numbers and bare digit runs in one pass. A bare run is a candidate only after a
 * label: only separators and a few short words may come between (no comma, semicolon or
 * full stop, so the next JSON field, CSV cell or sentence never counts; a dot may end the
 * label itself, as in "Tel. 555…", but not a sentence: "… by phone. ISBN 3688967860").
 */
const MAX_BARE_DIGITS = 15;
const CANDIDATE = new RegExp(`(?:${EDGE_BEFORE}${WRITTEN}|(?<![A-Za-z0-9_+./-])(\\d{${MIN_DIGITS},${MAX_BARE_DIGITS}}))${EDGE_AFTER}`, 'y');
/** CANDIDATE's group holding a bare run (numbered: named groups cost an object per match). */
const BARE = 1;
const LABEL_BEFORE = new RegExp(`${LABEL_FIRSTS}${LABEL}[^\\d\\r\\n,;+.]{0,16}$`);
/** Longer than any label, its suffix and the gap together, so a word the window cuts cannot pass for a label. */
const LABEL_WINDOW = 48;

/**
 * Where a label before a bare run at `start` could begin: back at most LABEL_WINDOW code
 * units, and never past a digit, line break, comma, semicolon or "+", which neither a
 * label nor the gap after it holds. Usually that is a few characters (`"ts": 17…`), so
 * the label pattern has little to search.
 */
function labelWindowStart(text: string, start: number): number {
  const limit = Math.max(0, start - LABEL_WINDOW);
  let from = start;
  for (; from > limit; from--) {
    const c = codeAt(text, from - 1);
    if ((c >= 48 && c <= 57) || c === 10 || c === 13 || c === 44 || c === 59 || c === 43) break;
  }
  return from;
}

/** Whether a label ends just before a bare run at `start`. */
const labelBefore = (text: string, start: number): boolean => LABEL_BEFORE.test(text.slice(labelWindowStart(text, start), start));

/**
 * Whether a written candidate can go on past a run followed by `code`: only with one of
 * JOIN's first characters (space . / - or the "(" of an area code).
 */
const mayJoin = (code: number): boolean => code === 32 || code === 40 || (code >= 45 && code <= 47);

/** What WRITTEN joins digit groups with: space . / ( ) - (never "+"). */
const joins = (code: number): boolean => code === 32 || code === 40 || code === 41 || (code >= 45 && code <= 47);

/** EDGE_AFTER, on the code units after a candidate: `c0` (-1 past the text), and `c1` after it (read only if needed). */
function edgeAfter(text: string, c0: number, c1At: number, c1: number | undefined): boolean {
  if (isAlphanumeric(c0) || c0 === 95 || c0 === 64) return false; // [A-Za-z0-9_@]
  const space = c0 === 32 || c0 === 58; // " " or ":": "[ .\/:-]?\d"
  const punctuation = c0 === 45 || c0 === 46 || c0 === 47; // "-", ".", "/": also "[./-][A-Za-z]"
  if (!space && !punctuation) return true;
  const next = c1 ?? (c1At < text.length ? codeAt(text, c1At) : -1);
  return !(isDigit(next) || (punctuation && isAlphanumeric(next)));
}

/**
 * Whether CANDIDATE can match, and be accepted, starting at `run` (or the "+", "(" just
 * before it): its digits are the run's and those of the runs joined to it as WRITTEN joins
 * them (by one or two of " ./()-"), at least MIN_DIGITS of them; and it ends at the end of
 * one of those runs, where EDGE_AFTER holds. Read off the runs' neighbouring code units, so
 * most dates and times ("2024-01-15 10:30", "…T07:08:37") are ruled out without running
 * the pattern.
 */
function mayMatchFrom(text: string, runs: DigitRuns, run: number): boolean {
  let digits = 0;
  let edge = false;
  for (let k = run; ; k++) {
    const end = runs.end(k);
    digits += end - runs.start(k);
    const after = runs.after(k);
    const gap = k + 1 < runs.count ? runs.start(k + 1) - end : 0;
    // One apart, the next code unit is the next run's first digit; two apart, the one before it.
    edge ||= edgeAfter(text, after, end + 1, gap === 1 ? 48 : gap === 2 ? runs.before(k + 1) : undefined);
    const joined = gap === 1 ? joins(after) : gap === 2 && joins(after) && joins(runs.before(k + 1));
    if (!joined) return edge && digits >= MIN_DIGITS;
  }
}

/** A single separator that WRITTEN joins digit groups with: space . / - */
const separates = (code: number): boolean => code === 32 || code === 45 || code === 46 || code === 47;

/**
 * Where the candidate CANDIDATE finds at the start of `run` ends, when the runs settle it
 * (-1 when they leave it to the pattern): runs joined by single separators ("2024-01-15",
 * "978-3-16-148410-0", "10.4.2.1"), at least two, the last one followed by nothing WRITTEN
 * could join (a join of one or two of " ./()-" and more digits) and by EDGE_AFTER. The
 * pattern takes all of them then (greedy; EDGE_AFTER never holds between them, a separator
 * and a digit following), or nothing, when its edge before does not hold (a bare run then
 * fails EDGE_AFTER for the same reason).
 */
function writtenEnd(text: string, runs: DigitRuns, run: number): number {
  for (let k = run; ; k++) {
    const end = runs.end(k);
    const after = runs.after(k);
    const gap = k + 1 < runs.count ? runs.start(k + 1) - end : 0;
    if (gap === 1 && separates(after)) continue;
    if (gap === 1 ? joins(after) : gap === 2 && joins(after) && joins(runs.before(k + 1))) return -1;
    return k > run && edgeAfter(text, after, end + 1, gap === 1 ? 48 : gap === 2 ? runs.before(k + 1) : undefined) ? end : -1;
  }
}

const WRITTEN_CONFIDENCE = 0.8;
/**
 * Named a phone number and valid as one: that beats a card or SSN reading of the same
 * digits ("phone": "4915243823304" is a German mobile, not a 13-digit Visa).
 */
const LABELLED_CONFIDENCE = 0.97;

const NOTHING: readonly DetectorMatch[] = [];

const PLUS = 43;
const OPEN = 40;

/**
 * What may come before a candidate: no letter, digit, "_", "+", ".", "/" or "-" (the
 * bare candidate's edge; a written one's excludes more).
 */
function mayFollow(code: number): boolean {
  const letter = code | 0x20;
  return !((letter >= 97 && letter <= 122) || (code >= 43 && code <= 57 && code !== 44) || code === 95);
}

/**
 * A phone detector reading national numbers as dialled in `regions` (ISO 3166-1 alpha-2,
 * e.g. ['US', 'GB']); numbers written with "+" and a country code are found whatever
 * the regions. Throws PhoneRegionError for a region libphonenumber does not know.
 */
export function phoneDetector(regions: readonly string[] = DEFAULT_PHONE_REGIONS): Detector {
  const known = checkedRegions(regions);
  const validWritten = writtenNumberValidator(known);
  const validBare = bareNumberValidator(known);
  /**
   * CANDIDATE is tried only where one can start (a digit run's start, or the "+" or "(" just
   * before it) and is not ruled out by its edge or its digits: what searching the whole
   * text with it would find and accept, for a fraction of the cost.
   */
  const find = (text: string, facts: TextFacts): readonly DetectorMatch[] => {
    const runs = facts.digitRuns;
    let found: DetectorMatch[] | undefined;
    let from = 0;
    for (let run = 0; run < runs.count; run++) {
      const runStart = runs.start(run);
      // A candidate with fewer digits is never accepted (and holds the rest of its stretch at most).
      if (runStart < from || runs.tail(run) < MIN_DIGITS) continue;
      // Candidates start at the run, or at the "+", "(" or "+(" just before it.
      const before = runs.before(run);
      let first = runStart;
      if (before === PLUS || before === OPEN) first = before === OPEN && runStart >= 2 && codeAt(text, runStart - 2) === PLUS ? runStart - 2 : runStart - 1;
      let possible: boolean | undefined;
      for (let at = Math.max(first, from); at <= runStart; at++) {
        if (!mayFollow(at === runStart ? before : at > 0 ? codeAt(text, at - 1) : -1)) continue;
        if (!(possible ??= mayMatchFrom(text, runs, run))) break;
        let labelled: boolean | undefined;
        // At the run itself, most candidates are settled without running CANDIDATE. (The
        // loop ends with this run, so no later candidate depends on where it would have gone
        // on after one that is refused or not there.)
        if (at === runStart) {
          if (!mayJoin(runs.after(run))) {
            // Only a bare run can be a candidate here, and only after a label: most runs
            // (ids, timestamps) have none.
            const digits = runs.end(run) - runStart;
            if (digits < MIN_DIGITS || digits > MAX_BARE_DIGITS || !(labelled = labelBefore(text, at))) continue;
          } else {
            // Dates, versions, ISBNs: CANDIDATE would find this or nothing, and it is refused.
            const end = writtenEnd(text, runs, run);
            if (end >= 0 && !validWritten(text.slice(at, end))) continue;
          }
        }
        CANDIDATE.lastIndex = at;
        const match = CANDIDATE.exec(text);
        if (match === null) continue;
        const end = at + match[0].length;
        const bare = match[BARE] !== undefined;
        const accepted = bare ? (labelled ?? labelBefore(text, at)) && validBare(match[0]) : validWritten(match[0]);
        if (accepted) {
          // The number detectors' shared prefilter, which passes over some numbers that
          // CANDIDATE and the validators accept ("0 4503-7-4258"): kept, so that nothing
          // found or missed changes. A number that matches it is a part of the text that does.
          if (found === undefined && !DIGIT_GROUPS.test(match[0]) && !facts.digitGroups) return NOTHING;
          (found ??= []).push({ start: at, end, confidence: bare ? LABELLED_CONFIDENCE : WRITTEN_CONFIDENCE });
          from = end;
          break;
        }
        // A rejected candidate may hold a number further in ("(311) 070-4393" does not: see EDGE_BEFORE).
        from = at + 1;
      }
    }
    return found ?? NOTHING;
  };
  return { name: 'phone', label: 'PHONE', rules: [{ find, minLength: MIN_DIGITS, needs: 'numbers' }] };
}
