import { describe, expect, it } from 'vitest';
import { pattern, type Detector, type DetectorMatch } from '../../../src/masking/detector.js';
import { DEFAULT_DETECTORS, detectorsByName } from '../../../src/masking/registry.js';
import { scan } from '../../../src/masking/scan.js';
import { found } from './support.js';

const fixed = (name: string, source: string, confidence: number): Detector => ({
  name,
  label: name.toUpperCase(),
  rules: [{ pattern: pattern(source), confidence }],
});

const spans = (text: string, detectors: readonly Detector[]): [string, number, number][] =>
  scan(text, detectors).map((f) => [f.detector, f.start, f.end]);

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
    const ref: Detector[] = [{ name: 'ref', label: 'REF', rules: [{ pattern: pattern('\\d{6}'), context: { words: /\bref\b/i, before: 40 }, confidence: 0.5 }] }];
    expect(found(`ref ${'.'.repeat(30)} 123456`, ref)).toEqual([['ref', '123456']]);
    expect(found(`ref ${'.'.repeat(60)} 123456`, ref)).toEqual([]);
    expect(found('123456 is my ref', ref)).toEqual([]);
    // Word boundaries are judged on the whole text: a window starting inside "preref" sees no word "ref".
    expect(found(`preref${'.'.repeat(34)}123456`, ref)).toEqual([]);
    // Every occurrence opens its own window, and candidates in none are skipped.
    expect(found(`ref 111111 ${'.'.repeat(50)} 222222 ref 333333`, ref)).toEqual([
      ['ref', '111111'],
      ['ref', '333333'],
    ]);
  });

  it('settles chains of overlaps as the greedy rule does: B beats A and C, D survives C', () => {
    const text = 'aaaaabbbbccccdddd';
    const detectors = [fixed('a', 'a{5}b', 0.5), fixed('b', 'ab{4}c', 0.9), fixed('c', 'bc{4}d', 0.6), fixed('d', 'cd{4}', 0.5)];
    expect(spans(text, detectors)).toEqual([
      ['b', 4, 10],
      ['d', 12, 17],
    ]);
  });

  it('drops denied values before settling overlaps, so they hide nothing', () => {
    const code: Detector = { name: 'code', label: 'CODE', rules: [{ pattern: pattern('X-\\d{4}'), confidence: 0.9 }], deny: new Set(['X-0000']) };
    const digits = fixed('digits', '\\d{4}', 0.5);
    expect(spans('X-0000 X-1234', [code, digits])).toEqual([
      ['digits', 2, 6],
      ['code', 7, 13],
    ]);
  });

  it("takes a detector's own find, checks its spans and applies deny", () => {
    const matches: DetectorMatch[] = [
      { start: 0, end: 3, confidence: 0.7 },
      { start: 4, end: 4, confidence: 0.7 },
      { start: 8, end: 99, confidence: 0.7 },
      { start: 4, end: 7, confidence: 0.7 },
    ];
    const finder: Detector = { name: 'finder', label: 'F', rules: [{ find: () => matches }], deny: new Set(['def']) };
    expect(spans('abc def ghi', [finder])).toEqual([['finder', 0, 3]]);
    // Its findings compete with rule findings like any other.
    expect(spans('abc def ghi', [finder, fixed('wide', 'abc d', 0.9)])).toEqual([['wide', 0, 5]]);
  });

  it('a value group narrows the span; a lead group in a lookbehind extends it back', () => {
    const assignment = fixed('kv', 'key=(?<value>\\w+)', 0.5);
    expect(found('key=abc;', [assignment])).toEqual([['kv', 'abc']]);
    const led = fixed('led', '@(?<=(?<lead>\\w+)@)\\w+', 0.5);
    expect(found('to ann@host now', [led])).toEqual([['led', 'ann@host']]);
  });

  it('skips a rule, pattern or finder, for texts shorter than its minLength or failing its prefilter', () => {
    const guarded: Detector = { name: 'g', label: 'G', rules: [{ pattern: pattern('\\d+'), prefilter: /#/, minLength: 4, confidence: 0.5 }] };
    expect(found('123', [guarded])).toEqual([]);
    expect(found('#12', [guarded])).toEqual([]);
    expect(found('#123', [guarded])).toEqual([['g', '123']]);
    let calls = 0;
    const finder: Detector = {
      name: 'f',
      label: 'F',
      rules: [{ find: (text) => (calls++, [{ start: 0, end: text.length, confidence: 0.5 }]), prefilter: /#/, minLength: 2 }],
    };
    expect(found('#', [finder])).toEqual([]);
    expect(found('ab', [finder])).toEqual([]);
    expect(calls).toBe(0);
    expect(found('#b', [finder])).toEqual([['f', '#b']]);
  });

  it('runs a rule with several prefilters only when all of them match', () => {
    const searched: string[] = [];
    // Each finder reports its own letter, so a run shows which rules got past their prefilters.
    const letter = (name: string): Detector => ({
      name,
      label: name.toUpperCase(),
      rules: [
        {
          find: (text) => (searched.push(name), [{ start: text.indexOf(name), end: text.indexOf(name) + 1, confidence: 0.5 }]),
          prefilter: [/#/, new RegExp(name)],
        },
      ],
    });
    const detectors = [letter('a'), letter('b')];
    expect(spans('a b', detectors)).toEqual([]);
    expect(searched).toEqual([]);
    expect(spans('#a', detectors)).toEqual([['a', 1, 2]]);
    expect(searched).toEqual(['a']);
    expect(spans('#ab', detectors)).toEqual([['a', 1, 2], ['b', 2, 3]]);
    expect(searched).toEqual(['a', 'a', 'b']);
  });

  it('is reentrant: a validator may scan with the very rule it validates for', () => {
    let depth = 0;
    const inner: string[][] = [];
    const nested: Detector = {
      name: 'nested',
      label: 'N',
      rules: [
        {
          pattern: pattern('\\d{3}'),
          validate: (value) => {
            if (depth === 0) {
              depth++;
              // Runs the same (shared, compiled) regex over another text mid-iteration.
              inner.push(found('999 888 777 666', [nested]).map(([, v]) => v));
              depth--;
            }
            return value !== '456';
          },
          confidence: 0.5,
        },
      ],
    };
    expect(found('123 456 789', [nested])).toEqual([
      ['nested', '123'],
      ['nested', '789'],
    ]);
    expect(inner).toEqual([['999', '888', '777', '666'], ['999', '888', '777', '666'], ['999', '888', '777', '666']]);
    // Built-in detectors keep working around it.
    expect(found('bob@example.org 123', [...DEFAULT_DETECTORS, nested]).map(([d]) => d)).toEqual(['email', 'nested']);
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
