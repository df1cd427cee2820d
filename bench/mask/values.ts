/**
 * Values for the labelled corpus: sensitive ones as they occur in real data (card
 * numbers of real issuers with a correct Luhn digit, IBANs in each country's BBAN format
 * with correct check digits, phone numbers from allocated ranges, vendor tokens in their
 * published shapes) and the look-alikes a masker must leave alone. Check digits are
 * computed here independently of src/masking, so a bug there cannot hide itself.
 */
import { parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js/max';
import { ALNUM, BASE64, BASE64URL, DIGITS, HEX, UPPER, type Prng } from './prng.js';

// ------------------------------------------------------------------ people and places

const FIRST_NAMES = [
  'Ann', 'James', 'Maria', 'Wei', 'Fatima', 'Liam', 'Olivia', 'Noah', 'Sofia', 'Lucas', 'Emma', 'Mateo', 'Chloe', 'Arjun',
  'Yuki', 'Hannah', 'Omar', 'Grace', 'Diego', 'Ingrid', 'Kwame', 'Priya', 'Tom', 'Zoë', 'José', 'Søren', 'Łukasz', 'Amélie',
];
const LAST_NAMES = [
  'Lee', 'Smith', 'Garcia', 'Chen', 'Khan', 'Johnson', 'Brown', 'Rossi', 'Müller', 'Dubois', 'Nguyen', 'Kowalski', 'Okafor',
  "O'Brien", 'Silva', 'Tanaka', 'Haddad', 'Novak', 'Jensen', 'Patel', 'Schmidt', 'Martin', 'Ivanova', 'Walker',
];
export const CITIES = ['Berlin', 'Austin', 'Lyon', 'Manchester', 'Toronto', 'Osaka', 'Porto', 'Denver', 'Gdańsk', 'São Paulo', 'Nairobi', 'Leeds'];
export const PRODUCTS = ['standing desk', 'USB-C hub', 'espresso grinder', 'trail shoes', 'noise-cancelling headphones', 'yoga mat', '27" monitor', 'backpack'];
export const TEAMS = ['billing', 'support', 'platform', 'data', 'security', 'growth', 'mobile', 'infra'];
export const WEEKDAYS = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday'];
export const STATUSES = ['pending', 'shipped', 'delivered', 'refunded', 'cancelled', 'on hold'];

const ASCII: Readonly<Record<string, string>> = { 'ë': 'e', 'é': 'e', 'ø': 'o', 'ł': 'l', 'ü': 'u', "'": '' };
const ascii = (name: string): string => name.toLowerCase().replace(/[ëéøłü']/g, (c) => ASCII[c] ?? '');

export function personName(rng: Prng): string {
  return `${rng.pick(FIRST_NAMES)} ${rng.pick(LAST_NAMES)}`;
}

// ------------------------------------------------------------------ email

const FREE_MAIL = ['gmail.com', 'yahoo.com', 'outlook.com', 'hotmail.co.uk', 'proton.me', 'icloud.com', 'web.de', 'orange.fr'];
const COMPANY_WORDS = ['acme', 'northwind', 'globex', 'initech', 'umbrella', 'contoso', 'fabrikam', 'tailspin', 'wayne-ent', 'blue-sky'];
const TLDS = ['com', 'io', 'co.uk', 'de', 'fr', 'net', 'org', 'com.au', 'dev'];

export function email(rng: Prng): string {
  const first = ascii(rng.pick(FIRST_NAMES));
  const last = ascii(rng.pick(LAST_NAMES));
  const local = rng.pick([
    () => `${first}.${last}`,
    () => `${first[0]}${last}`,
    () => `${first}_${last}${rng.int(1, 99)}`,
    () => `${first}+${rng.pick(['orders', 'news', 'work', 'test'])}`,
    () => `${last}${rng.int(1950, 2005)}`,
    () => `${first}`,
    () => rng.pick(['support', 'billing', 'noreply', 'ops-alerts', 'hr']),
  ])();
  const domain = rng.chance(0.4)
    ? rng.pick(FREE_MAIL)
    : `${rng.chance(0.15) ? `${rng.pick(['mail', 'eu', 'corp'])}.` : ''}${rng.pick(COMPANY_WORDS)}.${rng.pick(TLDS)}`;
  const address = `${local}@${domain}`;
  return rng.chance(0.1) ? address.replace(/^./, (c) => c.toUpperCase()) : address;
}

// ------------------------------------------------------------------ payment cards

interface CardIssuer {
  readonly name: string;
  readonly prefix: (rng: Prng) => string;
  readonly lengths: readonly number[];
}

const CARD_ISSUERS: readonly CardIssuer[] = [
  { name: 'visa', prefix: () => '4', lengths: [16, 16, 16, 16, 16, 16, 13, 19] },
  { name: 'mastercard', prefix: (rng) => (rng.chance(0.7) ? String(rng.int(51, 55)) : String(rng.int(2221, 2720))), lengths: [16] },
  { name: 'amex', prefix: (rng) => rng.pick(['34', '37']), lengths: [15] },
  { name: 'discover', prefix: (rng) => rng.pick(['6011', '65', String(rng.int(644, 649))]), lengths: [16] },
  { name: 'jcb', prefix: (rng) => String(rng.int(3528, 3589)), lengths: [16] },
  { name: 'diners', prefix: (rng) => rng.pick(['36', '38', String(rng.int(300, 305))]), lengths: [14] },
  { name: 'unionpay', prefix: () => '62', lengths: [16, 19] },
];

/** The digit that makes `body` + digit pass Luhn. */
function luhnCheckDigit(body: string): number {
  let sum = 0;
  for (let i = 0; i < body.length; i++) {
    let d = body.charCodeAt(body.length - 1 - i) - 48;
    if (i % 2 === 0) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return (10 - (sum % 10)) % 10;
}

/** How a number of this length is printed on the card and in most forms. */
function cardGroups(length: number): readonly number[] {
  if (length === 15) return [4, 6, 5];
  if (length === 14) return [4, 6, 4];
  if (length === 19) return [4, 4, 4, 4, 3];
  return [4, 4, 4, 4];
}

function layout(digits: string, rng: Prng): string {
  if (digits.length === 13 || rng.chance(0.35)) return digits;
  const separator = rng.chance(0.7) ? ' ' : '-';
  const parts: string[] = [];
  let at = 0;
  for (const size of cardGroups(digits.length)) {
    parts.push(digits.slice(at, at + size));
    at += size;
  }
  return parts.join(separator);
}

function cardDigits(rng: Prng, validLuhn: boolean): string {
  const issuer = rng.pick(CARD_ISSUERS);
  const length = rng.pick(issuer.lengths);
  const prefix = issuer.prefix(rng);
  const body = prefix + rng.digits(length - 1 - prefix.length);
  const check = luhnCheckDigit(body);
  return body + String(validLuhn ? check : (check + rng.int(1, 9)) % 10);
}

export function cardNumber(rng: Prng): string {
  return layout(cardDigits(rng, true), rng);
}

/** A card-shaped number (issuer prefix, grouping) whose Luhn digit is wrong. */
export function luhnInvalidCardNumber(rng: Prng): string {
  return layout(cardDigits(rng, false), rng);
}

// ------------------------------------------------------------------ US SSN

export function ssnDigits(rng: Prng): string {
  let area = rng.int(1, 899);
  if (area === 666) area = 667;
  return `${String(area).padStart(3, '0')}${String(rng.int(1, 99)).padStart(2, '0')}${String(rng.int(1, 9999)).padStart(4, '0')}`;
}

export const dashedSsn = (digits: string): string => `${digits.slice(0, 3)}-${digits.slice(3, 5)}-${digits.slice(5)}`;

/** SSA never issues these: area 000, 666 or 9xx, group 00, serial 0000. */
export function invalidSsn(rng: Prng): string {
  const valid = ssnDigits(rng);
  const broken = rng.pick([
    () => `000${valid.slice(3)}`,
    () => `666${valid.slice(3)}`,
    () => `9${rng.digits(2)}${valid.slice(3)}`,
    () => `${valid.slice(0, 3)}00${valid.slice(5)}`,
    () => `${valid.slice(0, 5)}0000`,
  ])();
  return dashedSsn(broken);
}

// ------------------------------------------------------------------ IBAN

/** BBAN layouts: n digits, a upper-case letters, c upper-case alphanumerics. */
const BBAN_FORMATS: Readonly<Record<string, string>> = {
  DE: '8n10n', GB: '4a6n8n', FR: '5n5n11c2n', NL: '4a10n', ES: '4n4n2n10n', IT: '1a5n5n12c', CH: '5n12c', BE: '3n7n2n',
  AT: '5n11n', PL: '8n16n', NO: '4n6n1n', SE: '3n16n1n', IE: '4a6n8n', PT: '4n4n11n2n', DK: '4n9n1n', FI: '3n11n',
};

function bban(rng: Prng, format: string): string {
  let out = '';
  for (const [, count, kind] of format.matchAll(/(\d+)([nac])/g)) {
    const alphabet = kind === 'n' ? DIGITS : kind === 'a' ? UPPER : `${DIGITS}${DIGITS}${UPPER}`;
    out += rng.chars(alphabet, Number(count));
  }
  return out;
}

/** ISO 13616 check digits, computed with BigInt (independent of src/masking's mod97). */
function ibanCheckDigits(country: string, bbanText: string): string {
  const numeric = `${bbanText}${country}00`.replace(/[A-Z]/g, (c) => String(c.charCodeAt(0) - 55));
  return String(98n - (BigInt(numeric) % 97n)).padStart(2, '0');
}

const printedIban = (iban: string, rng: Prng): string => (rng.chance(0.5) ? iban : iban.replace(/(.{4})/g, '$1 ').trim());

function ibanParts(rng: Prng): [country: string, bbanText: string] {
  const country = rng.pick(Object.keys(BBAN_FORMATS));
  return [country, bban(rng, BBAN_FORMATS[country]!)];
}

export function iban(rng: Prng): string {
  const [country, bbanText] = ibanParts(rng);
  return printedIban(`${country}${ibanCheckDigits(country, bbanText)}${bbanText}`, rng);
}

export function ibanWithWrongCheck(rng: Prng): string {
  const [country, bbanText] = ibanParts(rng);
  const right = Number(ibanCheckDigits(country, bbanText));
  const wrong = String(((right - 2 + rng.int(1, 95)) % 97) + 2).padStart(2, '0');
  return printedIban(`${country}${wrong}${bbanText}`, rng);
}

// ------------------------------------------------------------------ phone numbers

export const PHONE_REGIONS = ['US', 'GB', 'DE', 'FR'] as const;
type PhoneRegion = (typeof PHONE_REGIONS)[number];

const US_AREAS = [
  201, 202, 203, 205, 206, 212, 213, 214, 215, 217, 248, 267, 301, 303, 305, 310, 312, 313, 315, 323, 347, 404, 408, 412, 415, 425,
  469, 480, 503, 504, 510, 512, 516, 602, 609, 612, 614, 615, 617, 646, 650, 702, 703, 713, 718, 720, 773, 786, 801, 808, 818, 832,
  847, 858, 904, 908, 914, 916, 917, 919, 925, 949, 972, 978,
];

/** A national significant number drawn from a range the region allocates. */
function nationalNumber(rng: Prng, region: PhoneRegion): string {
  switch (region) {
    case 'US': {
      let exchange = rng.int(200, 999);
      if (exchange % 100 === 11 || exchange === 555) exchange += 1;
      return `${rng.pick(US_AREAS)}${exchange}${rng.digits(4)}`;
    }
    case 'GB':
      return rng.pick([
        () => `20${rng.pick(['3', '7', '8'])}${rng.digits(7)}`,
        () => `${rng.pick(['161', '121', '113', '131', '141', '117'])}${rng.int(2, 9)}${rng.digits(6)}`,
        () => `7${rng.pick(['4', '5', '7', '8', '9'])}${rng.digits(8)}`,
      ])();
    case 'DE':
      return rng.pick([
        () => `${rng.pick(['30', '40', '89', '69', '221'])}${rng.int(1, 9)}${rng.digits(rng.int(6, 7))}`,
        () => `${rng.pick(['151', '152', '157', '176'])}${rng.digits(8)}`,
        () => `${rng.pick(['160', '170', '171'])}${rng.digits(7)}`,
      ])();
    case 'FR':
      return `${rng.int(1, 7)}${rng.digits(8)}`;
  }
}

const CALLING_CODES: Readonly<Record<PhoneRegion, string>> = { US: '1', GB: '44', DE: '49', FR: '33' };

/** An allocated number (E.164 parts) of the region: drawn from its ranges, kept when the plan's metadata confirms it. */
function phoneParts(rng: Prng, region: PhoneRegion): string {
  for (;;) {
    const nsn = nationalNumber(rng, region);
    if (parsePhoneNumberFromString(`+${CALLING_CODES[region]}${nsn}`)?.isValid() === true) return nsn;
  }
}

function groupsOf(text: string, sizes: readonly number[]): string[] {
  const out: string[] = [];
  let at = 0;
  for (const size of sizes) {
    out.push(text.slice(at, at + size));
    at += size;
  }
  if (at < text.length) out[out.length - 1] += text.slice(at);
  return out;
}

/** The ways people write a number of the region, nationally and internationally. */
function writtenForms(region: PhoneRegion, nsn: string): string[] {
  const cc = CALLING_CODES[region];
  switch (region) {
    case 'US': {
      const [a, b, c] = groupsOf(nsn, [3, 3, 4]);
      return [`(${a}) ${b}-${c}`, `${a}-${b}-${c}`, `${a}.${b}.${c}`, `${a} ${b} ${c}`, `1-${a}-${b}-${c}`, `+1 ${a}-${b}-${c}`, `+1 (${a}) ${b}-${c}`, `+1 ${a} ${b} ${c}`, `+1${nsn}`];
    }
    case 'GB': {
      const sizes = nsn.startsWith('20') ? [2, 4, 4] : nsn.startsWith('7') ? [4, 6] : [3, 3, 4];
      const groups = groupsOf(nsn, sizes);
      return [`0${groups.join(' ')}`, `+44 ${groups.join(' ')}`, `+44 (0)${groups.join(' ')}`, `+44${nsn}`];
    }
    case 'DE': {
      const area = nsn.startsWith('1') ? 3 : /^(?:30|40|89|69)/.test(nsn) ? 2 : 3;
      const [a, rest] = [nsn.slice(0, area), nsn.slice(area)];
      return [`0${a} ${rest}`, `0${a}/${rest}`, `0${a}-${rest}`, `+49 ${a} ${rest}`, `+49 (0)${a} ${rest}`, `0049 ${a} ${rest}`, `+49${nsn}`];
    }
    case 'FR': {
      const pairs = groupsOf(nsn.slice(1), [2, 2, 2, 2]);
      return [`0${nsn[0]} ${pairs.join(' ')}`, `0${nsn[0]}.${pairs.join('.')}`, `+33 ${nsn[0]} ${pairs.join(' ')}`, `+33 (0)${nsn[0]} ${pairs.join(' ')}`, `+${cc}${nsn}`];
    }
  }
}

/** A phone number written with separators or a "+": recognisable without any label. */
export function writtenPhone(rng: Prng): string {
  const region = rng.pick(PHONE_REGIONS);
  return rng.pick(writtenForms(region, phoneParts(rng, region)));
}

/** Digits only — national with trunk prefix, or E.164 without "+" — as databases store them; needs a label to be told from an id. */
export function barePhone(rng: Prng): string {
  const region = rng.pick(PHONE_REGIONS);
  const nsn = phoneParts(rng, region);
  const national = region === 'US' ? nsn : `0${nsn}`;
  return rng.chance(0.6) ? national : `${CALLING_CODES[region]}${nsn}`;
}

/**
 * Written like a US number but outside the plan: area or exchange codes starting with 0
 * or 1, the unassigned area 555, N11 service codes. Kept only when no region reads it
 * as valid.
 */
export function invalidPhone(rng: Prng): string {
  for (;;) {
    const area = rng.pick([`0${rng.digits(2)}`, `1${rng.digits(2)}`, '555', `${rng.int(2, 9)}11`]);
    const exchange = rng.chance(0.5) ? `${rng.int(0, 1)}${rng.digits(2)}` : `${rng.int(2, 9)}${rng.digits(2)}`;
    const line = rng.digits(4);
    const written = rng.pick([`(${area}) ${exchange}-${line}`, `${area}-${exchange}-${line}`, `+1 ${area} ${exchange} ${line}`]);
    const readAsValid = PHONE_REGIONS.some((region) => parsePhoneNumberFromString(written, region as CountryCode)?.isValid() === true);
    if (!readAsValid) return written;
  }
}

// ------------------------------------------------------------------ credentials

const AWS_ID_ALPHABET = `${UPPER}234567`;

export const awsAccessKeyId = (rng: Prng): string => `${rng.pick(['AKIA', 'AKIA', 'ASIA'])}${rng.chars(AWS_ID_ALPHABET, 16)}`;
export const awsSecretKey = (rng: Prng): string => rng.chars(BASE64, 40);

export function githubToken(rng: Prng): string {
  return rng.chance(0.8) ? `${rng.pick(['ghp', 'gho', 'ghu', 'ghs', 'ghr'])}_${rng.chars(ALNUM, 36)}` : `github_pat_${rng.chars(ALNUM, 22)}_${rng.chars(ALNUM, 59)}`;
}

export const gitlabToken = (rng: Prng): string => `glpat-${rng.chars(`${ALNUM}_-`, 20)}`;

export function slackToken(rng: Prng): string {
  return rng.chance(0.6)
    ? `xoxb-${rng.number(rng.int(11, 13))}-${rng.number(rng.int(11, 13))}-${rng.chars(ALNUM, 24)}`
    : `xoxp-${rng.number(rng.int(11, 13))}-${rng.number(rng.int(11, 13))}-${rng.number(13)}-${rng.chars(HEX, 32)}`;
}

export function stripeKey(rng: Prng): string {
  const kind = rng.pick(['sk', 'sk', 'rk']);
  return rng.chance(0.5) ? `${kind}_live_${rng.chars(ALNUM, 24)}` : `${kind}_live_51${rng.chars(ALNUM, 97)}`;
}

export const googleApiKey = (rng: Prng): string => `AIza${rng.chars(BASE64URL, 35)}`;

/** A PEM private key; `newline` is "\n", or the two characters "\\n" inside a JSON string. */
export function privateKeyPem(rng: Prng, newline: string): string {
  const kind = rng.pick(['RSA PRIVATE KEY', 'PRIVATE KEY', 'EC PRIVATE KEY', 'OPENSSH PRIVATE KEY', 'ENCRYPTED PRIVATE KEY']);
  const lines = Array.from({ length: rng.int(4, 25) }, () => rng.chars(BASE64, 64));
  lines.push(`${rng.chars(BASE64, rng.int(8, 60))}${rng.pick(['', '=', '=='])}`);
  return [`-----BEGIN ${kind}-----`, ...lines, `-----END ${kind}-----`].join(newline);
}

const b64url = (json: unknown): string => Buffer.from(JSON.stringify(json)).toString('base64url');

export function jwt(rng: Prng): string {
  const alg = rng.pick(['HS256', 'RS256', 'ES256']);
  const header = rng.pick([{ alg, typ: 'JWT' }, { typ: 'JWT', alg }, { alg, kid: rng.chars(HEX, 16) }]);
  const iat = 1_700_000_000 + rng.int(0, 50_000_000);
  const payload = {
    sub: rng.chance(0.5) ? String(rng.int(1, 9_999_999)) : uuid(rng),
    ...(rng.chance(0.5) ? { email: email(rng) } : {}),
    iss: `https://${rng.pick(['auth', 'login', 'sso'])}.${rng.pick(COMPANY_WORDS)}.com/`,
    iat,
    exp: iat + rng.pick([300, 3600, 86_400]),
  };
  const signatureLength = alg === 'HS256' ? 43 : alg === 'ES256' ? 86 : 342;
  return `${b64url(header)}.${b64url(payload)}.${rng.chars(BASE64URL, signatureLength)}`;
}

/** Characters a password may hold and still end where a bare `key=value` ends. */
const PASSWORD_CHARS = `${ALNUM}${ALNUM}!@#$%^*()_+-=.~?[]|`;
const WORDS = ['correct', 'horse', 'battery', 'staple', 'orange', 'river', 'window', 'silent', 'copper', 'garden', 'winter', 'rocket'];

export function password(rng: Prng): string {
  return rng.chars(PASSWORD_CHARS, rng.int(8, 24));
}

/** Several words with spaces: only ever written quoted. */
export function passphrase(rng: Prng): string {
  return Array.from({ length: rng.int(3, 5) }, () => rng.pick(WORDS)).join(rng.pick([' ', '-']));
}

// ------------------------------------------------------------------ look-alikes

export function uuid(rng: Prng): string {
  const h = rng.chars(HEX, 32);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${rng.pick(['8', '9', 'a', 'b'])}${h.slice(17, 20)}-${h.slice(20)}`;
}

export function orderId(rng: Prng): string {
  return rng.pick([
    () => `ORD-${rng.int(2019, 2025)}-${rng.digits(6)}`,
    () => `SO-${rng.number(5)}`,
    () => `#${rng.number(6)}`,
    () => rng.number(rng.int(7, 10)),
    () => `INV-${rng.number(4)}-${rng.chars(UPPER, 2)}`,
    () => `PO ${rng.number(10)}`,
  ])();
}

const pad2 = (n: number): string => String(n).padStart(2, '0');

export function timestamp(rng: Prng): string {
  const y = rng.int(2015, 2026);
  const mo = rng.int(1, 12);
  const d = rng.int(1, 28);
  const h = rng.int(0, 23);
  const mi = rng.int(0, 59);
  const s = rng.int(0, 59);
  const epoch = Math.floor(Date.UTC(y, mo - 1, d, h, mi, s) / 1000);
  return rng.pick([
    () => `${y}-${pad2(mo)}-${pad2(d)}T${pad2(h)}:${pad2(mi)}:${pad2(s)}Z`,
    () => `${y}-${pad2(mo)}-${pad2(d)}T${pad2(h)}:${pad2(mi)}:${pad2(s)}.${rng.digits(3)}+0${rng.int(0, 9)}:00`,
    () => `${y}-${pad2(mo)}-${pad2(d)} ${pad2(h)}:${pad2(mi)}:${pad2(s)}`,
    () => `${y}-${pad2(mo)}-${pad2(d)}`,
    () => `${pad2(d)}/${pad2(mo)}/${y}`,
    () => `${pad2(mo)}/${pad2(d)}/${y} ${h % 12 || 12}:${pad2(mi)} ${h < 12 ? 'AM' : 'PM'}`,
    () => `${pad2(d)}.${pad2(mo)}.${y}`,
    () => String(epoch),
    () => `${epoch}${rng.digits(3)}`,
    () => `${y}${pad2(mo)}${pad2(d)}T${pad2(h)}${pad2(mi)}${pad2(s)}Z`,
  ])();
}

export function versionString(rng: Prng): string {
  return rng.pick([
    () => `v${rng.int(0, 4)}.${rng.int(0, 30)}.${rng.int(0, 20)}`,
    () => `${rng.int(1, 20)}.${rng.int(0, 12)}.${rng.int(0, 300)}`,
    () => `${rng.int(1, 3)}.${rng.int(0, 9)}.${rng.int(0, 9)}-beta.${rng.int(1, 9)}`,
    () => `10.0.${rng.int(10_000, 26_000)}.${rng.int(100, 5000)}`,
    () => `${rng.int(2019, 2025)}.${pad2(rng.int(1, 12))}.${pad2(rng.int(1, 28))}.${rng.int(1, 9)}`,
  ])();
}

function isbn13(rng: Prng): string {
  const body = `978${rng.digits(9)}`;
  const sum = [...body].reduce((acc, c, i) => acc + Number(c) * (i % 2 === 0 ? 1 : 3), 0);
  const digits = body + String((10 - (sum % 10)) % 10);
  return rng.chance(0.5) ? digits : `${digits.slice(0, 3)}-${digits[3]}-${digits.slice(4, 7)}-${digits.slice(7, 12)}-${digits[12]}`;
}

function isbn10(rng: Prng): string {
  const body = rng.digits(9);
  const sum = [...body].reduce((acc, c, i) => acc + Number(c) * (10 - i), 0);
  const check = (11 - (sum % 11)) % 11;
  const digits = body + (check === 10 ? 'X' : String(check));
  return rng.chance(0.5) ? digits : `${digits[0]}-${digits.slice(1, 4)}-${digits.slice(4, 9)}-${digits[9]}`;
}

export const isbn = (rng: Prng): string => (rng.chance(0.6) ? isbn13(rng) : isbn10(rng));
export const gitSha = (rng: Prng): string => rng.chars(HEX, rng.chance(0.5) ? 40 : 7);
export const ipv4 = (rng: Prng): string => `${rng.pick([10, 172, 192, rng.int(1, 223)])}.${rng.int(0, 255)}.${rng.int(0, 255)}.${rng.int(1, 254)}`;

export function otherNumber(rng: Prng): string {
  return rng.pick([
    () => `$${rng.int(1, 9)},${rng.digits(3)}.${rng.digits(2)}`,
    () => `€${rng.int(1, 999)},${rng.digits(2)}`,
    () => `${rng.int(1, 99)}.${rng.int(0, 9)}%`,
    () => `${rng.number(5)}-${rng.digits(4)}`, // ZIP+4
    () => `${rng.digits(2)}-${rng.digits(7)}`, // EIN
    () => `${rng.int(0, 1)}${rng.digits(8)}`, // ABA routing number
    () => `${pad2(rng.int(0, 23))}:${pad2(rng.int(0, 59))}:${pad2(rng.int(0, 59))}`,
    () => `${rng.int(-89, 89)}.${rng.digits(4)}, ${rng.int(-179, 179)}.${rng.digits(4)}`,
    () => `${rng.number(rng.int(3, 6))} ms`,
    () => `localhost:${rng.int(1024, 65535)}`,
  ])();
}

/** Strings with an "@" that are not addresses. */
export function atLookalike(rng: Prng): string {
  return rng.pick([`@${ascii(rng.pick(FIRST_NAMES))}${rng.int(1, 99)}`, '@types/node', '@Override', `${ascii(rng.pick(LAST_NAMES))}@localhost`, 'user@host']);
}
