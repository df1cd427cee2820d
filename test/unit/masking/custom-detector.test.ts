import { describe, expect, it } from 'vitest';
import { CustomDetectorError, compileCustomDetector, type CustomDetectorSpec } from '../../../src/masking/custom-detector.js';
import { DEFAULT_DETECTORS } from '../../../src/masking/registry.js';
import { found } from './support.js';

const detect = (spec: CustomDetectorSpec, text: string): [string, string][] => found(text, [compileCustomDetector(spec)]);

describe('compileCustomDetector', () => {
  it('finds its pattern and names its label after the detector by default', () => {
    const detector = compileCustomDetector({ name: 'employee-id', pattern: 'EMP-\\d{6}' });
    expect(detector.label).toBe('EMPLOYEE_ID');
    expect(found('badge EMP-004211, desk 4', [detector])).toEqual([['employee-id', 'EMP-004211']]);
    expect(compileCustomDetector({ name: 'employee-id', label: 'STAFF', pattern: 'x' }).label).toBe('STAFF');
  });

  it('is case-sensitive unless flags say "i"', () => {
    expect(detect({ name: 'emp', pattern: 'EMP-\\d{6}' }, 'emp-004211')).toEqual([]);
    expect(detect({ name: 'emp', pattern: 'EMP-\\d{6}', flags: 'i' }, 'emp-004211')).toEqual([['emp', 'emp-004211']]);
  });

  it('compiles in Unicode mode, and a value group masks only that part', () => {
    expect(detect({ name: 'name-tag', pattern: 'name:(?<value>\\p{Lu}\\p{Ll}+)' }, 'name:Zoë ok')).toEqual([['name-tag', 'Zoë']]);
  });

  it('luhn: keeps only numbers that pass, spaces and dashes allowed', () => {
    const spec: CustomDetectorSpec = { name: 'loyalty-card', pattern: '\\d{4}(?:[ -]?\\d{4}){3}', validator: 'luhn' };
    expect(detect(spec, 'card 7992-7398-7131-0007 and 7992-7398-7131-0005')).toEqual([['loyalty-card', '7992-7398-7131-0007']]);
  });

  it('mod97: checks ISO 7064 as IBANs and creditor references do', () => {
    const spec: CustomDetectorSpec = { name: 'creditor-ref', pattern: 'RF\\d{2}(?: ?[A-Z0-9]{1,4}){1,6}', validator: 'mod97' };
    expect(detect(spec, 'ref RF18 5390 0754 7034 paid')).toEqual([['creditor-ref', 'RF18 5390 0754 7034']]);
    expect(detect(spec, 'ref RF19 5390 0754 7034 paid')).toEqual([]);
  });

  it('context: only after one of its words, as a whole word, within `before`', () => {
    const spec: CustomDetectorSpec = { name: 'member', pattern: '\\d{8}', context: { words: ['member', 'Mitglied'], before: 20 } };
    expect(detect(spec, 'Member no. 12345678')).toEqual([['member', '12345678']]);
    expect(detect(spec, 'mitglied: 12345678')).toEqual([['member', '12345678']]);
    expect(detect(spec, 'membership 12345678')).toEqual([]);
    expect(detect(spec, `member ${'x'.repeat(30)} 12345678`)).toEqual([]);
    expect(detect(spec, 'order 12345678')).toEqual([]);
    // Words are literal text, not patterns.
    expect(detect({ name: 'dotted', pattern: '\\d{8}', context: { words: ['a.b'] } }, 'axb 12345678')).toEqual([]);
  });

  it('deny: never reports the exact values listed, and they hide nothing else', () => {
    const spec: CustomDetectorSpec = { name: 'support-line', pattern: '\\d{3}-\\d{4}', deny: ['555-0100'], confidence: 0.99 };
    expect(detect(spec, 'call 555-0100 or 555-0199')).toEqual([['support-line', '555-0199']]);
    const withDefaults = [...DEFAULT_DETECTORS, compileCustomDetector({ name: 'test-card', pattern: '4111 1111 1111 1111', deny: ['4111 1111 1111 1111'], confidence: 1 })];
    expect(found('card 4111 1111 1111 1111', withDefaults)).toEqual([['card', '4111 1111 1111 1111']]);
  });

  it.each<[string, Partial<CustomDetectorSpec>, string, RegExp]>([
    ['an empty name', { name: '' }, 'name', /is empty/],
    ['a name that is not kebab-case', { name: 'Employee_ID' }, 'name', /kebab-case/],
    ['a built-in name', { name: 'email' }, 'name', /built-in/],
    ['a bad label', { label: 'staff id' }, 'label', /upper-case/],
    ['a flag other than i', { flags: 'g' }, 'flags', /only "i"/],
    ['an unknown validator', { validator: 'crc32' as 'luhn' }, 'validator', /unknown validator "crc32"; use luhn or mod97/],
    ['an invalid pattern', { pattern: '(EMP' }, 'pattern', /not a valid regular expression/],
    ['an escape Unicode mode rejects', { pattern: '\\-' }, 'pattern', /not a valid regular expression/],
    ['an empty pattern', { pattern: '' }, 'pattern', /is empty/],
    ['a pattern matching the empty string', { pattern: '\\d*' }, 'pattern', /matches the empty string/],
    ['no context words', { context: { words: [] } }, 'context', /non-empty list/],
    ['a blank context word', { context: { words: ['ok', ' '] } }, 'context', /non-empty list/],
    ['a context window of 0', { context: { words: ['ref'], before: 0 } }, 'context', /from 1 to 1000/],
    ['an empty denied value', { deny: ['x', ''] }, 'deny', /empty value/],
    ['confidence 0', { confidence: 0 }, 'confidence', /more than 0/],
    ['confidence above 1', { confidence: 1.5 }, 'confidence', /at most 1/],
  ])('refuses %s, naming the field', (_, change, field, message) => {
    const spec: CustomDetectorSpec = { name: 'employee-id', pattern: 'EMP-\\d{6}', ...change };
    let error: unknown;
    try {
      compileCustomDetector(spec);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(CustomDetectorError);
    expect(error).toMatchObject({ field, detector: spec.name });
    expect((error as Error).message).toMatch(message);
  });
});
