/**
 * `npm run bench:mask` — how fast and how well the content detectors mask (issue 6,
 * points 9 and 8). Sections run in turn; each prints its table and returns the targets it
 * missed, and the process exits non-zero if any was missed.
 *
 * 1. Throughput: `scan` with DEFAULT_DETECTORS, in-process on one core, over mixed text
 *    that is mostly clean — tickets and notes (60 %), JSON documents, CSV exports and
 *    config files — with ~3 % of it inside sensitive values, in three shapes: result
 *    cells, whole documents, and 64 KiB blobs. Target: ≥ 50 MB/s (median of the runs) in
 *    every shape. Also shown, not gated: the same over the quality corpus, which is all
 *    sensitive values and look-alikes (a worst case: most of it is digits).
 *    Runs first, while the JIT has seen only this work.
 * 2. Quality: precision and recall per detector on a seeded, labelled corpus (every
 *    sensitive type in prose, JSON, CSV and config files, plus hard negatives), scanned
 *    with the default detectors reading national phone numbers of the corpus' regions.
 *    Target: ≥ 0.99 precision and recall for every structured type.
 *
 * 3. End to end: a large SELECT (BENCH_MASK_ROWS, 1,000,000 rows × 5 text columns) read
 *    with psql directly, through the gateway without masking and through it with masking
 *    (a column rule plus the default detectors), interleaved, BENCH_MASK_E2E_RUNS (3) times.
 *    Targets: masked ≤ 2× the direct time (medians); the gateway's RSS stays under 200 MB.
 *    BENCH_MASK_E2E=0 skips it; BENCH_MASK_PROFILE=1 adds a CPU profile of the gateway;
 *    BENCH_MASK_NODE_FLAGS passes node flags to the gateway (e.g. "--max-semi-space-size=2").
 *
 * Env: BENCH_MASK_ONLY (e.g. "e2e" or "throughput,quality": run only those sections), BENCH_MASK_SEED (20250601), BENCH_MASK_DOCUMENTS (8000: quality corpus),
 * BENCH_MASK_THROUGHPUT_DOCUMENTS (8000), BENCH_MASK_SENSITIVE_RATE (percent of
 * sentences/records/tables carrying sensitive values in the throughput text; 4),
 * BENCH_MASK_RUNS (7: timed passes per shape).
 */
import { DEFAULT_DETECTORS, defaultDetectors } from '../src/masking/registry.js';
import { generateCorpus, type LabelledDocument } from './mask/corpus.js';
import { measureEndToEnd } from './mask/end-to-end.js';
import { scoreDetectors, type DetectorScore } from './mask/quality.js';
import { measureThroughput, sensitiveShare, textShapes } from './mask/throughput.js';
import { PHONE_REGIONS } from './mask/values.js';
import { intEnv } from './support/env.js';
import { commandOf, reportFigures, type Figure } from './support/report.js';
import { fmt, markdownTable, mb, median } from './support/table.js';

/** The key figures, for `npm run bench`'s RESULTS.md. */
const figures: Figure[] = [];

const settings = {
  seed: intEnv('BENCH_MASK_SEED', 20250601, 0),
  documents: intEnv('BENCH_MASK_DOCUMENTS', 8000, 1),
  throughputDocuments: intEnv('BENCH_MASK_THROUGHPUT_DOCUMENTS', 8000, 1),
  sensitivePercent: intEnv('BENCH_MASK_SENSITIVE_RATE', 4, 0),
  runs: intEnv('BENCH_MASK_RUNS', 7, 1),
};

const TARGET_PRECISION = 0.99;
const TARGET_RECALL = 0.99;
const TARGET_MB_PER_SECOND = 50;

/** Types held to the quality target: all but the heuristic `password=` detector, whose keys and values are open-ended. */
const STRUCTURED = new Set([
  'email', 'card', 'ssn', 'iban', 'phone', 'aws-access-key', 'aws-secret-key', 'github-token', 'gitlab-token', 'slack-token',
  'stripe-key', 'google-api-key', 'private-key', 'jwt',
]);

type Section = () => string[] | Promise<string[]>;

const ratio = (value: number): string => fmt(value, 4);

function qualitySection(): string[] {
  const corpus: LabelledDocument[] = generateCorpus({ seed: settings.seed, documents: settings.documents });
  const detectors = defaultDetectors({ phoneRegions: PHONE_REGIONS });
  const byFormat = new Map<string, number>();
  for (const d of corpus) byFormat.set(d.format, (byFormat.get(d.format) ?? 0) + 1);
  const labels = corpus.reduce((n, d) => n + d.entities.length, 0);
  const negatives = corpus.reduce((n, d) => n + d.negatives.length, 0);
  console.log(`## Quality (seed ${settings.seed})\n`);
  console.log(
    `${fmt(corpus.length)} documents (${[...byFormat].map(([f, n]) => `${fmt(n)} ${f}`).join(', ')}), ` +
      `${fmt(labels)} labelled values, ${fmt(negatives)} hard negatives; phone regions ${PHONE_REGIONS.join(', ')}.\n` +
      'A finding is a true positive when a labelled value has exactly its span and its type is the finding\'s detector.\n',
  );
  const scores = scoreDetectors(corpus, detectors);
  const missed: string[] = [];
  const row = (s: DetectorScore): string[] => {
    const gated = STRUCTURED.has(s.detector);
    const met = s.precision >= TARGET_PRECISION && s.recall >= TARGET_RECALL;
    if (gated && !met) missed.push(`${s.detector}: precision ${ratio(s.precision)}, recall ${ratio(s.recall)} (target ≥ ${TARGET_PRECISION} each)`);
    return [s.detector, ratio(s.precision), ratio(s.recall), fmt(s.truePositives), fmt(s.falsePositives), fmt(s.falseNegatives), gated ? (met ? 'met' : 'MISSED') : 'not gated'];
  };
  console.log(
    markdownTable(['detector', 'precision', 'recall', 'TP', 'FP', 'FN', `target ≥ ${TARGET_PRECISION}`], scores.map(row), [
      'left', 'right', 'right', 'right', 'right', 'right', 'left',
    ]),
  );
  const structured = scores.filter((s) => STRUCTURED.has(s.detector));
  figures.push(
    { name: 'lowest precision of a structured detector', value: Math.min(...structured.map((s) => s.precision)), unit: '', target: { op: '>=', value: TARGET_PRECISION }, issue: '6' },
    { name: 'lowest recall of a structured detector', value: Math.min(...structured.map((s) => s.recall)), unit: '', target: { op: '>=', value: TARGET_RECALL }, issue: '6' },
  );
  for (const s of scores) {
    for (const m of s.falsePositiveExamples) console.log(`  FP ${s.detector}: ${JSON.stringify(m.value)} (over ${m.overlapping})`);
    for (const m of s.falseNegativeExamples) console.log(`  FN ${s.detector}: ${JSON.stringify(m.value)} (found: ${m.overlapping})`);
  }
  console.log('');
  return missed;
}

/** Mostly clean text: tickets and notes in plain language, some structured documents. */
const MIXED_TEXT = { lookalikeRate: 0.25, formats: { prose: 6, json: 2, csv: 1, config: 1 } } as const;

const digitShare = (documents: readonly LabelledDocument[]): number => {
  let digits = 0;
  let total = 0;
  for (const d of documents) {
    total += d.text.length;
    for (let i = 0; i < d.text.length; i++) if (d.text.charCodeAt(i) >= 48 && d.text.charCodeAt(i) <= 57) digits++;
  }
  return total === 0 ? 0 : digits / total;
};

function throughputRows(documents: readonly LabelledDocument[], gated: boolean, missed: string[]): string[][] {
  return textShapes(documents).map((s) => {
    const runs = measureThroughput(s, DEFAULT_DETECTORS, settings.runs).map((r) => r.mbPerSecond);
    const mbps = median(runs);
    if (gated && mbps < TARGET_MB_PER_SECOND) missed.push(`throughput, ${s.name}: ${fmt(mbps, 1)} MB/s (target ≥ ${TARGET_MB_PER_SECOND})`);
    if (gated) figures.push({ name: `masker throughput, mixed text as ${s.name}, one core`, value: mbps, unit: 'MB/s', target: { op: '>=', value: TARGET_MB_PER_SECOND }, issue: '6' });
    return [s.name, fmt(s.texts.length), mb(s.bytes), fmt(s.bytes / s.texts.length), fmt(mbps, 1), fmt(Math.max(...runs), 1), gated ? (mbps >= TARGET_MB_PER_SECOND ? 'met' : 'MISSED') : 'not gated'];
  });
}

function throughputSection(): string[] {
  const mixed = generateCorpus({ seed: settings.seed + 1, documents: settings.throughputDocuments, sensitiveRate: settings.sensitivePercent / 100, ...MIXED_TEXT });
  const describe = (docs: readonly LabelledDocument[]): string =>
    `${fmt(sensitiveShare(docs) * 100, 1)} % inside sensitive values, ${fmt(digitShare(docs) * 100, 1)} % digits`;
  console.log(`## Throughput (scan, DEFAULT_DETECTORS, one core, ${settings.runs} timed passes per shape)\n`);
  const missed: string[] = [];
  const headers = ['shape', 'texts', 'size', 'avg bytes', 'MB/s (median)', 'MB/s (best)', `target ≥ ${TARGET_MB_PER_SECOND}`];
  const align = ['left', 'right', 'right', 'right', 'right', 'right', 'left'] as const;
  console.log(`Mixed text (${describe(mixed)}):\n`);
  console.log(markdownTable(headers, throughputRows(mixed, true, missed), align));
  const worst = generateCorpus({ seed: settings.seed + 2, documents: settings.throughputDocuments });
  console.log(`\nWorst case, the quality corpus (${describe(worst)}):\n`);
  console.log(markdownTable(headers, throughputRows(worst, false, missed), align));
  console.log('\nShapes: cells = the documents cut at lines and ", " (result cells); documents = one per value; blobs = ~64 KiB values.\n');
  return missed;
}

const TARGET_E2E_RATIO = 2;
const TARGET_RSS_BYTES = 200e6;

async function endToEndSection(): Promise<string[]> {
  if (process.env['BENCH_MASK_E2E'] === '0') return [];
  const rows = intEnv('BENCH_MASK_ROWS', 1_000_000, 1);
  const runs = intEnv('BENCH_MASK_E2E_RUNS', 3, 1);
  console.log(`## End to end (psql, ${fmt(rows)} rows × 5 text columns, ${runs} interleaved runs per path)\n`);
  const result = await measureEndToEnd({ rows, runs, profile: process.env['BENCH_MASK_PROFILE'] === '1' });
  const paths = ['direct', 'gateway, no masking', 'gateway, masking'] as const;
  const medianOf = (p: string): number => median(result.runs.filter((r) => r.path === p).map((r) => r.seconds));
  const direct = medianOf('direct');
  const missed: string[] = [];
  const table = paths.map((p) => {
    const of = result.runs.filter((r) => r.path === p);
    const seconds = medianOf(p);
    const peaks = of.map((r) => r.gatewayPeakRss).filter((v): v is number => v !== undefined);
    const peak = peaks.length === 0 ? undefined : Math.max(...peaks);
    const bytes = of[0]!.outputBytes;
    const leaked = Math.max(...of.map((r) => r.leakedEmails));
    if (p === 'gateway, masking') {
      figures.push({ name: `${fmt(rows)}-row SELECT with masking, time ÷ direct`, value: seconds / direct, unit: '×', target: { op: '<=', value: TARGET_E2E_RATIO }, issue: '6' });
      if (peak !== undefined) figures.push({ name: 'gateway peak RSS during the masked SELECT', value: peak / 1e6, unit: 'MB', target: { op: '<=', value: TARGET_RSS_BYTES / 1e6 }, issue: '6' });
      if (seconds / direct > TARGET_E2E_RATIO) missed.push(`end to end: masked ${fmt(seconds / direct, 2)}× direct (target ≤ ${TARGET_E2E_RATIO}×)`);
      if (leaked > 0) missed.push(`end to end: ${leaked} e-mail addresses passed the masking gateway`);
    }
    if (peak !== undefined && peak >= TARGET_RSS_BYTES) missed.push(`end to end, ${p}: gateway RSS peaked at ${mb(peak)} (target < ${mb(TARGET_RSS_BYTES)})`);
    return [p, fmt(seconds, 2), fmt(seconds / direct, 2), fmt(bytes / 1e6 / seconds, 1), peak === undefined ? '—' : mb(peak), fmt(leaked)];
  });
  console.log(`Query \`${result.query}\`; table ${mb(result.tableBytes)} on disk; output ${mb(result.runs[0]!.outputBytes)} per read.\n`);
  console.log(
    markdownTable(['path', 'seconds (median)', '× direct', 'output MB/s', 'gateway peak RSS', 'e-mails in output'], table, [
      'left', 'right', 'right', 'right', 'right', 'right',
    ]),
  );
  if (result.profile !== undefined) {
    const p = result.profile;
    console.log(`\nGateway CPU profile of one masked read (--cpu-prof): busy ${fmt(p.busyMs / 1000, 2)} s of ${fmt(p.wallMs / 1000, 2)} s, GC ${fmt((100 * p.gcMs) / p.busyMs, 1)}% of busy.\n`);
    console.log(markdownTable(['function', 'location', 'self %', 'total %'], p.bySelf.map((h) => [h.name, h.where, fmt(100 * h.selfShare, 1), fmt(100 * h.totalShare, 1)]), ['left', 'left', 'right', 'right']));
  }
  console.log('');
  return missed;
}

const SECTIONS: ReadonlyArray<readonly [string, Section]> = [
  ['throughput', throughputSection],
  ['quality', qualitySection],
  ['e2e', endToEndSection],
];

async function main(): Promise<void> {
  const missed: string[] = [];
  const only = process.env['BENCH_MASK_ONLY']?.split(',');
  for (const [name, section] of SECTIONS) if (only === undefined || only.includes(name)) missed.push(...(await section()));
  reportFigures({ bench: 'bench:mask', command: commandOf('bench:mask', 'BENCH_MASK_'), figures });
  if (missed.length === 0) console.log('all targets met');
  else {
    console.log(`TARGETS MISSED:\n${missed.map((m) => `  - ${m}`).join('\n')}`);
    process.exitCode = 1;
  }
}

await main();
