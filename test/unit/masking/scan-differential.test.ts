/**
 * `scan` and the built-in detectors against what they found before they were made faster
 * (the combined digit-run pass of text-facts.ts and the rules' `nextStart`s): every
 * finding — detector, label, start, end, confidence — must be the same, with every
 * detector set, on the texts of scan-corpus.ts (hand-made edge cases, slices of the bench
 * corpora, fuzzed text). A change that alters a single finding fails here, with the text
 * that shows it.
 *
 * fixtures/scan-findings.json was written by record-findings.ts running a frozen copy of
 * the detectors as they were before that pass (each pattern searched over the whole text,
 * behind the shared DIGIT_GROUPS and TEXT_MARKERS prefilters); the copy was then deleted.
 * The fixture holds findings, not texts: those are regenerated from their seeds, and
 * their digests say whether they still are the texts the findings belong to.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ALL_DETECTORS, DEFAULT_DETECTORS, defaultDetectors } from '../../../src/masking/registry.js';
import { scan } from '../../../src/masking/scan.js';
import { detectorSets, digestOf, encodeFindings, findingsCorpora, type FindingsFixture } from './scan-corpus.js';

const fixture = JSON.parse(readFileSync(new URL('./fixtures/scan-findings.json', import.meta.url), 'utf8')) as FindingsFixture;

const corpora = findingsCorpora();
const texts = corpora.flatMap((c) => c.texts);
const sets = detectorSets({ all: ALL_DETECTORS, defaults: DEFAULT_DETECTORS, withPhoneRegions: (regions) => defaultDetectors({ phoneRegions: regions }) });

/** The fixture's findings of one set, by text index. */
function recorded(findings: readonly string[]): Map<number, string> {
  const byText = new Map<number, string>();
  for (const entry of findings) {
    const colon = entry.indexOf(':');
    byText.set(Number(entry.slice(0, colon)), entry.slice(colon + 1));
  }
  return byText;
}

/** Encoded findings, readable: detector names instead of their indices. */
const readable = (encoded: string): string =>
  encoded === '' ? '(none)' : encoded.split(';').map((f) => f.replace(/^-?\d+/, (i) => fixture.detectors[Number(i)] ?? `unknown detector`)).join('; ');

describe('scan finds exactly what it found before it was made faster', () => {
  it('on the texts the findings were recorded for', () => {
    // Otherwise a changed generator (bench/mask/*.ts, fuzz-text.ts) would read as changed findings.
    expect(corpora.map((c) => ({ name: c.name, texts: c.texts.length, sha256: digestOf(c.texts) }))).toEqual(fixture.corpora);
    expect(sets.map((s) => s.name)).toEqual(fixture.sets.map((s) => s.name));
  });

  it('with detector findings to compare: every built-in detector found something, alone, in many texts', () => {
    for (const detector of ALL_DETECTORS) {
      const alone = fixture.sets.find((s) => s.name === detector.name);
      expect(alone?.findings.length ?? 0, detector.name).toBeGreaterThanOrEqual(40);
    }
  });

  for (const [s, set] of sets.entries()) {
    it(`with the detector set "${set.name}"`, () => {
      const before = recorded(fixture.sets[s]?.findings ?? []);
      const differences: string[] = [];
      texts.forEach((text, i) => {
        const now = encodeFindings(scan(text, set.detectors), fixture.detectors);
        const then = before.get(i) ?? '';
        if (now !== then && differences.length < 5) differences.push(`${JSON.stringify(text)}\n  now:    ${readable(now)}\n  before: ${readable(then)}`);
      });
      expect(differences).toEqual([]);
    });
  }
});
