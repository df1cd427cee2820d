/**
 * What bench:large measured, checked and summarised: pure functions from run samples to
 * problems (a run whose output is not what it should be voids the figures), medians per
 * path, and the key figures with their targets.
 */
import type { Figure } from '../support/report.js';
import { median } from '../support/table.js';
import type { Marker, QueryKind } from './dataset.js';
import type { StreamTally } from './stream-tally.js';

export type PathName = 'direct' | 'gateway' | 'gateway, no masking';

export const TARGETS = {
  /** Gateway (masking on) ÷ direct rows per second, for the SELECT and for the COPY (issue 8). */
  throughputRatio: 0.6,
  /** Gateway RSS, MB (10^6 bytes), at every sample of every gateway run. */
  peakRssMb: 200,
} as const;
export const ISSUE = '8';

/** The rows and planted values a reader without masking must receive. */
export interface Expected {
  readonly rows: number;
  /** Occurrences of each sensitive marker's text. */
  readonly sensitive: ReadonlyMap<string, number>;
}

export interface RunSample {
  readonly round: number;
  readonly query: QueryKind;
  readonly path: PathName;
  readonly masked: boolean;
  readonly seconds: number;
  readonly firstByteSeconds: number;
  readonly tally: StreamTally;
  readonly tags: readonly string[];
  readonly error: string | undefined;
  /** Undefined for direct runs. */
  readonly gatewayPeakRss: number | undefined;
  readonly gatewayCpuMs: number | undefined;
  /** This process (the reading client and the samplers). */
  readonly clientCpuMs: number;
}

/** Rows as the client counted them: DataRows for a SELECT, lines of CopyData for a COPY. */
export function rowsOf(query: QueryKind, tally: StreamTally): number {
  return query === 'select' ? tally.dataRows : tally.copyLines;
}

/** Everything wrong with one run's output; empty when it is what it should be. */
export function checkRun(
  run: Pick<RunSample, 'query' | 'path' | 'masked' | 'tally' | 'tags' | 'error'>,
  markers: readonly Marker[],
  expected: Expected,
): string[] {
  const where = `${run.query} via ${run.path}`;
  const problems: string[] = [];
  if (run.error !== undefined) problems.push(`${where}: the statement failed: ${run.error}`);
  const rows = rowsOf(run.query, run.tally);
  if (rows !== expected.rows) problems.push(`${where}: the client counted ${rows} rows, expected ${expected.rows}`);
  const tag = `${run.query === 'select' ? 'SELECT' : 'COPY'} ${expected.rows}`;
  if (run.tags.length !== 1 || run.tags[0] !== tag) problems.push(`${where}: command tags ${JSON.stringify(run.tags)}, expected ["${tag}"]`);
  if (run.query === 'copy' && run.tally.copySplitRows > 0) {
    problems.push(`${where}: ${run.tally.copySplitRows} CopyData messages did not end a row, so the marker scan cannot vouch for the output`);
  }
  markers.forEach((m, i) => {
    const found = run.tally.markers[i] ?? NaN;
    if (m.kind === 'sensitive') {
      const want = run.masked ? 0 : expected.sensitive.get(m.text) ?? NaN;
      if (found !== want) {
        problems.push(
          run.masked
            ? `${where}: ${found} unmasked ${m.what} ("${m.text}") reached the client: masking leaked`
            : `${where}: ${found} × "${m.text}" (${m.what}) received, expected ${want}`,
        );
      }
    } else {
      const planted = (m.covers ?? []).reduce((a, text) => a + (expected.sensitive.get(text) ?? NaN), 0);
      if (run.masked && !(found >= planted)) problems.push(`${where}: ${found} × "${m.text}" (${m.what}), expected at least ${planted}: values were not masked as planned`);
      if (!run.masked && found !== 0) problems.push(`${where}: ${found} × "${m.text}" without masking: the marker is in the data itself and proves nothing`);
    }
  });
  return problems;
}

export interface PathSummary {
  readonly query: QueryKind;
  readonly path: PathName;
  readonly runs: number;
  readonly seconds: number;
  readonly minSeconds: number;
  readonly maxSeconds: number;
  readonly rowsPerSecond: number;
  /** Wire bytes the client read per second (medians of the runs). */
  readonly bytesPerSecond: number;
  readonly bytes: number;
  /** Gateway ÷ direct rows per second (of medians); 1 for direct. */
  readonly vsDirect: number;
  /** Median over rounds of this ÷ direct in the same round. */
  readonly pairedVsDirect: number;
  readonly gatewayPeakRss: number | undefined;
  readonly gatewayCpuSeconds: number | undefined;
  readonly clientCpuSeconds: number;
}

export function summarise(samples: readonly RunSample[], query: QueryKind, path: PathName): PathSummary | undefined {
  const list = samples.filter((s) => s.query === query && s.path === path);
  if (list.length === 0) return undefined;
  const direct = samples.filter((s) => s.query === query && s.path === 'direct');
  const seconds = median(list.map((s) => s.seconds));
  const directSeconds = median(direct.map((s) => s.seconds));
  const rounds = [...new Set(list.map((s) => s.round))];
  const paired = median(
    rounds.map((r) => {
      const mine = list.find((s) => s.round === r);
      const theirs = direct.find((s) => s.round === r);
      return mine && theirs ? theirs.seconds / mine.seconds : NaN;
    }).filter((x) => Number.isFinite(x)),
  );
  const rss = list.map((s) => s.gatewayPeakRss).filter((x): x is number => x !== undefined);
  const cpu = list.map((s) => s.gatewayCpuMs).filter((x): x is number => x !== undefined);
  return {
    query,
    path,
    runs: list.length,
    seconds,
    minSeconds: Math.min(...list.map((s) => s.seconds)),
    maxSeconds: Math.max(...list.map((s) => s.seconds)),
    rowsPerSecond: median(list.map((s) => rowsOf(query, s.tally) / s.seconds)),
    bytesPerSecond: median(list.map((s) => s.tally.bytes / s.seconds)),
    bytes: median(list.map((s) => s.tally.bytes)),
    // Same rows on every path: the rows-per-second ratio is the time ratio.
    vsDirect: directSeconds / seconds,
    pairedVsDirect: paired,
    gatewayPeakRss: rss.length > 0 ? Math.max(...rss) : undefined,
    gatewayCpuSeconds: cpu.length > 0 ? median(cpu) / 1000 : undefined,
    clientCpuSeconds: median(list.map((s) => s.clientCpuMs)) / 1000,
  };
}

export interface BackpressureFigures {
  /** Gateway RSS growth from the moment the client paused to the peak while paused (bytes). */
  readonly pausedGrowth: number;
  readonly pausedGrowthBound: number;
}

const MB = 1e6;

/** The key figures, for bench/RESULTS.md. `rows` names the result size in the figure names. */
export function keyFigures(
  rows: number,
  summaries: readonly PathSummary[],
  peakRss: number,
  backpressure: BackpressureFigures | undefined,
): Figure[] {
  const n = rows.toLocaleString('en-US');
  const find = (query: QueryKind, path: PathName): PathSummary | undefined => summaries.find((s) => s.query === query && s.path === path);
  const figures: Figure[] = [];
  const label: Record<QueryKind, string> = { select: 'SELECT', copy: 'COPY TO STDOUT' };
  for (const query of ['select', 'copy'] as const) {
    const gateway = find(query, 'gateway');
    const direct = find(query, 'direct');
    if (gateway === undefined || direct === undefined) continue;
    figures.push({
      name: `${n}-row ${label[query]} with masking: gateway ÷ direct throughput`,
      value: gateway.vsDirect,
      unit: '×',
      target: { op: '>=', value: TARGETS.throughputRatio },
      issue: ISSUE,
    });
    figures.push({ name: `${n}-row ${label[query]}: direct, MB/s read`, value: direct.bytesPerSecond / MB, unit: 'MB/s' });
    figures.push({ name: `${n}-row ${label[query]}: through the gateway with masking, MB/s read`, value: gateway.bytesPerSecond / MB, unit: 'MB/s' });
  }
  figures.push({
    name: `gateway peak RSS over every ${n}-row read`,
    value: peakRss / MB,
    unit: 'MB',
    target: { op: '<=', value: TARGETS.peakRssMb },
    issue: ISSUE,
  });
  if (backpressure !== undefined) {
    figures.push({
      name: 'gateway RSS growth while a client pauses mid-result',
      value: backpressure.pausedGrowth / MB,
      unit: 'MB',
      target: { op: '<=', value: backpressure.pausedGrowthBound / MB },
      issue: ISSUE,
    });
  }
  return figures;
}
