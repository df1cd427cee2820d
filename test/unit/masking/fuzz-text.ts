/**
 * Seeded random texts for differential tests of `scan`: valid values, look-alikes and
 * their near misses (a digit more or less, another separator, a letter or "+" stuck to
 * them), the words detectors look for, and soups of digits and separators, run together
 * with the characters that decide edges. Not realistic text: text where every edge
 * condition of every detector is hit often.
 */
import { Prng } from '../../../bench/mask/prng.js';
import {
  atLookalike,
  awsAccessKeyId,
  awsSecretKey,
  barePhone,
  cardNumber,
  dashedSsn,
  email,
  gitlabToken,
  githubToken,
  gitSha,
  googleApiKey,
  iban,
  ibanWithWrongCheck,
  invalidPhone,
  invalidSsn,
  ipv4,
  isbn,
  jwt,
  luhnInvalidCardNumber,
  orderId,
  otherNumber,
  password,
  privateKeyPem,
  slackToken,
  ssnDigits,
  stripeKey,
  timestamp,
  uuid,
  versionString,
  writtenPhone,
} from '../../../bench/mask/values.js';

type Piece = (rng: Prng) => string;

const ssn = (rng: Prng): string => dashedSsn(ssnDigits(rng));

const VALUES: readonly Piece[] = [
  email, cardNumber, luhnInvalidCardNumber, ssnDigits, ssn, invalidSsn, iban, ibanWithWrongCheck, writtenPhone, barePhone,
  invalidPhone, awsAccessKeyId, awsSecretKey, githubToken, gitlabToken, slackToken, stripeKey, googleApiKey, jwt, password,
  (rng) => privateKeyPem(rng, rng.pick(['\n', '\r\n'])), uuid, orderId, timestamp, versionString, isbn, gitSha, ipv4,
  otherNumber, atLookalike,
];

const WORDS = [
  'SSN', 'ssn:', 'SSNs ', 'ss# ', 'social security number ', 'Social-Security no. ', 'her SSN is ', '"ssn": "', 'phone', 'Phone: ',
  'Tel. ', 'tel:', 'mobilePhone=', 'phone_number: ', 'cell ', 'fax#', 'call ', 'hotel ', 'phones ', 'telephone no ', 'téléphone ',
  'password=', 'PASSWORD: ', '"token": "', "secret='", 'api_key=', 'private_key_id: ', 'AWS_SECRET_ACCESS_KEY=', 'secret ',
  'token_type=', 'IBAN ', 'card ', 'Visa ', 'AKIA', 'ASIA', 'ghp_', 'github_pat_', 'glpat-', 'xoxb-', 'sk_live_', 'rk_live_',
  'AIza', 'eyJhbGciOiJIUzI1NiJ9', 'ey', '-----BEGIN ', '-----BEGIN RSA PRIVATE KEY-----\n', '\n-----END PRIVATE KEY-----', '@',
  'user@', '@example.com', 'http://', 'ISBN ', 'order #', 'ts=', 'id: ', 'DE', 'GB', 'FR', 'NO', 'US', '+', '+1 ', '+44 (0)',
  '(0)', '(415) ', '00', '011 ', '0 ', '1-', '#', ':', 'x', 'X', 'é', '😀',
];

const EDGES = [' ', ' ', ' ', '', '', ', ', '; ', '\n', '\r\n', '\t', '"', "'", '": "', '=', ': ', '(', ')', '[', ']', '{', '}', '/', '.', '-', '_', '+', '@', '#', ':', 'a', 'Z', '0', '9', '&', '~', '*'];

const SOUP = '0123456789012345678901234567890123456789     ---...//()+AZsn';

/** Changes one thing about a value: a character, a separator, or what it touches. */
function nearMiss(rng: Prng, value: string): string {
  if (value.length === 0) return value;
  const at = rng.int(0, value.length - 1);
  switch (rng.int(0, 6)) {
    case 0:
      return value.slice(0, at) + rng.pick(['0', '5', '9']) + value.slice(at + 1);
    case 1:
      return value.slice(0, at) + rng.pick(['0', '7', ' ', '-', '.']) + value.slice(at);
    case 2:
      return value.slice(0, at) + value.slice(at + 1);
    case 3:
      return value.replace(/[ -]/g, rng.pick([' ', '-', '.', '/', '  ', '']));
    case 4:
      return rng.pick(['1', 'A', 'x', '+', '-', '.', '/', '_', '(', '#', ':']) + value;
    case 5:
      return value + rng.pick(['1', 'A', 'x', '-1', '.5', '/2', '@', '-X', ' 1', '12/25']);
    default:
      return value.toUpperCase();
  }
}

function piece(rng: Prng): string {
  const kind = rng.next();
  if (kind < 0.35) {
    const value = rng.pick(VALUES)(rng);
    return rng.chance(0.4) ? nearMiss(rng, value) : value;
  }
  if (kind < 0.6) return rng.pick(WORDS);
  if (kind < 0.85) return rng.chars(SOUP, rng.int(1, 24));
  return rng.chars('abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ', rng.int(1, 12));
}

/** `count` texts from `seed`, each 1–12 pieces joined by edge characters. */
export function fuzzTexts(seed: number, count: number): string[] {
  const rng = new Prng(seed);
  return Array.from({ length: count }, () => {
    let text = '';
    const pieces = rng.int(1, 12);
    for (let i = 0; i < pieces; i++) text += (i === 0 && rng.chance(0.5) ? '' : rng.pick(EDGES)) + piece(rng);
    return text;
  });
}
