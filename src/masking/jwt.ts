/** JSON Web Tokens: three base64url segments whose header decodes to JSON with `alg`. */
import type { Detector } from './detector.js';
import { NOT_AFTER_TOKEN, pattern } from './detector.js';
import { atTextMarker } from './text-facts.js';

export function jwtHeaderValid(token: string): boolean {
  const header = token.slice(0, token.indexOf('.'));
  try {
    const decoded: unknown = JSON.parse(Buffer.from(header, 'base64url').toString('utf8'));
    return typeof decoded === 'object' && decoded !== null && typeof (decoded as Record<string, unknown>)['alg'] === 'string';
  } catch {
    return false;
  }
}

export const jwtDetector: Detector = {
  name: 'jwt',
  label: 'SECRET',
  rules: [
    {
      // A sentence may end right after a token, but a fourth segment makes it a hostname.
      // "ey"/"ew" is how base64 of "{" followed by a quote, space or newline begins.
      pattern: pattern(`${NOT_AFTER_TOKEN}e[wy][A-Za-z0-9_-]{8,}\\.[A-Za-z0-9_-]{2,}\\.[A-Za-z0-9_-]*(?![A-Za-z0-9_-]|\\.[A-Za-z0-9_-])`),
      validate: jwtHeaderValid,
      confidence: 0.95,
      minLength: 14,
      needs: 'textMarkers',
      nextStart: atTextMarker('jwtStart'),
    },
  ],
};
