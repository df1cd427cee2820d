/**
 * Payment card numbers: 13–19 digits, compact or grouped with one kind of separator
 * (space or dash), that pass Luhn AND start with a known issuer prefix at a length that
 * issuer uses. Order numbers and 16-digit ids fail one of the two and stay visible.
 */
import type { Detector } from './detector.js';
import { pattern } from './detector.js';
import { luhnValid } from './luhn.js';
import { isAlphanumeric, type DigitRuns, type TextFacts } from './text-facts.js';

interface Issuer {
  readonly name: string;
  /** Inclusive prefix ranges, compared on the first `digits` digits. */
  readonly ranges: readonly (readonly [from: number, to: number])[];
  readonly lengths: readonly number[];
}

const range = (from: number, to = from): readonly [number, number] => [from, to];
const lengths = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

export const ISSUERS: readonly Issuer[] = [
  { name: 'visa', ranges: [range(4)], lengths: [13, 16, 19] },
  { name: 'mastercard', ranges: [range(51, 55), range(2221, 2720)], lengths: [16] },
  { name: 'amex', ranges: [range(34), range(37)], lengths: [15] },
  { name: 'discover', ranges: [range(6011), range(65), range(644, 649)], lengths: lengths(16, 19) },
  { name: 'jcb', ranges: [range(3528, 3589)], lengths: lengths(16, 19) },
  { name: 'diners', ranges: [range(300, 305), range(36), range(38)], lengths: lengths(14, 19) },
  { name: 'unionpay', ranges: [range(62)], lengths: lengths(16, 19) },
];

/** ISSUERS, with how many leading digits each range compares. */
const PREFIXES = ISSUERS.map(({ name, ranges, lengths }) => ({ name, lengths, ranges: ranges.map(([from, to]) => [from, to, String(from).length] as const) }));

/** The issuer whose prefix and length fit `digits`, if any. */
export function cardIssuer(digits: string): string | undefined {
  for (const issuer of PREFIXES) {
    if (!issuer.lengths.includes(digits.length)) continue;
    for (const [from, to, width] of issuer.ranges) {
      const prefix = Number(digits.slice(0, width));
      if (prefix >= from && prefix <= to) return issuer.name;
    }
  }
  return undefined;
}

const SEPARATOR = /[ -]/g;

export function validCardNumber(text: string): boolean {
  // Most candidates are written without separators: nothing to replace then.
  const digits = text.includes(' ') || text.includes('-') ? text.replace(SEPARATOR, '') : text;
  return digits.length >= 13 && digits.length <= 19 && cardIssuer(digits) !== undefined && luhnValid(digits);
}

/** Not inside a token, and not after "+" (an international phone number is never a card). */
const EDGE_BEFORE = '(?<![0-9A-Za-z+])';
const EDGE_AFTER = '(?![0-9A-Za-z])';
/**
 * Grouped layouts also start and end where the grouping does: "6214 0892 2977 6549 355"
 * or an IBAN's groups ("SE25 2343 5141 3937 6497 0230") hold no 16-digit card. An expiry
 * date may follow ("… 1111 12/25").
 */
const GROUPS_START = '(?<!\\d[ -])';
const GROUPS_END = '(?!\\1\\d+(?![\\d/]))';
const SEP = '([ -])';
/**
 * The layouts: compact, 4-4-4-4 with an optional 19-digit tail, and Amex/Diners 4-6-5
 * and 4-6-4, one separator kind throughout. One pattern serves them all because at any
 * start at most one of them can match (a regex cannot retry another alternative after
 * the validator says no, so overlapping layouts would each need a rule of their own).
 */
const LAYOUTS = `(?:\\d{13,19}|${GROUPS_START}\\d{4}${SEP}(?:\\d{4}\\1\\d{4}\\1\\d{4}(?:\\1\\d{3})?|\\d{6}\\1\\d{4,5})${GROUPS_END})`;

const PLUS = 43;
const SPACE = 32;
const DASH = 45;

/**
 * Where LAYOUTS can match: at the start of a digit run (after no letter, digit or "+") of
 * 13–19 digits, or of 4 digits followed by a space or dash and a run of 4 or 6.
 */
function nextCardStart({ digitRuns: runs }: TextFacts, from: number): number {
  for (let run = runs.firstFrom(from); run < runs.count; run++) {
    const start = runs.start(run);
    const end = runs.end(run);
    const length = end - start;
    const shaped = length >= 13 ? length <= 19 : length === 4 && groupedAfter(runs, run, end);
    if (shaped && !cardNeighbour(runs.before(run))) return start;
  }
  return -1;
}

const cardNeighbour = (code: number): boolean => code === PLUS || isAlphanumeric(code);

function groupedAfter(runs: DigitRuns, run: number, end: number): boolean {
  const separator = runs.after(run);
  if ((separator !== SPACE && separator !== DASH) || run + 1 >= runs.count || runs.start(run + 1) !== end + 1) return false;
  const next = runs.end(run + 1) - end - 1;
  return next === 4 || next === 6;
}

export const cardDetector: Detector = {
  name: 'card',
  label: 'CARD',
  rules: [
    {
      pattern: pattern(`${EDGE_BEFORE}${LAYOUTS}${EDGE_AFTER}`),
      validate: validCardNumber,
      confidence: 0.95,
      minLength: 13,
      needs: 'numbers',
      nextStart: nextCardStart,
    },
  ],
};
