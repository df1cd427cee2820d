/**
 * US Social Security numbers. `123-45-6789` is recognised on its own; nine bare digits
 * only right after a word naming them ("SSN", "social security number"), with lower confidence.
 * Numbers the SSA never issues are rejected either way.
 */
import type { Detector } from './detector.js';
import { anyCase, DIGIT_GROUPS, pattern } from './detector.js';

/** Published in advertising or otherwise known never to belong to anyone. */
const KNOWN_INVALID: ReadonlySet<string> = new Set(['078051120', '219099999', '123456789', '457555462']);

/** Input: the number with or without dashes. */
export function validSsn(text: string): boolean {
  const digits = text.replace(/-/g, '');
  if (!/^\d{9}$/.test(digits)) return false;
  const area = Number(digits.slice(0, 3));
  const group = digits.slice(3, 5);
  const serial = digits.slice(5);
  if (area === 0 || area === 666 || area >= 900) return false;
  if (group === '00' || serial === '0000') return false;
  return !KNOWN_INVALID.has(digits);
}

const EDGE_BEFORE = '(?<![0-9A-Za-z-])';
const EDGE_AFTER = '(?![0-9A-Za-z]|-\\d)';
/** A word naming an SSN, as a whole word ("ssn", "SSNs", "social security number"). */
const LABEL = `(?<![A-Za-z])${anyCase(['ssns?', 'ss#', 'social[ _-]+security(?:[ _-]+(?:number|no|#))?'])}(?![A-Za-z])`;

export const ssnDetector: Detector = {
  name: 'ssn',
  label: 'SSN',
  rules: [
    { pattern: pattern(`${EDGE_BEFORE}\\d{3}-\\d{2}-\\d{4}${EDGE_AFTER}`), validate: validSsn, confidence: 0.9, minLength: 11, prefilter: DIGIT_GROUPS },
    {
      // The label and the number in one pattern, with only separators and short words
      // between ("SSN: …", '"ssn": "…"', "her SSN is …"): a window of text before the
      // number would also take the employee id in the next CSV cell or JSON field.
      pattern: pattern(`${LABEL}[^\\d\\r\\n,;]{0,16}?${EDGE_BEFORE}(?<value>\\d{9})${EDGE_AFTER}`),
      validate: validSsn,
      confidence: 0.6,
      minLength: 12, // SSN123456789
      prefilter: DIGIT_GROUPS,
    },
  ],
};
