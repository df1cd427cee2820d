import { parsePhoneNumberFromString } from 'libphonenumber-js/max';
import { describe, expect, it } from 'vitest';
import { ENTITY_TYPES, NEGATIVE_KINDS, generateCorpus, type EntityType, type LabelledDocument, type NegativeKind } from '../../../bench/mask/corpus.js';
import { PHONE_REGIONS } from '../../../bench/mask/values.js';

// Checks written here, independently of both the generator and src/masking.
const luhn = (digits: string): boolean =>
  [...digits].reverse().reduce((sum, c, i) => {
    const d = Number(c) * (i % 2 === 1 ? 2 : 1);
    return sum + (d > 9 ? d - 9 : d);
  }, 0) %
    10 ===
  0;
const ibanValid = (text: string): boolean => {
  const iban = text.replace(/ /g, '');
  const numeric = (iban.slice(4) + iban.slice(0, 4)).replace(/[A-Z]/g, (c) => String(c.charCodeAt(0) - 55));
  return /^[A-Z]{2}\d{2}[A-Z0-9]+$/.test(iban) && BigInt(numeric) % 97n === 1n;
};
const ssnIssuable = (text: string): boolean => {
  const d = text.replace(/-/g, '');
  return /^\d{9}$/.test(d) && !/^(?:000|666|9)/.test(d) && d.slice(3, 5) !== '00' && d.slice(5) !== '0000';
};
const phoneValid = (text: string): boolean => {
  const digits = text.replace(/\D/g, '');
  const candidates = text.startsWith('+') ? [text] : [text, `+${digits}`];
  return candidates.some((c) => PHONE_REGIONS.some((region) => parsePhoneNumberFromString(c, region)?.isValid() === true));
};
const jwtHeader = (token: string): unknown => JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString('utf8'));

/** What every labelled value of a type must be, checked on the value alone. */
const LOOKS_RIGHT: Readonly<Record<EntityType, (value: string, doc: LabelledDocument, start: number) => boolean>> = {
  email: (v) => /^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$/.test(v),
  card: (v) => /^\d[\d -]{11,21}\d$/.test(v) && luhn(v.replace(/[ -]/g, '')),
  ssn: (v) => /^(?:\d{3}-\d{2}-\d{4}|\d{9})$/.test(v) && ssnIssuable(v),
  iban: ibanValid,
  phone: phoneValid,
  'aws-access-key': (v) => /^(?:AKIA|ASIA)[A-Z2-7]{16}$/.test(v),
  'aws-secret-key': (v) => /^[A-Za-z0-9/+]{40}$/.test(v),
  'github-token': (v) => /^(?:gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59})$/.test(v),
  'gitlab-token': (v) => /^glpat-[A-Za-z0-9_-]{20}$/.test(v),
  'slack-token': (v) => /^xox[bp]-\d+-\d+-[A-Za-z0-9-]+$/.test(v),
  'stripe-key': (v) => /^[rs]k_live_[A-Za-z0-9]{24,}$/.test(v),
  'google-api-key': (v) => /^AIza[A-Za-z0-9_-]{35}$/.test(v),
  'private-key': (v) => /^-----BEGIN [A-Z ]*PRIVATE KEY-----(?:\n|\\n)[\s\S]+-----END [A-Z ]*PRIVATE KEY-----$/.test(v),
  jwt: (v) => v.split('.').length === 3 && typeof (jwtHeader(v) as { alg?: unknown }).alg === 'string',
  // A value assigned to a key that names a secret, right before it.
  'secret-assignment': (v, doc, start) =>
    v.length > 0 && /(?:password|passwd|pwd|secret|token|api_key)[A-Za-z_]*["']?\s*[:=]\s*["']?$/i.test(doc.text.slice(Math.max(0, start - 40), start)),
};

/** What every hard negative must fail. */
const LOOKS_WRONG: Partial<Readonly<Record<NegativeKind, (value: string) => boolean>>> = {
  'luhn-invalid-card': (v) => !luhn(v.replace(/[ -]/g, '')),
  'invalid-ssn': (v) => !ssnIssuable(v),
  'wrong-check-iban': (v) => !ibanValid(v),
  'invalid-phone': (v) => !phoneValid(v),
};

const overlap = (a: { start: number; end: number }, b: { start: number; end: number }): boolean => a.start < b.end && b.start < a.end;

/** Splits CSV text into rows of cells (RFC 4180 quoting). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [[]];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') cell += text[++i];
      else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      rows[rows.length - 1]!.push(cell);
      cell = '';
    } else if (c === '\n') {
      rows[rows.length - 1]!.push(cell);
      rows.push([]);
      cell = '';
    } else cell += c;
  }
  rows[rows.length - 1]!.push(cell);
  return rows;
}

describe('labelled corpus generator', () => {
  const corpus = generateCorpus({ seed: 11, documents: 1500 });

  it('is the same for the same seed, and another for another seed', () => {
    expect(generateCorpus({ seed: 11, documents: 1500 })).toEqual(corpus);
    expect(generateCorpus({ seed: 12, documents: 50 }).map((d) => d.text)).not.toEqual(corpus.slice(0, 50).map((d) => d.text));
  });

  it('holds every format, entity type and negative kind', () => {
    expect(new Set(corpus.map((d) => d.format))).toEqual(new Set(['prose', 'json', 'csv', 'config']));
    expect(new Set(corpus.flatMap((d) => d.entities.map((e) => e.type)))).toEqual(new Set(ENTITY_TYPES));
    expect(new Set(corpus.flatMap((d) => d.negatives.map((n) => n.kind)))).toEqual(new Set(NEGATIVE_KINDS));
  });

  it('labels point at the values: in the text, not overlapping, each a well-formed value of its type', () => {
    const wrong: string[] = [];
    for (const doc of corpus) {
      const spans = [...doc.entities, ...doc.negatives].sort((a, b) => a.start - b.start);
      spans.forEach((s, i) => {
        if (s.start < 0 || s.end <= s.start || s.end > doc.text.length) wrong.push(`span [${s.start}, ${s.end}) outside ${doc.text.length}`);
        if (i > 0 && overlap(spans[i - 1]!, s)) wrong.push(`overlapping spans at ${s.start}`);
      });
      for (const e of doc.entities) {
        const value = doc.text.slice(e.start, e.end);
        if (!LOOKS_RIGHT[e.type](value, doc, e.start)) wrong.push(`${e.type}: ${JSON.stringify(value)}`);
      }
      for (const n of doc.negatives) {
        const value = doc.text.slice(n.start, n.end);
        if (LOOKS_WRONG[n.kind]?.(value) === false) wrong.push(`${n.kind} is not wrong: ${JSON.stringify(value)}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('writes JSON that parses and CSV whose rows have the header\'s columns', () => {
    for (const doc of corpus.filter((d) => d.format === 'json')) expect(() => JSON.parse(doc.text)).not.toThrow();
    for (const doc of corpus.filter((d) => d.format === 'csv')) {
      const [header, ...rows] = parseCsv(doc.text);
      for (const row of rows) expect(row.length).toBe(header!.length);
    }
  });

  it('with a sensitive rate of 0, holds look-alikes and no sensitive values', () => {
    const clean = generateCorpus({ seed: 3, documents: 300, sensitiveRate: 0 });
    expect(clean.flatMap((d) => d.entities)).toEqual([]);
    expect(clean.flatMap((d) => d.negatives).length).toBeGreaterThan(300);
  });
});
