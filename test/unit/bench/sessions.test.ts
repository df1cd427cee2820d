/** bench:sessions' pure helpers: the arithmetic, the /proc and /metrics parsers, the instruments' readings. */
import { describe, expect, it } from 'vitest';
import { withAdminListener } from '../../../bench/sessions/gateway.js';
import { classifyIdpRequest, countsBetween, DISCOVERY_PATH } from '../../../bench/sessions/idp-requests.js';
import { countsFromMetrics, sumMetric, tokensBetween, type TokenCounts } from '../../../bench/sessions/metrics.js';
import { parseProbeSnapshot } from '../../../bench/sessions/probe.js';
import { acceptQueueLength, kbField, parseLimit, parseNetstat, parseSsListen } from '../../../bench/sessions/proc.js';
import { countRecordedSessions } from '../../../bench/sessions/recorded.js';
import { distribution, kibPerSession, percentile } from '../../../bench/sessions/stats.js';
import { parse } from 'yaml';

describe('percentile (nearest rank)', () => {
  it('picks a value a client really saw, from unsorted input', () => {
    const values = Array.from({ length: 1000 }, (_, i) => 1000 - i); // 1000 … 1
    expect(percentile(values, 50)).toBe(500);
    expect(percentile(values, 99)).toBe(990);
    expect(percentile(values, 100)).toBe(1000);
    expect(percentile(values, 0)).toBe(1);
    expect(percentile([7], 99)).toBe(7);
  });

  it('is NaN for no values and refuses a percentile outside 0–100', () => {
    expect(percentile([], 50)).toBeNaN();
    expect(() => percentile([1], 101)).toThrow(RangeError);
    expect(() => percentile([1], NaN)).toThrow(RangeError);
  });

  it('summarises a distribution', () => {
    expect(distribution([5, 1, 3, 2, 4])).toEqual({ count: 5, p50: 3, p90: 5, p99: 5, max: 5 });
    expect(distribution([]).max).toBeNaN();
  });
});

describe('kibPerSession', () => {
  it('divides the added RSS by the sessions, in KiB', () => {
    expect(kibPerSession(100 * 1024 * 1024, 100 * 1024 * 1024 + 4800 * 20 * 1024, 4800)).toBeCloseTo(20, 10);
  });

  it('gives no figure rather than a false one: no sessions, or no growth', () => {
    expect(kibPerSession(1000, 2000, 0)).toBeNaN();
    expect(kibPerSession(2000, 2000, 10)).toBeNaN();
    expect(kibPerSession(3000, 2000, 10)).toBeNaN();
  });
});

describe('/proc parsers', () => {
  const netstat = [
    'TcpExt: SyncookiesSent ListenOverflows ListenDrops',
    'TcpExt: 0 17 23',
    'IpExt: InNoRoutes InOctets',
    'IpExt: 0 123456',
    '',
  ].join('\n');

  it('pairs /proc/net/netstat names with values per group', () => {
    const stats = parseNetstat(netstat);
    expect(stats.get('TcpExt:ListenOverflows')).toBe(17);
    expect(stats.get('TcpExt:ListenDrops')).toBe(23);
    expect(stats.get('IpExt:InOctets')).toBe(123456);
  });

  it('refuses a layout it does not understand rather than misreading it', () => {
    expect(() => parseNetstat('TcpExt: A B\nIpExt: 1 2\n')).toThrow(/layout/);
    expect(() => parseNetstat('TcpExt: A B\nTcpExt: 1\n')).toThrow(/layout/);
  });

  it('reads kB fields in bytes', () => {
    const status = 'Name:\tnode\nVmHWM:\t  204800 kB\nVmRSS:\t  102400 kB\n';
    expect(kbField(status, 'VmHWM')).toBe(204800 * 1024);
    expect(kbField(status, 'VmRSS')).toBe(102400 * 1024);
    expect(kbField('Rss: 10 kB\nPss:   7 kB\n', 'Pss')).toBe(7 * 1024);
    expect(kbField(status, 'VmSwap')).toBeUndefined();
  });

  it('finds a listener\'s accept queue and backlog in ss output', () => {
    const ss = ['LISTEN 0      2164   127.0.0.1:42611 0.0.0.0:*', 'LISTEN 12     511    127.0.0.1:39981 0.0.0.0:*', 'LISTEN 0 128 [::1]:5432 [::]:*'].join('\n');
    expect(parseSsListen(ss, 39981)).toEqual({ queued: 12, backlog: 511 });
    expect(parseSsListen(ss, 5432)).toEqual({ queued: 0, backlog: 128 });
    expect(parseSsListen(ss, 3998)).toBeUndefined();
  });

  it('reads a listener\'s accept queue from /proc/net/tcp, ignoring connections on the same port', () => {
    const tcp = [
      '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
      '   0: 0100007F:9C41 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 0 1 0',
      '   1: 0100007F:9C41 00000000:0000 0A 00000000:000001FF 00:00000000 00000000     0        0 647 1 0',
      '   2: 00000000:07E8 00000000:0000 0A 00000000:00000003 00:00000000 00000000     0        0 648 1 0',
    ].join('\n');
    expect(acceptQueueLength(tcp, 0x9c41)).toBe(511);
    expect(acceptQueueLength(tcp, 2024)).toBe(3);
    expect(acceptQueueLength(tcp, 5432)).toBeUndefined();
  });

  it('reads a soft limit from /proc/<pid>/limits', () => {
    const limits = [
      'Limit                     Soft Limit           Hard Limit           Units     ',
      'Max processes             96365                96365                processes ',
      'Max open files            20000                40000                files     ',
      'Max locked memory         unlimited            unlimited            bytes     ',
    ].join('\n');
    expect(parseLimit(limits, 'Max open files')).toBe(20000);
    expect(parseLimit(limits, 'Max locked memory')).toBe(Infinity);
    expect(parseLimit(limits, 'Max nice priority')).toBeUndefined();
  });
});

describe('gateway /metrics', () => {
  const text = [
    '# HELP portcullis_sessions_active Sessions relaying right now.',
    '# TYPE portcullis_sessions_active gauge',
    'portcullis_sessions_active{protocol="postgres",connection="bench"} 4800',
    'portcullis_sessions_active{protocol="postgres",connection="other"} 200',
    'portcullis_sessions_active{protocol="ssh",connection="box"} 3',
    'portcullis_sessions_active_extra{protocol="postgres"} 99',
    'portcullis_auth_failures_total{protocol="postgres",reason="invalid-token"} 2',
    'portcullis_auth_failures_total{protocol="postgres",reason="access-denied"} 1',
    'portcullis_auth_failures_total{protocol="ssh",reason="protocol"} 5',
    'portcullis_odd{protocol="postgres",connection="we}ird \\"one\\""} 4',
    'portcullis_token_verifications_total{result="cached",reason=""} 900',
    'portcullis_token_verifications_total{result="shared",reason=""} 97',
    'portcullis_token_verifications_total{result="verified",reason=""} 2',
    'portcullis_token_verifications_total{result="refused",reason="malformed"} 1',
    'portcullis_token_verifications_total{result="refused",reason="expired"} 3',
    'portcullis_token_verification_duration_seconds_bucket{le="+Inf"} 2',
    'portcullis_token_verification_duration_seconds_sum 0.25',
    'portcullis_token_verification_duration_seconds_count 2',
    'portcullis_issuer_key_loads_total{issuer="http://127.0.0.1:1",result="ok"} 1',
    'portcullis_issuer_key_loads_total{issuer="http://127.0.0.1:1",result="failed"} 2',
  ].join('\n');

  it('sums the samples whose labels match, and only that metric', () => {
    expect(sumMetric(text, 'portcullis_sessions_active', { protocol: 'postgres' })).toBe(5000);
    expect(sumMetric(text, 'portcullis_sessions_active')).toBe(5003);
    expect(sumMetric(text, 'portcullis_sessions_active', { protocol: 'postgres', connection: 'bench' })).toBe(4800);
    expect(sumMetric(text, 'portcullis_odd', { connection: 'we}ird "one"' })).toBe(4);
    expect(sumMetric(text, 'portcullis_missing')).toBeUndefined();
  });

  it('reads the counts the bench checks, and names a series that went missing', () => {
    expect(countsFromMetrics(text)).toEqual({
      sessionsActive: 5000,
      authFailures: 3,
      tokens: { presented: 1003, cached: 900, shared: 97, verified: 2, refused: 4, keyLoads: 3, keyLoadsFailed: 2, verifiedSeconds: 0.25 },
    });
    for (const name of ['portcullis_auth_failures_total', 'portcullis_token_verifications_total', 'portcullis_issuer_key_loads_total', 'portcullis_token_verification_duration_seconds_sum']) {
      expect(() => countsFromMetrics(text.replaceAll(name, 'renamed'))).toThrow(name);
    }
    expect(() => countsFromMetrics(text.replace('result="shared"', 'result="joined"'))).toThrow(/portcullis_token_verifications_total/);
  });

  it('takes the token verifier\'s counts over a window', () => {
    const counts = (over: Partial<TokenCounts>): TokenCounts => ({ presented: 0, cached: 0, shared: 0, verified: 0, refused: 0, keyLoads: 0, keyLoadsFailed: 0, verifiedSeconds: 0, ...over });
    const before = counts({ presented: 321, cached: 304, shared: 16, verified: 1, keyLoads: 1, verifiedSeconds: 0.05 });
    const after = counts({ presented: 1321, cached: 1210, shared: 109, verified: 2, keyLoads: 1, verifiedSeconds: 0.35 });
    const window = tokensBetween(before, after);
    expect(window).toEqual(counts({ presented: 1000, cached: 906, shared: 93, verified: 1, verifiedSeconds: window.verifiedSeconds }));
    expect(window.verifiedSeconds).toBeCloseTo(0.3, 10);
  });
});

describe('IdP request counting', () => {
  const paths = { jwks: '/jwks', token: '/token' };

  it('tells JWKS fetches from discovery, token and other requests', () => {
    expect(classifyIdpRequest('/jwks', paths)).toBe('jwks');
    expect(classifyIdpRequest('/jwks/?x=1', paths)).toBe('jwks');
    expect(classifyIdpRequest(DISCOVERY_PATH, paths)).toBe('discovery');
    expect(classifyIdpRequest('/token', paths)).toBe('token');
    expect(classifyIdpRequest('/jwks-old', paths)).toBe('other');
    expect(classifyIdpRequest('/', paths)).toBe('other');
  });

  it('subtracts snapshots kind by kind', () => {
    expect(countsBetween({ discovery: 1, jwks: 1, token: 3, other: 0 }, { discovery: 2, jwks: 5, token: 3, other: 1 })).toEqual({ discovery: 1, jwks: 4, token: 0, other: 1 });
  });
});

describe('heap probe snapshots', () => {
  it('validates a snapshot, with or without a collection, and names what is wrong', () => {
    expect(parseProbeSnapshot(JSON.stringify({ pid: 42 }))).toEqual({ pid: 42 });
    const heap = { seq: 1, collected: true, heapUsed: 10, heapTotal: 20, external: 5, arrayBuffers: 2, rss: 100 };
    expect(parseProbeSnapshot(JSON.stringify({ pid: 42, heap }))).toEqual({ pid: 42, heap });
    const { heapUsed: _dropped, ...partial } = heap;
    expect(() => parseProbeSnapshot(JSON.stringify({ pid: 42, heap: partial }))).toThrow(/heap\.heapUsed/);
    expect(() => parseProbeSnapshot('[]')).toThrow(/not a heap-probe snapshot/);
  });
});

describe('recorded sessions', () => {
  it('counts sessions and statements from `sessions list --json`, and refuses another shape', () => {
    const list = [{ id: 'a', statements: 3, endedBy: 'client' }, { id: 'b', statements: 0, endedBy: 'upstream' }, { id: 'c', statements: 1, endedBy: 'client' }, { id: 'd', statements: 0, endedBy: null }];
    expect(countRecordedSessions(JSON.stringify(list))).toEqual({ sessions: 4, statements: 4, endedBy: { client: 2, upstream: 1, open: 1 } });
    expect(countRecordedSessions('[]')).toEqual({ sessions: 0, statements: 0, endedBy: {} });
    expect(() => countRecordedSessions('{}')).toThrow(/array/);
    expect(() => countRecordedSessions(JSON.stringify([{ id: 'a' }]))).toThrow(/statements/);
  });
});

describe('withAdminListener', () => {
  it('adds a loopback admin listener to a generated config and keeps the rest', () => {
    const text = withAdminListener('data_dir: /tmp/x\nlisten:\n  postgres:\n    address: 127.0.0.1:5000\n', 6481, 'agents');
    const doc = parse(text) as Record<string, unknown>;
    expect(doc['admin']).toEqual({ listen: '127.0.0.1:6481', auditors: ['agents'] });
    expect(doc['data_dir']).toBe('/tmp/x');
    expect(() => withAdminListener(text, 6482, 'agents')).toThrow(/already/);
  });
});
