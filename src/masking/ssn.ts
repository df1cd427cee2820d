/**
 * US Social Security numbers. `123-45-6789` is recognised on its own; nine bare digits
 * only right after a word naming them ("SSN", "social security number"), with lower confidence.
 * Numbers the SSA never issues are rejected either way.
 */
import type { Detector } from './detector.js';
import { anyCase, pattern } from './detector.js';
import { isAlphanumeric, type TextFacts } from './text-facts.js';

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

const DASH = 45;

/** EDGE_BEFORE, on the code unit before a run (-1 at the start of the text). */
const edgeBefore = (code: number): boolean => !(code === DASH || isAlphanumeric(code));

/** Where `123-45-6789` can start: a run of 3 digits, a dash, a run of 2, a dash, a run of 4. */
function nextDashedStart({ digitRuns: runs }: TextFacts, from: number): number {
  for (let run = runs.firstFrom(from); run + 2 < runs.count; run++) {
    const start = runs.start(run);
    if (
      runs.end(run) === start + 3 &&
      runs.after(run) === DASH &&
      runs.start(run + 1) === start + 4 &&
      runs.end(run + 1) === start + 6 &&
      runs.after(run + 1) === DASH &&
      runs.start(run + 2) === start + 7 &&
      runs.end(run + 2) === start + 11 &&
      edgeBefore(runs.before(run))
    ) {
      return start;
    }
  }
  return -1;
}

/** Where a labelled SSN's digits can start: a run of exactly 9. */
function nextBareStart({ digitRuns: runs }: TextFacts, from: number): number {
  for (let run = runs.firstFrom(from); run < runs.count; run++) {
    const start = runs.start(run);
    if (runs.end(run) === start + 9 && edgeBefore(runs.before(run))) return start;
  }
  return -1;
}

export const ssnDetector: Detector = {
  name: 'ssn',
  label: 'SSN',
  rules: [
    { pattern: pattern(`${EDGE_BEFORE}\\d{3}-\\d{2}-\\d{4}${EDGE_AFTER}`), validate: validSsn, confidence: 0.9, minLength: 11, needs: 'numbers', nextStart: nextDashedStart },
    {
      // The label and the number in one pattern, with only separators and short words
      // between ("SSN: …", '"ssn": "…"', "her SSN is …"): a window of text before the
      // number would also take the employee id in the next CSV cell or JSON field. It looks
      // back for the label from the number (runs of 9 digits are rarer than the words).
      pattern: pattern(`(?<=${LABEL}[^\\d\\r\\n,;]{0,16})${EDGE_BEFORE}\\d{9}${EDGE_AFTER}`),
      validate: validSsn,
      confidence: 0.6,
      minLength: 12, // SSN123456789
      needs: 'numbers',
      nextStart: nextBareStart,
    },
  ],
};
