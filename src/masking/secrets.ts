/**
 * Credentials with a recognisable shape (vendor prefixes, PEM armour) and values
 * assigned to secret-sounding keys. Every one is labelled SECRET: what kind of secret
 * leaked is itself a hint worth hiding.
 */
import type { Detector } from './detector.js';
import { anyCase, NOT_AFTER_TOKEN, NOT_BEFORE_TOKEN, pattern, SECRET_WORD } from './detector.js';
import { atTextMarker } from './text-facts.js';

/**
 * A vendor's token: tried only where a vendor's prefix (VENDOR_PREFIXES) starts with one
 * of `firsts`, found once per text for all of them (TextFacts.textMarkers), as secret
 * words are for the rules below. `minLength`: the shortest token of the vendor's shape.
 */
const token = (name: string, body: string, firsts: string, minLength: number, confidence = 0.99): Detector => ({
  name,
  label: 'SECRET',
  rules: [{ pattern: pattern(`${NOT_AFTER_TOKEN}${body}${NOT_BEFORE_TOKEN}`), confidence, minLength, needs: 'textMarkers', nextStart: atTextMarker('vendorPrefix', firsts) }],
});

export const awsAccessKeyDetector = token('aws-access-key', '(?:AKIA|ASIA)[A-Z0-9]{16}', 'A', 20, 0.95);

/**
 * 40 base64 characters are also every SHA-1 in hex, so a secret key only counts right
 * after a word that says so.
 */
export const awsSecretKeyDetector: Detector = {
  name: 'aws-secret-key',
  label: 'SECRET',
  rules: [
    {
      // "=" may come before ("AWS_SECRET_ACCESS_KEY=…"), not after (longer base64).
      pattern: pattern('(?<![A-Za-z0-9/+])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])'),
      // Random base64 has both cases; a hex digest (git SHA, checksum) has not.
      validate: (value) => /[A-Z]/.test(value) && /[a-z]/.test(value),
      context: { words: new RegExp(`(?<![A-Za-z])${anyCase(['secret'])}`), before: 60, nextWord: atTextMarker('secretWord', 'sS') },
      needs: 'textMarkers',
      confidence: 0.7,
      minLength: 40,
    },
  ],
};

export const githubTokenDetector: Detector = {
  name: 'github-token',
  label: 'SECRET',
  rules: [
    { pattern: pattern(`${NOT_AFTER_TOKEN}gh[pousr]_[A-Za-z0-9]{36}${NOT_BEFORE_TOKEN}`), confidence: 0.99, minLength: 40, needs: 'textMarkers', nextStart: atTextMarker('vendorPrefix', 'g') },
    { pattern: pattern(`${NOT_AFTER_TOKEN}github_pat_[A-Za-z0-9_]{22,}${NOT_BEFORE_TOKEN}`), confidence: 0.99, minLength: 33, needs: 'textMarkers', nextStart: atTextMarker('vendorPrefix', 'g') },
  ],
};

export const gitlabTokenDetector = token('gitlab-token', 'glpat-[A-Za-z0-9_-]{20,}', 'g', 26);
export const slackTokenDetector = token('slack-token', 'xox[baprs]-[A-Za-z0-9-]{10,}', 'x', 15, 0.95);
export const stripeKeyDetector = token('stripe-key', '(?:sk|rk)_live_[A-Za-z0-9]{24,}', 'sr', 32);
export const googleApiKeyDetector = token('google-api-key', 'AIza[A-Za-z0-9_-]{35}', 'A', 39, 0.95);

export const privateKeyDetector: Detector = {
  name: 'private-key',
  label: 'SECRET',
  redactOnly: true,
  rules: [
    {
      pattern: pattern('-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----[\\s\\S]*?-----END (?:[A-Z0-9]+ )*PRIVATE KEY-----'),
      confidence: 1,
      minLength: 52, // the two armour lines alone
      needs: 'textMarkers',
      nextStart: atTextMarker('vendorPrefix', '-'),
    },
  ],
};

/**
 * A key naming a secret: starts at the secret word rather than at the key's first
 * character, so the engine looks for the (rare) words instead of trying every word of the
 * text; what comes before the word does not change which value is masked. Keys that
 * describe a secret rather than hold it (`private_key_id`, `token_type`,
 * `password_expires_at`) are not assignments of one.
 */
const SECRET_KEY =
  `${SECRET_WORD}[A-Za-z0-9_.-]*` +
  `(?<![_.-]${anyCase(['id', 'ids', 'name', 'type', 'url', 'uri', 'path', 'file', 'hint', 'length', 'expiry', 'expires', 'expires_in', 'expires_at', 'ttl'])})`;

/**
 * `password=hunter2`, `secret: x`, `"token": "abc"`, `DB_PASSWORD='a b'`: only the value
 * is masked, so the reader still sees which setting it was. Quoted values run to the
 * closing quote; bare ones to whitespace or a delimiter.
 */
export const secretAssignmentDetector: Detector = {
  name: 'secret-assignment',
  label: 'SECRET',
  rules: [
    {
      pattern: pattern(
        `${SECRET_KEY}["']?[ \\t]*[:=][ \\t]*(?:"(?<value>[^"\\r\\n]+)"|'(?<value2>[^'\\r\\n]+)'|(?<value3>[^\\s"',;&}]+))`,
      ),
      confidence: 0.6,
      minLength: 5, // pwd=x
      needs: 'textMarkers',
      nextStart: atTextMarker('secretWord'),
    },
  ],
};
