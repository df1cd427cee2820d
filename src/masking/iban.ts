/**
 * International Bank Account Numbers: a country code, two check digits and the BBAN,
 * at that country's exact length, passing ISO 7064 mod-97. Upper case, compact or in
 * groups of four separated by single spaces (the printed form).
 */
import type { Detector } from './detector.js';
import { pattern } from './detector.js';
import { codeAt, firstAtOrAfter, isAlphanumeric, type TextFacts } from './text-facts.js';

/** IBAN length per country (SWIFT IBAN registry). */
export const IBAN_LENGTHS: Readonly<Record<string, number>> = {
  AD: 24, AE: 23, AL: 28, AT: 20, AZ: 28, BA: 20, BE: 16, BG: 22, BH: 22, BR: 29,
  BY: 28, CH: 21, CR: 22, CY: 28, CZ: 24, DE: 22, DK: 18, DO: 28, EE: 20, EG: 29,
  ES: 24, FI: 18, FO: 18, FR: 27, GB: 22, GE: 22, GI: 23, GL: 18, GR: 27, GT: 28,
  HR: 21, HU: 28, IE: 22, IL: 23, IQ: 23, IS: 26, IT: 27, JO: 30, KW: 30, KZ: 20,
  LB: 28, LC: 32, LI: 21, LT: 20, LU: 20, LV: 21, MC: 27, MD: 24, ME: 22, MK: 19,
  MR: 27, MT: 31, MU: 30, NL: 18, NO: 15, PK: 24, PL: 28, PS: 29, PT: 25, QA: 29,
  RO: 24, RS: 22, SA: 24, SC: 31, SE: 24, SI: 19, SK: 24, SM: 27, ST: 25, SV: 28,
  TL: 23, TN: 24, TR: 26, UA: 29, VA: 22, VG: 24, XK: 20,
};

/** ISO 7064 mod 97-10 over an alphanumeric string (letters count as 10–35). */
export function mod97(text: string): number {
  let remainder = 0;
  for (const ch of text) {
    const code = ch.charCodeAt(0);
    const value = code <= 57 ? code - 48 : code - 55;
    remainder = value >= 10 ? (remainder * 100 + value) % 97 : (remainder * 10 + value) % 97;
  }
  return remainder;
}

export function validIban(text: string): boolean {
  const iban = text.replace(/ /g, '');
  if (!/^[A-Z]{2}\d{2}[A-Z0-9]+$/.test(iban)) return false;
  if (IBAN_LENGTHS[iban.slice(0, 2)] !== iban.length) return false;
  return mod97(iban.slice(4) + iban.slice(0, 4)) === 1;
}

/** Where an IBAN can start: two capital letters (after no letter or digit) and two digits. */
function nextIbanStart({ text, digitRuns: runs }: TextFacts, from: number): number {
  const starts = runs.ibanStarts;
  for (let i = firstAtOrAfter(starts, from); i < starts.length; i++) {
    const start = starts[i]!;
    if (start === 0 || !isAlphanumeric(codeAt(text, start - 1))) return start;
  }
  return -1;
}

export const ibanDetector: Detector = {
  name: 'iban',
  label: 'IBAN',
  rules: [
    {
      pattern: pattern('(?<![0-9A-Za-z])[A-Z]{2}\\d{2}(?:[A-Z0-9]{11,30}|(?: [A-Z0-9]{4}){2,7}(?: [A-Z0-9]{1,3})?)(?![0-9A-Za-z])'),
      validate: validIban,
      confidence: 0.95,
      minLength: 15, // Norway's, the shortest
      needs: 'numbers',
      nextStart: nextIbanStart,
    },
  ],
};
