/** Email addresses (the common dot-atom form; quoted local parts are not matched). */
import type { Detector } from './detector.js';
import { pattern } from './detector.js';

export function plausibleEmail(text: string): boolean {
  const at = text.lastIndexOf('@');
  const local = text.slice(0, at);
  const domain = text.slice(at + 1);
  if (text.length > 254 || local.length > 64) return false;
  if (local.startsWith('.') || local.endsWith('.') || local.includes('..')) return false;
  return domain.split('.').every((part) => part.length > 0 && part.length <= 63 && !part.startsWith('-') && !part.endsWith('-'));
}

export const emailDetector: Detector = {
  name: 'email',
  label: 'EMAIL',
  rules: [
    {
      // Anchored to the start of a run of local-part characters, so text without an "@"
      // is scanned in linear time.
      pattern: pattern('(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\\.[A-Za-z0-9-]+)*\\.[A-Za-z]{2,63}(?![A-Za-z0-9-])'),
      validate: plausibleEmail,
      confidence: 0.95,
    },
  ],
};
