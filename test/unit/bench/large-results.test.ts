/** bench:large's checks void a run whose output is wrong, and its figures are medians of the right runs. */
import { describe, expect, it, vi } from 'vitest';
import { exampleMaskingProfile, expectedCountsSql, ExampleProfileError, MARKERS, STATEMENTS, warmupStatement } from '../../../bench/large/dataset.js';
import { checkRun, keyFigures, summarise, TARGETS, type Expected, type RunSample } from '../../../bench/large/results.js';
import { kernelBufferBytes } from '../../../bench/large/backpressure.js';
import { RssSampler, rssWindow } from '../../../bench/large/rss.js';
import type { StreamTally } from '../../../bench/large/stream-tally.js';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

const idx = (text: string): number => MARKERS.findIndex((m) => m.text === text);

const expected: Expected = {
  rows: 1000,
  sensitive: new Map([
    ['@example.com', 1000],
    ['4111 1111 1111 1111', 50],
    ['@mail.example.org', 20],
    ['5555 5555 5555 4444', 20],
  ]),
};

function tally(counts: Record<string, number>, rows: { dataRows?: number; copyLines?: number; copySplitRows?: number } = {}): StreamTally {
  return {
    bytes: 200_000,
    messages: 1003,
    dataRows: rows.dataRows ?? 0,
    copyData: rows.copyLines ?? 0,
    copyDataBytes: 0,
    copyLines: rows.copyLines ?? 0,
    copySplitRows: rows.copySplitRows ?? 0,
    markers: MARKERS.map((m) => counts[m.text] ?? 0),
  };
}

const directCounts = Object.fromEntries(expected.sensitive);
const maskedCounts = { '[EMAIL]': 1020, '**** **** **** 1111': 50, '[CARD]': 21 };

describe('checkRun', () => {
  it('passes a direct read with every planted value and a masked read with none, each replaced', () => {
    expect(checkRun({ query: 'select', path: 'direct', masked: false, tally: tally(directCounts, { dataRows: 1000 }), tags: ['SELECT 1000'], error: undefined }, MARKERS, expected)).toEqual([]);
    expect(checkRun({ query: 'copy', path: 'gateway', masked: true, tally: tally(maskedCounts, { copyLines: 1000 }), tags: ['COPY 1000'], error: undefined }, MARKERS, expected)).toEqual([]);
  });

  it('names a leak, a missing row, a wrong tag, a failure and an unmasked value', () => {
    const leaked = checkRun(
      { query: 'select', path: 'gateway', masked: true, tally: tally({ ...maskedCounts, '@mail.example.org': 1 }, { dataRows: 999 }), tags: ['SELECT 999'], error: 'boom' },
      MARKERS,
      expected,
    );
    expect(leaked.join('\n')).toMatch(/failed: boom/);
    expect(leaked.join('\n')).toMatch(/999 rows, expected 1000/);
    expect(leaked.join('\n')).toMatch(/command tags \["SELECT 999"\], expected \["SELECT 1000"\]/);
    expect(leaked.join('\n')).toMatch(/1 unmasked e-mail in free text .* masking leaked/);
    const unreplaced = checkRun({ query: 'select', path: 'gateway', masked: true, tally: tally({ ...maskedCounts, '[CARD]': 19 }, { dataRows: 1000 }), tags: ['SELECT 1000'], error: undefined }, MARKERS, expected);
    expect(unreplaced).toHaveLength(1);
    expect(unreplaced[0]).toMatch(/19 × "\[CARD\]".*at least 20/);
  });

  it('insists the direct reader saw every planted value and no mask label', () => {
    const problems = checkRun(
      { query: 'select', path: 'direct', masked: false, tally: tally({ ...directCounts, '@example.com': 999, '[EMAIL]': 1 }, { dataRows: 1000 }), tags: ['SELECT 1000'], error: undefined },
      MARKERS,
      expected,
    );
    expect(problems).toHaveLength(2);
  });

  it('counts COPY rows by lines and refuses to vouch for split rows', () => {
    const problems = checkRun({ query: 'copy', path: 'gateway', masked: true, tally: tally(maskedCounts, { copyLines: 1000, copySplitRows: 2 }), tags: ['COPY 1000'], error: undefined }, MARKERS, expected);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/did not end a row/);
    // DataRows do not count as COPY rows.
    expect(checkRun({ query: 'copy', path: 'direct', masked: false, tally: tally(directCounts, { dataRows: 1000 }), tags: ['COPY 1000'], error: undefined }, MARKERS, expected)[0]).toMatch(/0 rows/);
  });
});

function sample(round: number, path: RunSample['path'], seconds: number, query: RunSample['query'] = 'select'): RunSample {
  return {
    round,
    query,
    path,
    masked: path === 'gateway',
    seconds,
    firstByteSeconds: 0.01,
    tally: { ...tally({}, { dataRows: 1000, copyLines: 1000 }), bytes: 100e6 },
    tags: [],
    error: undefined,
    gatewayPeakRss: path === 'direct' ? undefined : 150e6 + round,
    gatewayCpuMs: path === 'direct' ? undefined : seconds * 900,
    clientCpuMs: 100,
  };
}

describe('summarise and keyFigures', () => {
  const samples = [
    sample(1, 'direct', 10), sample(1, 'gateway', 20),
    sample(2, 'direct', 12), sample(2, 'gateway', 15),
    sample(3, 'direct', 11), sample(3, 'gateway', 40),
    sample(1, 'direct', 5, 'copy'), sample(1, 'gateway', 5, 'copy'),
  ];

  it('takes medians, ratios of medians and the median of per-round ratios', () => {
    const gw = summarise(samples, 'select', 'gateway')!;
    expect(gw.seconds).toBe(20);
    expect(gw.vsDirect).toBeCloseTo(11 / 20);
    expect(gw.pairedVsDirect).toBeCloseTo(0.5); // 10/20, 12/15 = 0.8, 11/40 = 0.275 → 0.5
    expect(gw.rowsPerSecond).toBe(50);
    expect(gw.bytesPerSecond).toBe(5e6);
    expect(gw.gatewayPeakRss).toBe(150e6 + 3);
    expect(gw.gatewayCpuSeconds).toBeCloseTo(18);
    expect(summarise(samples, 'select', 'direct')!.vsDirect).toBe(1);
    expect(summarise(samples, 'select', 'gateway, no masking')).toBeUndefined();
  });

  it('reports the throughput ratios, peak RSS and paused growth against their targets', () => {
    const summaries = [summarise(samples, 'select', 'direct')!, summarise(samples, 'select', 'gateway')!, summarise(samples, 'copy', 'direct')!, summarise(samples, 'copy', 'gateway')!];
    const figures = keyFigures(1000, summaries, 190e6, { pausedGrowth: 2e6, pausedGrowthBound: 30e6 });
    const byName = new Map(figures.map((f) => [f.name, f]));
    expect(byName.get('1,000-row SELECT with masking: gateway ÷ direct throughput')).toMatchObject({ value: 11 / 20, target: { op: '>=', value: TARGETS.throughputRatio } });
    expect(byName.get('1,000-row COPY TO STDOUT with masking: gateway ÷ direct throughput')?.value).toBe(1);
    expect(byName.get('gateway peak RSS over every 1,000-row read')).toMatchObject({ value: 190, unit: 'MB', target: { op: '<=', value: 200 } });
    expect(byName.get('gateway RSS growth while a client pauses mid-result')).toMatchObject({ value: 2, target: { op: '<=', value: 30 } });
    expect(keyFigures(1000, summaries, 190e6, undefined).some((f) => f.name.includes('pauses'))).toBe(false);
  });
});

describe('rss', () => {
  it('summarises the samples inside a window', () => {
    const samples = [10, 30, 20, 50, 40].map((bytes, i) => ({ atMs: i * 100, bytes }));
    expect(rssWindow(samples, 100, 300)).toEqual({ samples: 3, min: 20, max: 50, first: 30, last: 50 });
    expect(rssWindow(samples)).toMatchObject({ max: 50, min: 10 });
    expect(rssWindow(samples, 1000, 2000).samples).toBe(0);
    expect(rssWindow(samples, 1000, 2000).max).toBeNaN();
  });

  it('samples on start, on every tick and on stop, and rethrows a failed read', () => {
    vi.useFakeTimers();
    try {
      let value = 0;
      const sampler = new RssSampler(() => ++value, 50).start();
      vi.advanceTimersByTime(120);
      expect(sampler.stop().map((s) => s.bytes)).toEqual([1, 2, 3, 4]);
      const failing = new RssSampler(() => {
        throw new Error('no such process');
      }, 50).start();
      expect(() => failing.stop()).toThrow('no such process');
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('dataset', () => {
  it('takes the example masking profile as shipped, and refuses one that no longer fits the bench', () => {
    const doc: unknown = parse(readFileSync(new URL('../../../examples/portcullis.yaml', import.meta.url), 'utf8'));
    const profile = exampleMaskingProfile(doc, 'agents');
    expect(profile['name']).toBe('pii-for-agents');
    expect(() => exampleMaskingProfile(doc, 'auditors')).toThrow(ExampleProfileError);
    expect(() => exampleMaskingProfile({ masking: [{ name: 'pii-for-agents', detectors: [], columns: {} }] }, 'agents')).toThrow(/no content detectors/);
    expect(() => exampleMaskingProfile({ masking: [{ name: 'pii-for-agents', detectors: ['default'], columns: {} }] }, 'agents')).toThrow(/public.customers.email/);
    expect(() => exampleMaskingProfile({}, 'agents')).toThrow(/no masking profiles/);
  });

  it('counts every sensitive marker, and only those, in one pass', () => {
    const { sql, params } = expectedCountsSql();
    expect(params).toEqual(MARKERS.filter((m) => m.kind === 'sensitive').map((m) => m.text));
    for (let i = 0; i < params.length; i++) expect(sql).toContain(`AS m${i}`);
    expect(sql).toMatch(/count\(\*\)::bigint AS rows/);
  });

  it('covers every label with sensitive markers, and warms up with the same columns', () => {
    const sensitive = new Set(MARKERS.filter((m) => m.kind === 'sensitive').map((m) => m.text));
    for (const m of MARKERS.filter((x) => x.kind === 'label')) for (const c of m.covers ?? []) expect(sensitive.has(c)).toBe(true);
    expect(warmupStatement('select', 5)).toBe(`${STATEMENTS.select} WHERE id <= 5`);
    expect(warmupStatement('copy', 5)).toMatch(/^COPY \(SELECT id, .* WHERE id <= 5\) TO STDOUT$/);
    expect(idx('[EMAIL]')).toBeGreaterThan(-1);
  });
});

describe('kernelBufferBytes', () => {
  it('counts a send and a receive buffer at their maximum on each of the two hops', () => {
    expect(kernelBufferBytes('4096\t131072\t33554432\n', '4096 16384 4194304')).toBe(2 * (33554432 + 4194304));
    expect(() => kernelBufferBytes('4096 131072', '4096 16384 4194304')).toThrow(/min default max/);
  });
});
