/** The markdown report of bench:sessions. Pure: everything it shows comes in ReportInput. */
import { targetMet, type Figure } from '../support/report.js';
import { fmt, markdownTable, mb } from '../support/table.js';
import type { IdpCounts } from './idp-requests.js';
import type { TokenCounts } from './metrics.js';
import type { ProbeHeap } from './probe.js';
import { idleCount, idleKib, idleLiveKib, TARGET_IDLE_KIB, verifications, type Check, type ManySessionsResult, type SessionsSettings, type StormResult } from './results.js';
import { distribution } from './stats.js';

export interface ReportInput {
  readonly started: Date;
  readonly settings: SessionsSettings;
  readonly reproduce: string;
  readonly machine: ReadonlyArray<readonly [string, string]>;
  readonly maxConnections: number;
  readonly many: ManySessionsResult;
  readonly storm: StormResult | undefined;
  /** What each storm session ran. */
  readonly stormSql: string;
  /** The storm's TLS certificate, described. */
  readonly cert: string | undefined;
  readonly checks: readonly Check[];
  readonly figures: readonly Figure[];
  readonly commands: readonly string[];
  readonly configText: string;
  /** Lines the gateways printed (warnings, errors), by gateway. */
  readonly gatewayOutput: ReadonlyArray<readonly [string, string]>;
  /** PostgreSQL log lines worth seeing (FATAL, ERROR, WARNING…). */
  readonly postgresLog: readonly string[];
}

const signedMb = (bytes: number): string => `${bytes > 0 ? '+' : ''}${mb(bytes)}`;
const kib = (bytes: number): string => `${fmt(bytes / 1024, 1)} KiB`;
const ms = (value: number): string => `${fmt(value, 1)} ms`;
const heapUsed = (heap: ProbeHeap | undefined): string => (heap === undefined || !heap.collected ? '—' : mb(heap.heapUsed));
const external = (heap: ProbeHeap | undefined): string => (heap === undefined || !heap.collected ? '—' : mb(heap.external));

function endedByText(endedBy: Readonly<Record<string, number>>): string {
  return Object.entries(endedBy).sort(([, a], [, b]) => b - a).map(([by, n]) => `${by} ${fmt(n)}`).join(', ') || 'nothing';
}

function idpText(c: IdpCounts): string {
  return `${c.jwks} JWKS, ${c.discovery} discovery, ${c.token} token, ${c.other} other`;
}

function tokenRow(label: string, t: TokenCounts): string[] {
  const notes = [...(t.refused > 0 ? [`${fmt(t.refused)} refused`] : []), ...(t.keyLoadsFailed > 0 ? [`${fmt(t.keyLoadsFailed)} key loads failed`] : [])];
  return [label, fmt(t.presented), fmt(verifications(t)), fmt(t.cached), fmt(t.shared), fmt(t.keyLoads), notes.join(', ')];
}

export function renderSessionsReport(r: ReportInput): string {
  const s = r.settings;
  const m = r.many;
  const idle = idleCount(s);
  const out: string[] = [];
  const failedChecks = r.checks.filter((c) => !c.ok);

  out.push(
    `# Portcullis many-sessions benchmark — ${r.started.toISOString()}`,
    '',
    `**Phase 1, many sessions:** ${fmt(s.sessions)} concurrent client sessions through one gateway process — ${fmt(idle)} idle ` +
      `(node-postgres clients in a separate process: each completes the handshake — token verified, upstream SCRAM login — ` +
      `then sits idle) and ${fmt(s.active)} active (\`pgbench -S -M ${s.mode} -c ${s.active} -j ${s.threads} -T ${s.seconds}\`, the ` +
      `access token as PGPASSWORD, opened once the idle ones are all open). The gateway opens one upstream PostgreSQL connection ` +
      `per session, so PostgreSQL runs with max_connections=${fmt(r.maxConnections)}.`,
    '',
    s.storm > 0
      ? `**Phase 2, TLS connection storm:** a freshly started gateway (cold: no keys, no verified tokens) with TLS; ${fmt(s.storm)} ` +
          'node-postgres clients in a separate process call connect() at the same instant — TLS with the gateway certificate ' +
          `pinned as the only CA and verified, all with the same access token — each runs \`${r.stormSql}\` and closes (the bench policy refuses even \`SELECT 1\`: ` +
          'reads are allowed on the pgbench tables only).'
      : '**Phase 2, TLS connection storm:** skipped (BENCH_STORM=0).',
    '',
    'Both gateways run `portcullis serve` with the bench policy (the example read-only policy, reads narrowed to the pgbench ' +
      'tables) and recording on; pgbench, PostgreSQL, the clients and the gateway share this machine\'s cores.',
    '',
    `Reproduce: \`${r.reproduce}\``,
    '',
  );

  out.push('## Machine', '', markdownTable(['', ''], r.machine.map(([k, v]) => [k, v])), '');

  out.push(
    '## Key figures',
    '',
    markdownTable(
      ['figure', 'measured', 'target', 'verdict'],
      r.figures.map((f) => {
        const met = targetMet(f);
        return [
          f.name,
          `${fmt(f.value, f.unit === 'KiB' || f.unit === 's' || f.unit === 'ms' ? 1 : 0)}${f.unit ? ` ${f.unit}` : ''}`,
          f.target === undefined ? '—' : `${f.target.op === '<=' ? '≤' : '≥'} ${fmt(f.target.value)}${f.unit ? ` ${f.unit}` : ''}${f.issue ? ` (issue ${f.issue})` : ''}`,
          met === undefined ? (f.target === undefined ? '—' : 'unmeasured') : met ? 'met' : '**missed**',
        ];
      }),
      ['left', 'right', 'left', 'left'],
    ),
    '',
    '## Checks (the bench fails on any FAIL)',
    '',
    markdownTable(['check', 'result', 'detail'], r.checks.map((c) => [c.name, c.ok ? 'PASS' : '**FAIL**', c.detail.replace(/\|/g, '\\|')]), ['left', 'left', 'left']),
    '',
    failedChecks.length === 0 ? 'Every check passed.' : `${failedChecks.length} check(s) failed: ${failedChecks.map((c) => c.name).join('; ')}.`,
    '',
  );

  // Phase 1
  const perIdle = idleKib(m);
  const added = m.idle.rss - m.rssBefore;
  out.push(
    '## Phase 1: many sessions',
    '',
    markdownTable(
      ['moment', 'gateway RSS', 'JS heap used after GC', 'external after GC', 'gateway relaying', 'upstream backends'],
      [
        [`before (after ${m.warmupSessions} warm-up sessions, closed)`, mb(m.rssBefore), heapUsed(m.heap.before), external(m.heap.before), '—', '—'],
        [`${fmt(m.idleOpened)} idle open`, mb(m.idle.rss), heapUsed(m.heap.idle), external(m.heap.idle), fmt(m.idle.gatewaySessions), fmt(m.idle.upstreamBackends)],
        [
          `${fmt(s.sessions)} open (idle + pgbench, halfway through)`,
          m.all ? mb(m.all.rss) : '—',
          '—',
          '—',
          m.all ? fmt(m.all.gatewaySessions) : '—',
          m.all ? fmt(m.all.upstreamBackends) : '—',
        ],
        ['after every session closed', mb(m.rssAfterClose), heapUsed(m.heap.afterClose), external(m.heap.afterClose), '—', '—'],
        ['peak (VmHWM over phase 1)', mb(m.rssPeak), '—', '—', '—', '—'],
      ],
      ['left', 'right', 'right', 'right', 'right', 'right'],
    ),
    '',
    `**Memory per idle session: ${Number.isFinite(perIdle) ? `${fmt(perIdle, 1)} KiB` : 'n/a'}** (target ≤ ${TARGET_IDLE_KIB} KiB) = ` +
      `(RSS with the idle sessions − RSS before) ÷ idle sessions = ${mb(added)} ÷ ${fmt(m.idleOpened)}. Before each settled ` +
      'measurement the bench has the gateway run a full garbage collection (its probe, on SIGUSR2; the gateway runs with ' +
      '--expose-gc), so garbage awaiting collection is not counted as session memory; RSS is then the median of 5 samples of ' +
      '/proc/<pid>/status VmRSS after settling. MB = 10^6 bytes, KiB = 1,024 bytes. It covers each session\'s client side and its ' +
      'upstream connection (sockets, buffers, protocol state). ' +
      (Number.isFinite(idleLiveKib(m))
        ? `Of that, the live JS heap (after GC) grew by ${fmt(idleLiveKib(m), 1)} KiB per idle session. "External" is memory JS ` +
          'objects hold outside the heap, including the SQL parser\'s WebAssembly memory (reserved up front, mostly untouched, so ' +
          'larger than its share of RSS).'
        : 'The live heap after GC was not measured (the probe did not answer).'),
    '',
    ...(m.heap.before?.collected && m.heap.afterClose?.collected
      ? [
          `After every session closed the live JS heap was ${mb(m.heap.afterClose.heapUsed)} against ${mb(m.heap.before.heapUsed)} before ` +
            `(${signedMb(m.heap.afterClose.heapUsed - m.heap.before.heapUsed)}, ${fmt((m.heap.afterClose.heapUsed - m.heap.before.heapUsed) / 1024 / Math.max(1, m.idleOpened + s.active), 1)} KiB ` +
            `per closed session): what closed sessions (and the pgbench run) left alive. RSS beyond the live heap is memory the process ` +
            'keeps from the allocator, not live objects.',
          '',
        ]
      : []),
    `Opening ${fmt(m.idleOpened)} idle sessions (${s.openConcurrency} at a time) took ${fmt(m.openSeconds, 1)} s ` +
      `(${fmt(m.idleOpened / m.openSeconds, 0)} sessions/s).` +
      (m.pgBackends
        ? ` PostgreSQL's side: ${fmt(m.pgBackends.count)} upstream backends, ${mb(m.pgBackends.pssBytes)} PSS in all ` +
          `(${kib(m.pgBackends.count > 0 ? m.pgBackends.pssBytes / m.pgBackends.count : NaN)} each) — what one session costs the target, not the gateway.`
        : ''),
    '',
  );
  const pr = m.pgbench.result;
  out.push(
    markdownTable(
      ['pgbench (active clients)', 'TPS', 'latency avg', 'transactions', 'failed transactions', 'clients failed', 'exit'],
      [[
        `-S -M ${s.mode} -c ${s.active} -j ${s.threads} -T ${s.seconds}`,
        pr ? fmt(pr.tps) : 'n/a',
        pr ? `${pr.latencyMs.toFixed(3)} ms` : 'n/a',
        pr ? fmt(pr.transactions) : 'n/a',
        pr ? fmt(pr.failed) : 'n/a',
        fmt(m.pgbench.clientFailures),
        String(m.pgbench.exitCode ?? 'signal'),
      ]],
      ['left', 'right', 'right', 'right', 'right', 'right', 'right'],
    ),
    '',
    ...(m.pgbench.problem ? ['pgbench said:', '', '```', m.pgbench.problem, '```', ''] : []),
    ...(m.recorded.ok ? [`Recorded: ${fmt(m.recorded.sessions)} sessions, ${fmt(m.recorded.statements)} statements; ended by ${endedByText(m.recorded.endedBy)}.`, ''] : []),
    `Identity during phase 1: the dev IdP served ${idpText(m.idp)} request(s) to the gateway over its whole life ` +
      `(${fmt(m.warmupSessions + m.idleOpened + s.active)} sessions and more presented the token).`,
    '',
  );

  // Phase 2
  if (r.storm) {
    const st = r.storm;
    const c = st.clients;
    const row = (label: string, x: typeof c): string[] => {
      const connect = distribution(x.connectMs);
      const query = distribution(x.queryMs);
      return [
        label,
        `${fmt(x.succeeded)} / ${fmt(x.requested)}`,
        fmt(x.failed),
        ms(x.launchMs),
        `${fmt(x.allAuthenticatedMs / 1000, 2)} s`,
        `${fmt(x.allClosedMs / 1000, 2)} s`,
        `${ms(connect.p50)} / ${ms(connect.p90)} / ${ms(connect.p99)} / ${ms(connect.max)}`,
        `${ms(query.p50)} / ${ms(query.p99)}`,
      ];
    };
    out.push(
      '## Phase 2: TLS connection storm',
      '',
      markdownTable(
        ['target', 'succeeded', 'failed', 'all launched in', 'all authenticated after', 'all closed after', 'connect+auth p50 / p90 / p99 / max', 'query p50 / p99'],
        [
          row('Portcullis, TLS, freshly started', c),
          ...(st.baseline ? [row('PostgreSQL directly, plaintext (baseline)', st.baseline)] : []),
        ],
        ['left', 'right', 'right', 'right', 'right', 'right', 'right', 'right'],
      ),
      '',
      `TLS: ${Object.entries(c.tlsProtocols).map(([p, n]) => `${fmt(n)}× ${p}`).join(', ') || 'none'}; cipher ` +
        `${Object.entries(c.tlsCiphers).map(([p, n]) => `${fmt(n)}× ${p}`).join(', ') || 'none'}. Certificate: ${r.cert ?? 'n/a'}, ` +
        'self-signed, pinned by the clients as their only CA (rejectUnauthorized, name checked against 127.0.0.1).',
      '',
      ...(Object.keys(c.errors).length > 0
        ? ['Failures:', '', markdownTable(['count', 'error'], Object.entries(c.errors).map(([msg, n]) => [fmt(n), msg.replace(/\|/g, '\\|')]), ['right', 'left']), '']
        : []),
      `Connect time is per client, from its connect() call to ReadyForQuery (TCP, TLS handshake, token check, upstream ` +
        `connection and SCRAM login to PostgreSQL). The storm clients run in one Node.js process: their own TLS work is in these times too.` +
        (st.baseline
          ? ' The baseline is the same storm, same client process, straight at PostgreSQL with the target role\'s own password and ' +
            'no TLS: what PostgreSQL alone takes to start that many backends at once (every gateway session needs one too).'
          : ''),
      '',
      ...(st.tokens.verified > 0
        ? [
            `The gateway's ${st.tokens.verified === 1 ? 'one accepted token verification' : `${fmt(st.tokens.verified)} accepted token verifications`} took ` +
              `${ms(st.tokens.verifiedSeconds * 1000)}${st.tokens.verified === 1 ? '' : ' in all'} (in a freshly started gateway it waits for the issuer's discovery ` +
              'document and JWKS); every other arrival waited on it or hit the cache.',
            '',
          ]
        : []),
      `**Identity during the storm:** the dev IdP served ${idpText(st.idpDuring)} request(s) during the storm ` +
        `(${idpText(st.idpBefore)} between the gateway's start and the storm).`,
      '',
      `CPU during the storm (${fmt(c.allClosedMs / 1000, 2)} s until every session closed): the gateway ${fmt(st.gatewayCpuMs / 1000, 2)} s ` +
        `(${fmt(st.gatewayCpuMs / c.allClosedMs * 100, 0)}% of one core), the client process ${fmt(c.cpuMs / 1000, 2)} s, the whole machine ` +
        `${fmt(st.machineBusyMs / 1000, 2)} s (PostgreSQL's backends and anything else running)` +
        (st.baseline ? `; the baseline's client process used ${fmt(st.baseline.cpuMs / 1000, 2)} s.` : '.'),
      '',
      ...(st.recorded.ok ? [`Recorded: ${fmt(st.recorded.sessions)} sessions; ended by ${endedByText(st.recorded.endedBy)}.`, ''] : []),
      `Gateway: RSS ${mb(st.rssBefore)} before, ${mb(st.rssAfter)} after, ${mb(st.rssPeak)} peak; ` +
        (st.listenQueue ? `listen backlog ${fmt(st.listenQueue.backlog)} (ss Send-Q); ` : '') +
        (st.acceptQueue.samples > 0
          ? `accept queue at most ${fmt(st.acceptQueue.deepest)} deep during the storm (${fmt(st.acceptQueue.samples)} samples of /proc/net/tcp, every 25 ms)` +
            `${st.listenQueue !== undefined && st.acceptQueue.deepest >= st.listenQueue.backlog ? ' — full: the gateway\'s own listener dropped connections' : ''}; `
          : '') +
        `portcullis_auth_failures_total ${st.authFailures}; sessions relaying after the storm ${st.gatewaySessionsAfter}.` +
        (st.listen
          ? ` Kernel listen queues (machine-wide, during the storm): ${fmt(st.listen.overflows)} accept-queue overflows, ` +
            `${fmt(st.listen.drops)} drops — a non-zero count means some clients' connections were dropped and retried ` +
            '(a ≥ 1 s SYN retransmission, visible in the p99).'
          : ''),
      '',
    );
  }

  out.push(
    '## Token verification (gateway side)',
    '',
    markdownTable(
      ['window', 'tokens presented', 'verifications', 'cache hits', 'shared in-flight', 'key-set loads', 'note'],
      [tokenRow('phase 1, whole gateway life', m.tokens), ...(r.storm ? [tokenRow('the storm', r.storm.tokens)] : [])],
      ['left', 'right', 'right', 'right', 'right', 'right', 'left'],
    ),
    '',
    'How these are measured. JWKS and discovery requests are counted where they land, in the dev IdP (it runs in the bench ' +
      'process; Node\'s `http.server.request.start` diagnostics channel sees each request). The rest is the gateway\'s own ' +
      'account, scraped from its /metrics (the storm\'s window: before and after it): `portcullis_token_verifications_total{result}` ' +
      'gives tokens presented, "verifications" (`verified` + `refused`: full signature + claims checks, plus refusals before one), ' +
      '"cache hits" (`cached`) and "shared in-flight" (`shared`: concurrent arrivals that waited on one verification already ' +
      'running); `portcullis_issuer_key_loads_total` gives "key-set loads" (discovery when needed, then JWKS); ' +
      '`portcullis_token_verification_duration_seconds` what the accepted verifications took.',
    '',
  );

  if (r.gatewayOutput.some(([, text]) => text.trim() !== '')) {
    out.push('## Gateway output (last lines, log level warn)', '');
    for (const [name, text] of r.gatewayOutput) if (text.trim() !== '') out.push(`${name}:`, '', '```', text.trim(), '```', '');
  }
  if (r.postgresLog.length > 0) out.push('## PostgreSQL log (errors and warnings, last lines)', '', '```', ...r.postgresLog, '```', '');

  out.push('## Commands', '', '```sh', ...r.commands, '```', '', 'Gateway config (generated; the target password comes from the environment; each gateway gets its own listen ports and data_dir):', '', '```yaml', r.configText.trimEnd(), '```', '');
  return out.join('\n');
}
