import { describe, expect, it } from 'vitest';
import { JWT_START, SECRET_WORD, VENDOR_PREFIXES } from '../../../src/masking/detector.js';
import { atTextMarker, TextFacts, type TextMarker } from '../../../src/masking/text-facts.js';
import { fuzzTexts } from './fuzz-text.js';

/** Every position where `marker` matches, overlapping ones too: what each kind's positions must be. */
function positionsOf(text: string, marker: RegExp): number[] {
  const sticky = new RegExp(marker.source, 'y');
  const positions: number[] = [];
  for (let at = 0; at < text.length; at++) {
    sticky.lastIndex = at;
    if (sticky.test(text)) positions.push(at);
  }
  return positions;
}

const KINDS: ReadonlyArray<readonly [TextMarker, RegExp]> = [
  ['secretWord', new RegExp(SECRET_WORD)],
  ['vendorPrefix', VENDOR_PREFIXES],
  ['jwtStart', JWT_START],
  ['at', /@/],
];

/** The positions atTextMarker gives, one after another. */
function walk(text: string, marker: TextMarker): number[] {
  const next = atTextMarker(marker);
  const facts = new TextFacts(text);
  const positions: number[] = [];
  for (let at = next(facts, 0); at >= 0; at = next(facts, at + 1)) positions.push(at);
  return positions;
}

describe('text markers', () => {
  const texts = [
    'password passwd pwd PRIVATE_KEY private-key secret Token api_key ACCESS-KEY apikey',
    'AKIA ASIA AIza ApiKey Access_Key sk_live_ rk_live_ secret sKey ghp_ gho_ github_pat_ glpat- xoxb- xoxs- -----BEGIN ',
    'eyJhbGciOiJIUzI1NiJ9 ewogICJhbGciOiAi ey@ a@b @@ e@ eyeballing everything',
    'passwordpassword tokentoken secretsecret AKIAKIA ',
    'nothing here at all',
    '',
    ...fuzzTexts(11, 3000),
  ];

  it('are found, kind by kind, exactly where SECRET_WORD, VENDOR_PREFIXES, JWT_START and "@" match', () => {
    let found = 0;
    for (const text of texts) {
      for (const [kind, marker] of KINDS) {
        const want = positionsOf(text, marker);
        found += want.length;
        expect(walk(text, kind), `${kind} in ${JSON.stringify(text)}`).toEqual(want);
      }
    }
    expect(found).toBeGreaterThan(1000);
  });

  it('are there exactly when one of them is', () => {
    for (const text of texts) {
      const any = KINDS.some(([, marker]) => marker.test(text));
      expect(new TextFacts(text).hasTextMarkers, JSON.stringify(text)).toBe(any);
    }
  });

  it('keep only the first characters asked for', () => {
    const next = atTextMarker('vendorPrefix', 'g');
    const facts = new TextFacts('AKIA ghp_ xoxb- glpat-');
    expect([next(facts, 0), next(facts, 6), next(facts, 11)]).toEqual([5, 16, 16]);
  });
});
