/** The markdown report of bench:large: pure, from what the run measured. */
import type { ProfileSummary } from '../support/cpuprofile.js';
import type { Figure } from '../support/report.js';
import { fmt, markdownTable, mb } from '../support/table.js';
import type { BackpressureResult, WaitSamples } from './backpressure.js';
import { MARKERS, STATEMENTS, type QueryKind } from './dataset.js';
import { rowsOf, TARGETS, type Expected, type PathSummary, type RunSample } from './results.js';

export interface ProfiledRead {
  readonly query: QueryKind;
  readonly seconds: number;
  readonly summary: ProfileSummary;
}

export interface LargeReportInput {
  readonly started: Date;
  readonly reproduce: string;
  readonly machine: ReadonlyArray<readonly [string, string]>;
  readonly settings: ReadonlyArray<readonly [string, string]>;
  readonly expected: Expected;
  readonly tableBytes: number;
  readonly generateSeconds: number;
  readonly profileName: string;
  readonly policySource: string;
  readonly policyChecks: ReadonlyArray<readonly [string, string]>;
  readonly summaries: readonly PathSummary[];
  readonly samples: readonly RunSample[];
  readonly gatewayIdleRss: number;
  readonly gatewayPeakRss: number;
  readonly backpressure: BackpressureResult | undefined;
  readonly backpressureBound: number;
  /** Said under the backpressure table when the result left after the pause is too small for the RSS bound to tell. */
  readonly backpressureNote: string | undefined;
  readonly profile: { readonly file: string; readonly reads: readonly ProfiledRead[] } | undefined;
  readonly figures: readonly Figure[];
  readonly problems: readonly string[];
  readonly commands: readonly string[];
  readonly configText: string;
}

const LABEL: Record<QueryKind, string> = { select: 'SELECT', copy: 'COPY TO STDOUT' };

export function renderLargeReport(r: LargeReportInput): string {
  const out: string[] = [];
  const rows = fmt(r.expected.rows);
  out.push(
    `# Portcullis large-result benchmark — ${r.started.toISOString()}`,
    '',
    `A ${rows}-row SELECT and a COPY TO STDOUT of the same table, read directly from PostgreSQL and through ` +
      `Portcullis (its own process, recording on, the example policy and the example masking profile \`${r.profileName}\`), ` +
      'interleaved, medians over the rounds. One client reads both paths the same way: a minimal wire-protocol reader ' +
      '(bench/large/wire-client.ts) that counts rows, bytes and marker strings as the bytes stream past and keeps nothing, ' +
      'so neither path is slowed by a client building rows. Everything shares this machine\'s cores: PostgreSQL, the ' +
      'gateway and the client.',
    '',
    `Reproduce: \`${r.reproduce}\``,
    '',
    '## Machine and settings',
    '',
    markdownTable(['', ''], [...r.machine, ...r.settings].map(([k, v]) => [k, v])),
    '',
  );

  out.push(
    '## Data',
    '',
    `Table \`customers\`: ${rows} rows, ${mb(r.tableBytes)} on disk, generated in PostgreSQL in ${fmt(r.generateSeconds, 1)} s. ` +
      'Planted values, and what a reader must see of them (counted in the rows directly as superuser):',
    '',
    markdownTable(
      ['marker', 'what', 'in the table', 'without masking', 'with masking'],
      MARKERS.map((m) => [
        `\`${m.text}\``,
        m.what,
        m.kind === 'sensitive' ? fmt(r.expected.sensitive.get(m.text) ?? NaN) : '—',
        m.kind === 'sensitive' ? 'every one' : 'none',
        m.kind === 'sensitive' ? 'none' : `≥ one per ${m.covers?.map((c) => `\`${c}\``).join(' + ')}`,
      ]),
      ['left', 'left', 'right', 'left', 'left'],
    ),
    '',
    'Statements:',
    '',
    ...(['select', 'copy'] as const).map((q) => `- ${LABEL[q]}: \`${STATEMENTS[q]}\``),
    '',
    `Policy: ${r.policySource}, read rules narrowed to \`public.customers\`. Checked over the wire before the rounds:`,
    '',
    markdownTable(['statement through the gateway', 'outcome'], r.policyChecks.map(([a, b]) => [a, b])),
    '',
  );

  const throughputRows = r.summaries.map((s) => [
    LABEL[s.query],
    s.path,
    fmt(s.seconds, 2),
    `${fmt(s.minSeconds, 2)} – ${fmt(s.maxSeconds, 2)}`,
    fmt(s.rowsPerSecond, 0),
    fmt(s.bytesPerSecond / 1e6, 1),
    mb(s.bytes),
    s.path === 'direct' ? '—' : `${fmt(s.vsDirect, 2)}×`,
    s.path === 'direct' ? '—' : `${fmt(s.pairedVsDirect, 2)}×`,
    s.path === 'gateway' ? verdict(s.vsDirect >= TARGETS.throughputRatio) : '—',
    s.gatewayCpuSeconds === undefined ? '—' : fmt(s.gatewayCpuSeconds, 1),
    fmt(s.clientCpuSeconds, 1),
    s.gatewayPeakRss === undefined ? '—' : mb(s.gatewayPeakRss),
  ]);
  out.push(
    '## Throughput',
    '',
    markdownTable(
      ['statement', 'path', 'seconds (median)', 'min – max', 'rows/s', 'MB/s read', 'bytes read', 'vs direct', 'median of per-round ratios', `≥ ${TARGETS.throughputRatio}×`, 'gateway CPU s', 'client CPU s', 'gateway peak RSS'],
      throughputRows,
      ['left', 'left', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'left', 'right', 'right', 'right'],
    ),
    '',
    '"vs direct" is direct time ÷ gateway time (the same rows on both paths): gateway throughput as a share of direct. ' +
      'Bytes are the wire bytes the client read; with masking they differ a little from direct (a redacted value is ' +
      'shorter or longer than the value). Gateway CPU is user + system time of the gateway process during the read ' +
      '(/proc, 10 ms ticks); client CPU is this process (the reader and the samplers).',
    '',
  );

  out.push(
    '## Gateway memory',
    '',
    `RSS sampled from /proc/<pid>/status throughout, from start to stop: ${mb(r.gatewayIdleRss)} idle after the policy check, ` +
      `**${mb(r.gatewayPeakRss)} peak** over every read (target ≤ ${TARGETS.peakRssMb} MB: ${verdict(r.gatewayPeakRss <= TARGETS.peakRssMb * 1e6)}).`,
    '',
  );

  out.push('## Backpressure (slow client through the gateway)', '');
  const b = r.backpressure;
  if (b === undefined) out.push('Skipped (BENCH_LARGE_SLOW=0).', '');
  else {
    const waits = (w: WaitSamples): string =>
      `${w.clientWrite} of ${w.total}${Object.keys(w.others).length > 0 ? ` (others: ${Object.entries(w.others).map(([k, v]) => `${k} × ${v}`).join(', ')})` : ''}`;
    out.push(
      `The masked SELECT through the gateway; the client reads ${mb(b.bytesAtPause)}, stops reading for ${fmt(b.pauseSeconds, 1)} s ` +
        `(socket paused), ${b.throttle ? `reads at a trickle for ${fmt(b.throttle.seconds, 1)} s, ` : ''}then resumes and ` +
        `${b.ending.how === 'cancelled' ? 'cancels (CancelRequest through the gateway)' : 'reads to the end'}. ` +
        'PostgreSQL\'s backend is watched in pg_stat_activity directly, as superuser.',
      '',
      markdownTable(
        ['measure', 'value'],
        [
          ['gateway RSS before the query', mb(b.rssIdle)],
          ['gateway RSS peak while streaming, before the pause', mb(b.rssPeakBeforePause)],
          ['gateway RSS when the client paused', mb(b.rssAtPause)],
          ['gateway RSS peak while paused', mb(b.rssPeakPaused)],
          [`**RSS growth while paused** (bound ${mb(r.backpressureBound)})`, `**${mb(b.pausedGrowth)}** ${verdict(b.pausedGrowth <= r.backpressureBound)}`],
          ['PostgreSQL blocked in ClientWrite after the pause', b.secondsToClientWrite === undefined ? '**never**' : `${fmt(b.secondsToClientWrite, 2)} s`],
          ['pg_stat_activity samples in ClientWrite while paused', waits(b.paused)],
          ['gateway CPU while paused', `${fmt(b.gatewayCpuMsPaused, 0)} ms over ${fmt(b.pauseSeconds, 1)} s`],
          ['bytes the client took in while paused', fmt(b.bytesWhilePaused)],
          ...(b.throttle
            ? ([
                ['trickle: bytes read', `${mb(b.throttle.bytes)} in ${fmt(b.throttle.seconds, 1)} s`],
                ['trickle: gateway RSS growth', `${mb(b.throttle.growth)} ${verdict(b.throttle.growth <= r.backpressureBound)}`],
                ['trickle: samples in ClientWrite', waits(b.throttle.waits)],
                ['trickle: gateway CPU', `${fmt(b.throttle.gatewayCpuMs, 0)} ms`],
              ] as Array<[string, string]>)
            : []),
          ['time to read 1 MB more after resuming', b.secondsToFlowAgain === undefined ? (b.endedBeforeResume ? '— (the result had already ended)' : '**did not flow**') : `${fmt(b.secondsToFlowAgain, 3)} s`],
          [
            b.ending.how === 'cancelled' ? 'cancel: outcome, time to ReadyForQuery' : 'read to the end',
            `${b.ending.errorCode === undefined ? `no error, ${fmt(b.ending.outcome.tally.dataRows)} rows` : `SQLSTATE ${b.ending.errorCode}`}, ${fmt(b.ending.seconds, 2)} s, ${mb(b.ending.outcome.tally.bytes)} read in all`,
          ],
          ['same session usable afterwards', b.sessionUsableAfter ? 'yes' : '**no**'],
        ],
        ['left', 'right'],
      ),
      '',
      ...(r.backpressureNote === undefined ? [] : [r.backpressureNote, '']),
      ...(b.notes.length === 0 ? [] : [b.notes.map((n) => `- ${n}`).join('\n'), '']),
    );
  }

  if (r.profile !== undefined) {
    out.push('## Gateway CPU profile (node --cpu-prof)', '', `Profile: \`${r.profile.file}\` (Chrome DevTools → Performance).`, '');
    for (const p of r.profile.reads) {
      const s = p.summary;
      out.push(
        `### ${LABEL[p.query]} with masking — ${fmt(p.seconds, 1)} s while profiled`,
        '',
        `${s.windowed ? 'Samples of this read only.' : 'Whole process lifetime (the window did not match the profile clock).'} ` +
          `Busy ${fmt(s.busyMs / 1000, 1)} s of ${fmt(s.wallMs / 1000, 1)} s wall, GC ${fmt((100 * s.gcMs) / s.busyMs, 1)}% of busy.`,
        '',
        markdownTable(
          ['function (self time)', 'location', 'self %', 'total %'],
          s.bySelf.slice(0, 15).map((h) => [shortName(h.name), h.where, fmt(100 * h.selfShare, 1), fmt(100 * h.totalShare, 1)]),
          ['left', 'left', 'right', 'right'],
        ),
        '',
        markdownTable(
          ['function (inclusive time)', 'location', 'total %', 'self %'],
          s.byTotal.slice(0, 15).map((h) => [shortName(h.name), h.where, fmt(100 * h.totalShare, 1), fmt(100 * h.selfShare, 1)]),
          ['left', 'left', 'right', 'right'],
        ),
        '',
      );
    }
  }

  out.push(
    '## Figures',
    '',
    markdownTable(
      ['figure', 'value', 'target', 'verdict'],
      r.figures.map((f) => [
        f.name,
        `${fmt(f.value, f.unit === '×' ? 2 : 1)} ${f.unit}`,
        f.target === undefined ? '—' : `${f.target.op === '>=' ? '≥' : '≤'} ${fmt(f.target.value, f.unit === '×' ? 2 : 1)} ${f.unit}`,
        f.target === undefined ? '—' : verdict(f.target.op === '>=' ? f.value >= f.target.value : f.value <= f.target.value),
      ]),
      ['left', 'right', 'left', 'left'],
    ),
    '',
  );

  out.push(
    '## Checks',
    '',
    r.problems.length === 0
      ? `Every read returned every row (counted by the client) with the right command tag; every planted value reached the reader ` +
          'without masking and none reached the reader through masking, where every one was replaced as the profile says; ' +
          'the slow client found the gateway applying backpressure.'
      : `**${r.problems.length} problem(s) — the bench fails:**\n\n${r.problems.map((p) => `- ${p}`).join('\n')}`,
    '',
    '## Every run',
    '',
    markdownTable(
      ['round', 'statement', 'path', 'seconds', 'first byte s', 'rows', 'bytes', ...MARKERS.map((m) => `\`${m.text}\``), 'gateway CPU s', 'gateway peak RSS'],
      r.samples.map((s) => [
        String(s.round),
        LABEL[s.query],
        s.path,
        fmt(s.seconds, 2),
        fmt(s.firstByteSeconds, 3),
        fmt(rowsOf(s.query, s.tally)),
        fmt(s.tally.bytes),
        ...MARKERS.map((_, i) => fmt(s.tally.markers[i] ?? NaN)),
        s.gatewayCpuMs === undefined ? '—' : fmt(s.gatewayCpuMs / 1000, 1),
        s.gatewayPeakRss === undefined ? '—' : mb(s.gatewayPeakRss),
      ]),
      ['right', 'left', 'left', 'right', 'right', 'right', 'right', ...MARKERS.map(() => 'right' as const), 'right', 'right'],
    ),
    '',
    '## Commands',
    '',
    '```sh',
    ...r.commands,
    '```',
    '',
    'Gateway config (generated; the target password comes from the environment):',
    '',
    '```yaml',
    r.configText.trimEnd(),
    '```',
    '',
  );
  return out.join('\n');
}

/** Long names (a RegExp's source) would stretch the table past reading. */
function shortName(name: string): string {
  const flat = name.replace(/\|/g, '\\|');
  return flat.length > 60 ? `${flat.slice(0, 57)}…` : flat;
}

function verdict(met: boolean | undefined): string {
  return met === undefined ? '—' : met ? 'met' : '**missed**';
}
