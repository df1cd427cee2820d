/** Email addresses (the common dot-atom form; quoted local parts are not matched). */
import type { Detector } from './detector.js';
import { pattern } from './detector.js';
import { atTextMarker } from './text-facts.js';

export function plausibleEmail(text: string): boolean {
  const at = text.lastIndexOf('@');
  const local = text.slice(0, at);
  const domain = text.slice(at + 1);
  if (text.length > 254 || local.length > 64) return false;
  if (local.startsWith('.') || local.endsWith('.') || local.includes('..')) return false;
  return domain.split('.').every((part) => part.length > 0 && part.length <= 63 && !part.startsWith('-') && !part.endsWith('-'));
}

const LOCAL = '[A-Za-z0-9._%+-]';
/**
 * Characters that never border an address in text (unlike quotes, brackets, braces,
 * backslashes and "&", which do in JSON, array literals, escapes and URLs) but fill
 * passwords and tokens: "x~s@QAE.WX*tbGS" is not an email with a little around it (and masking only
 * that part would show the rest of the secret).
 */
const NOT_AROUND = '[~^*#$]';

export const emailDetector: Detector = {
  name: 'email',
  label: 'EMAIL',
  rules: [
    {
      // Starts at the "@" (rare, so the engine skips to it) and reaches back over the
      // local part with a lookbehind: a pattern starting at the local part would be tried
      // at every word of the text. Local parts longer than 64 (RFC 5321) never match.
      pattern: pattern(
        `@(?<=(?<!${LOCAL}|${NOT_AROUND})(?<lead>${LOCAL}{1,64})@)[A-Za-z0-9-]+(?:\\.[A-Za-z0-9-]+)*\\.[A-Za-z]{2,63}(?![A-Za-z0-9-]|${NOT_AROUND})`,
      ),
      validate: plausibleEmail,
      confidence: 0.95,
      minLength: 6, // a@b.cd
      needs: 'textMarkers',
      nextStart: atTextMarker('at'),
    },
  ],
};
