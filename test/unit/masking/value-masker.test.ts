import { describe, expect, it } from 'vitest';
import type { Detector } from '../../../src/masking/detector.js';
import { pattern } from '../../../src/masking/detector.js';
import type { MaskStrategy, OutputMask } from '../../../src/masking/plan.js';
import { DEFAULT_DETECTORS } from '../../../src/masking/registry.js';
import { MaskingKeyError, UnsafeMaskLabelError, ValueMasker } from '../../../src/masking/value-masker.js';

const KEY = Buffer.from('0123456789abcdef0123456789abcdef');
const masker = (contentStrategy: MaskStrategy, ...key: [Buffer | undefined] | []): ValueMasker =>
  new ValueMasker({ detectors: DEFAULT_DETECTORS, contentStrategy, hashKey: key.length === 0 ? KEY : key[0] });
const column = (strategy: MaskStrategy, derived = false, label = 'EMAIL'): OutputMask => ({
  mask: { strategy, label, rule: 'test rule' },
  derived,
  source: 'public.customers.email',
});

describe('ValueMasker.maskContent', () => {
  const text = 'mail ann@example.com, card 4111 1111 1111 1111';

  it('returns undefined when nothing is found', () => {
    expect(masker('redact').maskContent('order 4111111111111112 shipped')).toBeUndefined();
    expect(masker('redact').maskContent('')).toBeUndefined();
  });

  it('redacts, partially masks, or nulls the whole value', () => {
    expect(masker('redact').maskContent(text)).toBe('mail [EMAIL], card [CARD]');
    expect(masker('partial').maskContent(text)).toBe('mail ***@******e.com, card **** **** **** 1111');
    expect(masker('null').maskContent(text)).toBeNull();
  });

  it('redacts redact-only detectors under partial', () => {
    const pem = '-----BEGIN PRIVATE KEY-----\nMIIBVQIBADANBgkqhkiG9w0BAQEFAASCAT8wggE7AgEAAkEAq\n-----END PRIVATE KEY-----';
    expect(masker('partial').maskContent(`k ${pem}`)).toBe('k [SECRET]');
  });

  it('hash gives LABEL_ and 16 hex digits, equal for equal values, keyed', () => {
    const masked = masker('hash').maskContent('a ann@example.com b ann@example.com c bob@example.com')!;
    const tokens = masked.match(/EMAIL_[0-9a-f]{16}/g)!;
    expect(masked).toMatch(/^a EMAIL_[0-9a-f]{16} b EMAIL_[0-9a-f]{16} c EMAIL_[0-9a-f]{16}$/);
    expect(tokens[0]).toBe(tokens[1]);
    expect(tokens[2]).not.toBe(tokens[0]);
    const otherKey = masker('hash', Buffer.from('another key, also 32 bytes long!')).maskContent('a ann@example.com')!;
    expect(otherKey).not.toContain(tokens[0]);
  });

  it('refuses hash without a key, or with a short one, at construction', () => {
    expect(() => masker('hash', undefined)).toThrow(MaskingKeyError);
    expect(() => masker('redact', Buffer.from('short'))).toThrow(MaskingKeyError);
    expect(() => masker('redact', undefined)).not.toThrow();
  });

  it('refuses a detector label that could break the syntax it is written into', () => {
    const bad: Detector = { name: 'x', label: 'A"B', rules: [{ pattern: pattern('x'), confidence: 1 }] };
    expect(() => new ValueMasker({ detectors: [bad], contentStrategy: 'redact', hashKey: undefined })).toThrow(UnsafeMaskLabelError);
  });
});

describe('ValueMasker.maskColumn', () => {
  const value = 'ann@example.com';

  it('applies each strategy to the whole value', () => {
    expect(masker('redact').maskColumn(value, column('redact'))).toBe('[EMAIL]');
    expect(masker('redact').maskColumn(value, column('partial'))).toBe('***@******e.com');
    expect(masker('redact').maskColumn(value, column('null'))).toBeNull();
    expect(masker('redact').maskColumn(value, column('hash'))).toMatch(/^EMAIL_[0-9a-f]{16}$/);
  });

  it('redacts a derived value instead of showing part of it', () => {
    expect(masker('redact').maskColumn('ann@example.com,bob@example.com', column('partial', true))).toBe('[EMAIL]');
  });

  it('gives a column value the same hash token as the same value found in text', () => {
    const m = masker('hash');
    expect(m.maskContent(`to ${value}`)).toBe(`to ${m.maskColumn(value, column('hash'))}`);
  });

  it('redacts rather than hash without a key', () => {
    expect(masker('redact', undefined).maskColumn(value, column('hash'))).toBe('[EMAIL]');
  });

  it('refuses an unsafe column label', () => {
    expect(() => masker('redact').maskColumn(value, column('redact', false, 'x,y'))).toThrow(UnsafeMaskLabelError);
  });
});

describe('ValueMasker.maskContentIn keeps structured text parseable', () => {
  it.each<MaskStrategy>(['redact', 'partial', 'hash'])('json (%s): strings masked in place, numbers become strings', (strategy) => {
    const doc = '{"email": "ann@example.com", "card": 4111111111111111, "tags": ["x", "bob@example.com"], "n": 1}';
    const masked = masker(strategy).maskContentIn(doc, 'json')!;
    const parsed = JSON.parse(masked) as { email: string; card: string; tags: string[]; n: number };
    expect(parsed.n).toBe(1);
    expect(parsed.tags[0]).toBe('x');
    for (const v of [parsed.email, parsed.card, parsed.tags[1]!]) expect(v).not.toMatch(/ann|bob|4111111111111111/);
    expect(typeof parsed.card).toBe('string');
  });

  it('json: keeps escapes next to a finding whole', () => {
    // The email's pattern starts at the "n" of "\n"; the secret's bare value ends on the "\" of '\"'.
    const doc = JSON.stringify({ note: 'line one\nann@example.com\ttab', q: 'password=a"b' });
    const masked = masker('redact').maskContentIn(doc, 'json')!;
    expect(JSON.parse(masked)).toEqual({ note: 'line one\n[EMAIL]\ttab', q: 'password=[SECRET]b' });
  });

  it('json: a finding that breaks the document masks it whole, as a JSON string', () => {
    // The quoted secret value runs across the string boundary into the next key.
    const doc = `{"a": "pwd='x", "b": "y'"}`;
    const masked = masker('redact').maskContentIn(doc, 'json')!;
    expect(masked).toBe('"[SECRET]"');
    expect(JSON.parse(masked)).toBe('[SECRET]');
  });

  it.each<MaskStrategy>(['redact', 'partial', 'hash'])('array and record literals (%s) keep their punctuation', (strategy) => {
    const array = '{ann@example.com,"x y",NULL,"4111 1111 1111 1111"}';
    const maskedArray = masker(strategy).maskContentIn(array, 'literal')!;
    expect(maskedArray).toMatch(/^\{[^,{}"]+,"x y",NULL,"[^,{}"]+"\}$/);
    expect(maskedArray).not.toContain('ann@');
    const record = '(1,ann@example.com,"a b")';
    expect(masker(strategy).maskContentIn(record, 'literal')).toMatch(/^\(1,[^,()"]+,"a b"\)$/);
  });

  it('array literal: a finding across elements nulls the whole value', () => {
    expect(masker('redact').maskContentIn(`{"pwd='x",y'}`, 'literal')).toBeNull();
  });

  it('xml: masks text content, nulls a finding across markup', () => {
    expect(masker('redact').maskContentIn('<a>ann@example.com</a>', 'xml')).toBe('<a>[EMAIL]</a>');
    expect(masker('redact').maskContentIn(`<a x="pwd='1"/><b y='2'/>`, 'xml')).toBeNull();
  });

  it('opaque: any finding nulls the value', () => {
    expect(masker('redact').maskContentIn('4111111111111111', 'opaque')).toBeNull();
    expect(masker('redact').maskContentIn('42', 'opaque')).toBeUndefined();
  });

  it('partial redacts a value holding a backslash (it may start an escape)', () => {
    expect(masker('partial').maskContentIn('{"a": "token=ab\\\\cdefgh12"}', 'json')).toBe('{"a": "token=[SECRET]"}');
  });
});

describe('ValueMasker.maskMessageText', () => {
  it('redacts under the null strategy (messages have no NULL)', () => {
    expect(masker('null').maskMessageText('for ann@example.com')).toBe('for [EMAIL]');
    expect(masker('null').maskMessageText('nothing')).toBeUndefined();
  });
});

describe('ValueMasker.maskPlainContents (a row\'s text columns scanned together)', () => {
  const detectors = [...DEFAULT_DETECTORS];
  const masker = new ValueMasker({ detectors, contentStrategy: 'redact', hashKey: undefined });

  it('masks each value as maskContent would, findings attributed to their own value', () => {
    const texts = ['mail a@example.com', '', 'card 4111 1111 1111 1111', 'nothing', 'b@example.org and c@example.net'];
    expect(masker.maskPlainContents(texts)).toEqual(texts.map((t) => masker.maskContent(t)));
    expect(masker.maskPlainContents(texts)).toEqual(['mail [EMAIL]', undefined, 'card [CARD]', undefined, '[EMAIL] and [EMAIL]']);
  });

  it('rescans values alone when a match would run from one value into the next', () => {
    const texts = ['-----BEGIN PRIVATE KEY-----\nMIIBVgIBADANBgkqhkiG9w0BAQEFAASCAUAwggE8AgEAAkEA', 'q7BFUpkGp3w==\n-----END PRIVATE KEY-----'];
    expect(masker.maskContent(texts[0]!)).toBeUndefined();
    // Joined, the two halves read as one key: the attribution must notice and not split it.
    expect(masker.maskContent(texts.join('\n\n'))).not.toBeUndefined();
    expect(masker.maskPlainContents(texts)).toEqual([undefined, undefined]);
  });

  it('applies the null strategy to whole values', () => {
    const nulling = new ValueMasker({ detectors, contentStrategy: 'null', hashKey: undefined });
    expect(nulling.maskPlainContents(['x', 'a@example.com'])).toEqual([undefined, null]);
  });
});
