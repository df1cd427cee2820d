/**
 * Credentials with a recognisable shape (vendor prefixes, PEM armour) and values
 * assigned to secret-sounding keys. Every one is labelled SECRET: what kind of secret
 * leaked is itself a hint worth hiding.
 */
import type { Detector } from './detector.js';
import { NOT_AFTER_TOKEN, NOT_BEFORE_TOKEN, pattern } from './detector.js';

const token = (name: string, body: string, confidence = 0.99): Detector => ({
  name,
  label: 'SECRET',
  rules: [{ pattern: pattern(`${NOT_AFTER_TOKEN}${body}${NOT_BEFORE_TOKEN}`), confidence }],
});

export const awsAccessKeyDetector = token('aws-access-key', '(?:AKIA|ASIA)[A-Z0-9]{16}', 0.95);

/**
 * 40 base64 characters are also every SHA-1 in hex, so a secret key only counts right
 * after a word that says so.
 */
export const awsSecretKeyDetector: Detector = {
  name: 'aws-secret-key',
  label: 'SECRET',
  rules: [
    {
      pattern: pattern('(?<![A-Za-z0-9/+=])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])'),
      context: { words: /aws_secret_access_key|secret[_ -]?access[_ -]?key|\bsecret/i, before: 60 },
      confidence: 0.7,
    },
  ],
};

export const githubTokenDetector: Detector = {
  name: 'github-token',
  label: 'SECRET',
  rules: [
    { pattern: pattern(`${NOT_AFTER_TOKEN}gh[pousr]_[A-Za-z0-9]{36}${NOT_BEFORE_TOKEN}`), confidence: 0.99 },
    { pattern: pattern(`${NOT_AFTER_TOKEN}github_pat_[A-Za-z0-9_]{22,}${NOT_BEFORE_TOKEN}`), confidence: 0.99 },
  ],
};

export const gitlabTokenDetector = token('gitlab-token', 'glpat-[A-Za-z0-9_-]{20,}');
export const slackTokenDetector = token('slack-token', 'xox[baprs]-[A-Za-z0-9-]{10,}', 0.95);
export const stripeKeyDetector = token('stripe-key', '(?:sk|rk)_live_[A-Za-z0-9]{24,}');
export const googleApiKeyDetector = token('google-api-key', 'AIza[A-Za-z0-9_-]{35}', 0.95);

export const privateKeyDetector: Detector = {
  name: 'private-key',
  label: 'SECRET',
  redactOnly: true,
  rules: [
    {
      pattern: pattern('-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----[\\s\\S]*?-----END (?:[A-Z0-9]+ )*PRIVATE KEY-----'),
      confidence: 1,
    },
  ],
};

const SECRET_KEY = '[A-Za-z0-9_.-]*(?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key)[A-Za-z0-9_.-]*';

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
        `(?<![A-Za-z0-9_.-])${SECRET_KEY}["']?[ \\t]*[:=][ \\t]*(?:"(?<value>[^"\\r\\n]+)"|'(?<value2>[^'\\r\\n]+)'|(?<value3>[^\\s"',;&}]+))`,
        'i',
      ),
      confidence: 0.6,
    },
  ],
};
