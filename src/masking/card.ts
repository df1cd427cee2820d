/**
 * Payment card numbers: 13–19 digits, compact or grouped with one kind of separator
 * (space or dash), that pass Luhn AND start with a known issuer prefix at a length that
 * issuer uses. Order numbers and 16-digit ids fail one of the two and stay visible.
 */
import type { Detector, DetectorRule } from './detector.js';
import { pattern } from './detector.js';
import { luhnValid } from './luhn.js';

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

/** The issuer whose prefix and length fit `digits`, if any. */
export function cardIssuer(digits: string): string | undefined {
  for (const issuer of ISSUERS) {
    if (!issuer.lengths.includes(digits.length)) continue;
    for (const [from, to] of issuer.ranges) {
      const prefix = Number(digits.slice(0, String(from).length));
      if (prefix >= from && prefix <= to) return issuer.name;
    }
  }
  return undefined;
}

export function validCardNumber(text: string): boolean {
  const digits = text.replace(/[ -]/g, '');
  return digits.length >= 13 && digits.length <= 19 && cardIssuer(digits) !== undefined && luhnValid(digits);
}

const EDGE_BEFORE = '(?<![0-9A-Za-z])';
const EDGE_AFTER = '(?![0-9A-Za-z])';
const SEP = '([ -])';
const rule = (body: string): DetectorRule => ({
  pattern: pattern(`${EDGE_BEFORE}${body}${EDGE_AFTER}`),
  validate: validCardNumber,
  confidence: 0.95,
});

/**
 * Each layout is its own rule rather than one pattern with optional parts: a regex
 * cannot retry after the validator says no, so "4111 1111 1111 1111 12/25" must have a
 * 16-digit candidate of its own. Overlapping candidates are settled by `scan`.
 */
export const cardDetector: Detector = {
  name: 'card',
  label: 'CARD',
  rules: [
    rule('\\d{13,19}'),
    rule(`\\d{4}${SEP}\\d{4}\\1\\d{4}\\1\\d{4}`),
    rule(`\\d{4}${SEP}\\d{4}\\1\\d{4}\\1\\d{4}\\1\\d{3}`),
    // Amex 4-6-5 and Diners 4-6-4.
    rule(`\\d{4}${SEP}\\d{6}\\1\\d{4,5}`),
  ],
};
