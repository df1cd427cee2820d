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
  'telephone', 'téléphone', 'cellphone', 'phone', 'telefon', 'tel', 'mobile', 'mobil', 'mob', 'cell', 'fax', 'call', 'sms',
  'whatsapp', 'contact', 'msisdn', 'landline', 'handy', 'portable', 'ph',
]);
const LABEL =
  `(?:(?<![A-Za-z])|(?<=[a-z])(?=[A-Z]))${LABEL_WORD}` +
  `(?:[ _-]?${anyCase(['number', 'num', 'no', 'nr'])}|#)?(?![a-z])(?:\\.(?! ?[A-Z]))?`;

const MIN_DIGITS = 7;
/** 15 (E.164) after a two-digit international prefix ("0049…"). */
const MAX_DIGITS = 17;

/** Digit groups in the well-known shapes of other things, whatever a numbering plan says. */
const NOT_A_PHONE = new RegExp(
  [
    '^\\d{4}([-/.])\\d{1,2}\\1\\d{1,2}$', // 2024-01-15, 2024/1/5
    '^\\d{1,2}([-/.])\\d{1,2}\\2\\d{2,4}$', // 15.01.2024, 01/15/24
    '^\\d{1,3}(?:\\.\\d{1,3}){3}$', // IPv4
    '^\\d+\\.\\d+$', // a decimal number (164.0338)
    '^\\d{3}-\\d\\d-\\d{4}$', // an SSN (invalid ones included)
    '^\\d{5}-\\d{4}$', // a ZIP+4 code
    '\\D\\d$', // a last group of one digit: an ISBN's check digit ("0-394-31806-4"), never a phone's
  ].join('|'),
);

function writtenNumberValidator(regions: readonly CountryCode[]): (candidate: string) => boolean {
  return (candidate) => {
    // Most candidates are short numbers and dates: out before anything is allocated.
    if (candidate.length <= MIN_DIGITS || NOT_A_PHONE.test(candidate)) return false;
    const digits = candidate.replace(/\D/g, '');
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
const CANDIDATE = new RegExp(`(?:${EDGE_BEFORE}${WRITTEN}|(?<![A-Za-z0-9_+./-])(\\d{${MIN_DIGITS},15}))${EDGE_AFTER}`, 'g');
/** CANDIDATE's group holding a bare run (numbered: named groups cost an object per match). */
const BARE = 1;
const LABEL_BEFORE = new RegExp(`${LABEL}[^\\d\\r\\n,;+.]{0,16}$`);
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
    const c = text.charCodeAt(from - 1);
    if ((c >= 48 && c <= 57) || c === 10 || c === 13 || c === 44 || c === 59 || c === 43) break;
  }
  return from;
}

const WRITTEN_CONFIDENCE = 0.8;
/**
 * Named a phone number and valid as one: that beats a card or SSN reading of the same
 * digits ("phone": "4915243823304" is a German mobile, not a 13-digit Visa).
 */
const LABELLED_CONFIDENCE = 0.97;

const NOTHING: readonly DetectorMatch[] = [];

/**
 * A phone detector reading national numbers as dialled in `regions` (ISO 3166-1 alpha-2,
 * e.g. ['US', 'GB']); numbers written with "+" and a country code are found whatever
 * the regions. Throws PhoneRegionError for a region libphonenumber does not know.
 */
export function phoneDetector(regions: readonly string[] = DEFAULT_PHONE_REGIONS): Detector {
  const known = checkedRegions(regions);
  const validWritten = writtenNumberValidator(known);
  const validBare = bareNumberValidator(known);
  const find = (text: string): readonly DetectorMatch[] => {
    let found: DetectorMatch[] | undefined;
    for (let from = 0; from < text.length; ) {
      CANDIDATE.lastIndex = from;
      const match = CANDIDATE.exec(text);
      if (match === null) break;
      const start = match.index;
      const end = start + match[0].length;
      const bare = match[BARE] !== undefined;
      const accepted = bare
        ? LABEL_BEFORE.test(text.slice(labelWindowStart(text, start), start)) && validBare(match[0])
        : validWritten(match[0]);
      if (accepted) (found ??= []).push({ start, end, confidence: bare ? LABELLED_CONFIDENCE : WRITTEN_CONFIDENCE });
      // A rejected candidate may hold a number further in ("(311) 070-4393" does not: see EDGE_BEFORE).
      from = accepted ? end : start + 1;
    }
    return found ?? NOTHING;
  };
  return { name: 'phone', label: 'PHONE', rules: [{ find, minLength: MIN_DIGITS, prefilter: DIGIT_GROUPS }] };
}
