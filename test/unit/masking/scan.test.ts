import { describe, expect, it } from 'vitest';
import { pattern, type Detector } from '../../../src/masking/detector.js';
import { detectorsByName } from '../../../src/masking/registry.js';
import { scan } from '../../../src/masking/scan.js';
import { found } from './support.js';

const fixed = (name: string, source: string, confidence: number): Detector => ({
  name,
  label: name.toUpperCase(),
  rules: [{ pattern: pattern(source), confidence }],
});

describe('scan', () => {
  it('reports detector, label, UTF-16 offsets and confidence, in text order', () => {
    const text = '😀 mail ann@example.com, card 4111111111111111';
    expect(scan(text, detectorsByName(['card', 'email']))).toEqual([
      { detector: 'email', label: 'EMAIL', start: 8, end: 23, confidence: 0.95 },
      { detector: 'card', label: 'CARD', start: 30, end: 46, confidence: 0.95 },
    ]);
    expect(text.slice(8, 23)).toBe('ann@example.com');
  });

  it('keeps the higher-confidence finding on overlap', () => {
    const low = fixed('low', 'abcdef', 0.5);
    const high = fixed('high', 'cd', 0.9);
    expect(scan('xxabcdefxx', [low, high]).map((f) => [f.detector, f.start, f.end])).toEqual([['high', 4, 6]]);
  });

  it('keeps the longer finding on equal confidence, whatever the detector order', () => {
    const short = fixed('short', 'bcd', 0.5);
    const long = fixed('long', 'abcde', 0.5);
    for (const detectors of [
      [short, long],
      [long, short],
    ]) {
      expect(scan('abcdef', detectors).map((f) => f.detector)).toEqual(['long']);
    }
  });

  it('keeps findings that only touch', () => {
    expect(scan('abcd', [fixed('ab', 'ab', 0.5), fixed('cd', 'cd', 0.5)]).map((f) => [f.start, f.end])).toEqual([
      [0, 2],
      [2, 4],
    ]);
  });

  it('a specific secret wins over the generic assignment that contains it', () => {
    const key = `sk_live_${'a'.repeat(24)}`;
    expect(found(`"password": "${key}"`)).toEqual([['stripe-key', key]]);
  });

  it('needs the context word within the window before the candidate', () => {
    const ssn = detectorsByName(['ssn']);
    expect(found(`ssn ${'.'.repeat(30)} 123456780`, ssn)).toEqual([['ssn', '123456780']]);
    expect(found(`ssn ${'.'.repeat(60)} 123456780`, ssn)).toEqual([]);
    expect(found('123456780 is my ssn', ssn)).toEqual([]);
  });

  it('returns nothing for empty text or no detectors', () => {
    expect(scan('', detectorsByName(['email']))).toEqual([]);
    expect(scan('ann@example.com', [])).toEqual([]);
  });

  it('is repeatable: shared patterns carry no state between calls', () => {
    const email = detectorsByName(['email']);
    const first = scan('a@example.com b@example.com', email);
    expect(scan('a@example.com b@example.com', email)).toEqual(first);
    expect(first).toHaveLength(2);
  });

  it('finds every email in a long text without an "@" in linear time shape', () => {
    // Correctness on a long run of local-part characters (the shape that backtracks badly).
    const text = `${'a'.repeat(50_000)} x@example.org`;
    expect(found(text, detectorsByName(['email']))).toEqual([['email', 'x@example.org']]);
  });
});
