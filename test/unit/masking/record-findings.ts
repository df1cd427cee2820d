/**
 * Writes fixtures/scan-findings.json: what `scan` finds, with each detector set, in the
 * texts of scan-corpus.ts. It was first run on a frozen copy of the detectors as they were
 * before the combined digit-run pass, and the current ones reproduced that fixture byte
 * for byte. Re-record only when the texts change (scan-differential.test.ts says so: their
 * digests no longer match), from a commit where that test passes, and check that the
 * findings of texts that did not change stay as they were. A detector that finds
 * something else is a change to review, not a fixture to re-record.
 *
 *   npx tsc --ignoreConfig --module nodenext --moduleResolution nodenext --target es2022 --strict --skipLibCheck \
 *     --types node --rootDir . --outDir bench/out/record test/unit/masking/record-findings.ts
 *   node bench/out/record/test/unit/masking/record-findings.js
 */
import { writeFileSync } from 'node:fs';
import { ALL_DETECTORS, DEFAULT_DETECTORS, defaultDetectors } from '../../../src/masking/registry.js';
import { scan } from '../../../src/masking/scan.js';
import { detectorSets, digestOf, encodeFindings, findingsCorpora, type FindingsFixture } from './scan-corpus.js';

const FIXTURE = 'test/unit/masking/fixtures/scan-findings.json';

const corpora = findingsCorpora();
const texts = corpora.flatMap((c) => c.texts);
const sets = detectorSets({ all: ALL_DETECTORS, defaults: DEFAULT_DETECTORS, withPhoneRegions: (regions) => defaultDetectors({ phoneRegions: regions }) });

/** Every detector of every set, as "name label". */
const detectors = [...new Set(sets.flatMap((set) => set.detectors).map((d) => `${d.name} ${d.label}`))];

const fixture: FindingsFixture = {
  about: 'What scan found before the combined digit-run pass; see scan-differential.test.ts and record-findings.ts.',
  corpora: corpora.map((c) => ({ name: c.name, texts: c.texts.length, sha256: digestOf(c.texts) })),
  detectors,
  sets: sets.map((set) => ({
    name: set.name,
    findings: texts.flatMap((text, i) => {
      const found = scan(text, set.detectors);
      return found.length === 0 ? [] : [`${i}:${encodeFindings(found, detectors)}`];
    }),
  })),
};

writeFileSync(FIXTURE, `${JSON.stringify(fixture, null, 1)}\n`);
const total = fixture.sets.reduce((n, s) => n + s.findings.length, 0);
console.log(`${texts.length} texts, ${sets.length} detector sets, ${total} texts with findings: ${FIXTURE}`);
