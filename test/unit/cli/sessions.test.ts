import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { join } from 'node:path';
import { formatElapsed, parseSince, sessionTable } from '../../../src/cli/sessions.js';
import type { ChainRecorder } from '../../../src/recording/chain-recorder.js';
import { eventHash } from '../../../src/recording/chain.js';
import { listSessions } from '../../../src/recording/session-query.js';
import { SqliteStore } from '../../../src/recording/sqlite-store.js';
import type { EventRow } from '../../../src/recording/store.js';
import { fullSession, open, removeTempDirs, startSession, statement, tempDataDir } from '../recording/support.js';
import { runCli } from './run-cli.js';

const run = runCli;

/**
 * The recorder stays open (as a running gateway's would): s-a ended by the client, s-b still
 * open with one refused statement, s-c on connection prod ended by token expiry. The fake
 * clock advances 1 s per reading from 2025-01-01T00:00:00Z.
 */
let dir: string;
let recorder: ChainRecorder;

beforeAll(() => {
  dir = tempDataDir();
  recorder = open(dir);
  fullSession(recorder, 's-a'); // 00:00:02 – 00:00:09
  startSession(recorder, 's-b', 'agent-2'); // 00:00:11
  statement(recorder, 's-b', 'SELECT 1');
  recorder.operation({ sessionId: 's-b', via: 'simple-query', text: 'DELETE FROM orders\nWHERE true', effect: 'deny', rule: 'no-deletes', reason: 'deletes are refused' });
  recorder.sessionStarted({
    sessionId: 's-c',
    protocol: 'postgres',
    connection: 'prod',
    identity: { subject: 'agent-1', clientId: undefined, groups: [] },
    clientAddress: '10.0.0.5:41000',
    tls: false,
  }); // 00:00:15
  const seq = recorder.operation({ sessionId: 's-c', via: 'parse', text: 'UPDATE t SET a = $1', parameters: ['7', null], effect: 'allow', rule: 'writes-ok', reason: 'ok' });
  recorder.outcome({ sessionId: 's-c', operationSeq: seq, durationMs: 4, error: { code: '42P01', message: 'relation "t" does not exist' } });
  recorder.sessionEnded({ sessionId: 's-c', endedBy: 'token-expiry', reason: 'the token expired' }); // 00:00:18
});

afterAll(() => {
  recorder.close();
  removeTempDirs();
});

const HEADER = 'ID   STARTED (UTC)         DURATION  CONNECTION  SUBJECT  CLIENT  STMTS  REFUSED  ENDED BY';
const ROW_A = 's-a  2025-01-01 00:00:02Z  7s        demo        agent-1  ci-bot      3        0  client';
const ROW_B = 's-b  2025-01-01 00:00:11Z  open      demo        agent-2  ci-bot      2        1  -';
const ROW_C = 's-c  2025-01-01 00:00:15Z  3s        prod        agent-1  -           1        0  token-expiry';

describe('portcullis sessions list', () => {
  it('prints one line per session, oldest first, while the gateway is writing', async () => {
    const r = await run('sessions', 'list', '--data-dir', dir);
    expect(r).toEqual({ code: 0, stdout: `${HEADER}\n${ROW_A}\n${ROW_B}\n${ROW_C}\n`, stderr: '' });
  });

  it('filters by connection, subject, start time and decision', async () => {
    const lines = async (...args: string[]): Promise<string[]> => {
      const r = await run('sessions', 'list', '-d', dir, ...args);
      expect(r.code).toBe(0);
      return r.stdout.split('\n').filter((line) => line !== '' && line !== HEADER);
    };
    expect(await lines('--connection', 'prod')).toEqual([ROW_C]);
    expect(await lines('--subject', 'agent-1')).toEqual([ROW_A, ROW_C]);
    expect(await lines('--subject', 'agent-1', '--connection', 'demo')).toEqual([ROW_A]);
    expect(await lines('--since', '2025-01-01T00:00:11Z')).toEqual([ROW_B, ROW_C]);
    expect(await lines('--since', '100000d')).toEqual([ROW_A, ROW_B, ROW_C]);
    expect(await lines('--decision', 'deny')).toEqual([ROW_B]);
    const none = await run('sessions', 'list', '-d', dir, '--since', '1d');
    expect(none).toEqual({ code: 0, stdout: '', stderr: 'no sessions match\n' });
  });

  it('--json prints an array of summaries', async () => {
    const r = await run('sessions', 'list', '-d', dir, '--json', '--subject', 'agent-2');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([
      {
        id: 's-b',
        protocol: 'postgres',
        connection: 'demo',
        subject: 'agent-2',
        clientId: 'ci-bot',
        groups: ['agents'],
        clientAddress: '127.0.0.1:50000',
        tls: true,
        startedAt: '2025-01-01T00:00:11.000Z',
        endedAt: null,
        endedBy: null,
        endReason: null,
        durationMs: null,
        events: 4,
        statements: 2,
        refused: 1,
        decisions: { allow: 1, deny: 1, review: 0 },
      },
    ]);
    expect(JSON.parse((await run('sessions', 'list', '-d', dir, '--json', '--connection', 'nope')).stdout)).toEqual([]);
  });

  it('exits 2 on a bad command line, 1 without recordings', async () => {
    vi.stubEnv('PORTCULLIS_CONFIG', '');
    try {
      expect((await run('sessions', 'list')).stderr).toContain('no data directory: give --data-dir DIR, --config FILE or set PORTCULLIS_CONFIG');
    } finally {
      vi.unstubAllEnvs();
    }
    const since = await run('sessions', 'list', '-d', dir, '--since', 'yesterday');
    expect(since.code).toBe(2);
    expect(since.stderr).toContain('--since "yesterday": expected a duration back from now');
    expect((await run('sessions', 'list', '-d', dir, '--since', '2025-13-45')).stderr).toContain('not a valid ISO 8601 time');
    expect((await run('sessions', 'list', '-d', dir, '--decision', 'maybe')).code).toBe(2);
    expect((await run('sessions', 'list', '-d', dir, 'extra')).code).toBe(2);
    expect((await run('sessions', 'list', '-d', dir, '--frobnicate')).code).toBe(2);
    expect((await run('sessions', 'list', '-d', 'a', '-c', 'b')).stderr).toContain('not both');
    const empty = await run('sessions', 'list', '-d', tempDataDir());
    expect(empty.code).toBe(1);
    expect(empty.stderr).toMatch(/no recordings in .* \(no portcullis\.db\)/);
  });

  it('fits the table to the terminal width by cutting the widest columns', () => {
    const store = SqliteStore.open(dir, { readonly: true });
    const sessions = store.snapshot(() => listSessions(store));
    store.close();
    const long = sessions.map((s) => ({ ...s, subject: 'service-account:very-long-subject-name@example.com' }));
    const wide = sessionTable(long, undefined);
    expect(wide.split('\n')[1]).toContain('service-account:very-long-subject-name@example.com');
    const fitted = sessionTable(long, 100).trimEnd().split('\n');
    for (const line of fitted) expect(line.length).toBeLessThanOrEqual(100);
    expect(fitted[1]).toBe('s-a  2025-01-01 00:00:02Z  7s        demo        service-acco…  ci-bot      3        0  client');
  });

  it('parses --since and formats durations', () => {
    const now = Date.UTC(2025, 5, 1, 12);
    expect(parseSince('1h30m', now)).toBe(now - 5_400_000);
    expect(parseSince('2025-06-01', now)).toBe(Date.UTC(2025, 5, 1));
    expect(parseSince('2025-06-01T10:00:00+02:00', now)).toBe(Date.UTC(2025, 5, 1, 8));
    expect([850, 7000, 90_000, 3_600_000, 7_530_000, 97_200_000].map(formatElapsed)).toEqual(['850ms', '7s', '1m30s', '1h', '2h5m', '1d3h']);
  });
});

describe('portcullis sessions show', () => {
  it('prints the transcript: start, each statement with its decision and outcome, the end', async () => {
    const r = await run('sessions', 'show', 's-c', '-d', dir);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(
      [
        'Session s-c: agent-1',
        '  connection prod (postgres) from 10.0.0.5:41000 (no TLS)',
        '  started 2025-01-01 00:00:15Z, ended 2025-01-01 00:00:18Z by token-expiry after 3s; 1 statement, 0 refused',
        '',
        '   +1.000s  ALLOW   [rule writes-ok]',
        '                    UPDATE t SET a = $1',
        '                    parameters: $1="7", $2=NULL',
        '   +2.000s          → ERROR 42P01: relation "t" does not exist, 4 ms',
        '   +3.000s  END     by token-expiry: the token expired',
        '',
      ].join('\n'),
    );
  });

  it('shows refusals with their reason, and an open session so far; several ids in order', async () => {
    const r = await run('sessions', 'show', 's-b', 's-a', '-d', dir);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(
      [
        'Session s-b: agent-2, client ci-bot, groups agents',
        '  connection demo (postgres) from 127.0.0.1:50000 (TLS)',
        '  started 2025-01-01 00:00:11Z, still open; 2 statements, 1 refused',
        '',
        '   +1.000s  ALLOW   [rule reads-ok]',
        '                    SELECT 1',
        '   +2.000s          → SELECT 1, 1 row, 10 bytes, 2 ms',
        '   +3.000s  DENY    [rule no-deletes: deletes are refused]',
        '                    DELETE FROM orders',
        '                    WHERE true',
        '            (open: recorded so far)',
        '',
        'Session s-a: agent-1, client ci-bot, groups agents',
      ].join('\n'),
    );
    expect(r.stdout).toMatch(/ {3}\+7\.000s {2}END {5}by client: client disconnected\n$/);
  });

  it('an unknown id exits 1 with a clear message (and the known ones are still printed)', async () => {
    const r = await run('sessions', 'show', 'nope', '-d', dir);
    expect(r).toEqual({
      code: 1,
      stdout: '',
      stderr: `portcullis sessions show: no session "nope" in ${join(dir, 'portcullis.db')} (see "portcullis sessions list")\n`,
    });
    const mixed = await run('sessions', 'show', 's-a', 'nope', '-d', dir);
    expect(mixed.code).toBe(1);
    expect(mixed.stdout).toMatch(/^Session s-a:/);
    expect(mixed.stderr).toContain('no session "nope"');
  });

  it('--json prints the events with parsed payloads', async () => {
    const r = await run('sessions', 'show', 's-b', '-d', dir, '--json');
    expect(r.code).toBe(0);
    const events = JSON.parse(r.stdout) as { sessionId: string; seq: number; time: string; type: string; payload: Record<string, unknown> }[];
    expect(events.map((e) => `${e.seq} ${e.type}`)).toEqual(['1 session-start', '2 operation', '3 outcome', '4 operation']);
    expect(events[0]).toEqual({
      sessionId: 's-b',
      seq: 1,
      time: '2025-01-01T00:00:11.000Z',
      type: 'session-start',
      payload: { protocol: 'postgres', connection: 'demo', identity: { subject: 'agent-2', clientId: 'ci-bot', groups: ['agents'] }, clientAddress: '127.0.0.1:50000', tls: true },
    });
    expect(events[3]?.payload).toMatchObject({ effect: 'deny', rule: 'no-deletes', text: 'DELETE FROM orders\nWHERE true' });
  });

  it('exits 2 without an id', async () => {
    const r = await run('sessions', 'show', '-d', dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('give the id of the session to show');
  });
});

describe('portcullis sessions export', () => {
  it('writes one JSON event per line, exactly as stored: the hash chain recomputes', async () => {
    const r = await run('sessions', 'export', 's-a', '--format', 'jsonl', '-d', dir);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout.endsWith('\n')).toBe(true);
    const rows = r.stdout.trimEnd().split('\n').map((line) => JSON.parse(line) as EventRow);
    expect(rows.map((row) => row.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(Object.keys(rows[0] as EventRow)).toEqual(['sessionId', 'seq', 'time', 'type', 'payload', 'prevHash', 'hash']);
    expect(rows[7]).toMatchObject({ sessionId: 's-a', type: 'session-end', time: Date.UTC(2025, 0, 1, 0, 0, 9), payload: '{"endedBy":"client","reason":"client disconnected"}' });
    for (const [i, row] of rows.entries()) {
      expect(row.hash).toBe(eventHash(row));
      if (i > 0) expect(row.prevHash).toBe(rows[i - 1]?.hash);
    }
  });

  it('defaults to jsonl, refuses other formats, exits 1 for an unknown id', async () => {
    const plain = await run('sessions', 'export', 's-b', '-d', dir);
    expect(plain.code).toBe(0);
    expect(plain.stdout.trimEnd().split('\n')).toHaveLength(4);
    const csv = await run('sessions', 'export', 's-b', '-f', 'csv', '-d', dir);
    expect(csv.code).toBe(2);
    expect(csv.stderr).toContain('--format "csv": expected "jsonl" or "asciicast"');
    const unknown = await run('sessions', 'export', 'nope', '-d', dir);
    expect(unknown.code).toBe(1);
    expect(unknown.stdout).toBe('');
    expect(unknown.stderr).toContain('portcullis sessions export: no session "nope" in');
  });
});

describe('sessions --help', () => {
  it.each([
    ['list', ['--connection NAME', '--subject SUBJECT', '--since WHEN', '--decision EFFECT', '--json', '--data-dir DIR', 'Exit status: 0', 'Examples:']],
    ['show', ['ID...', '--json', '--config FILE', 'Exit status: 0', 'Examples:']],
    ['export', ['--format FORMAT', 'prevHash', 'Exit status: 0', 'Examples:']],
  ])('sessions %s --help documents its options and examples', async (name, texts) => {
    const r = await run('sessions', name, '--help');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^Usage: portcullis sessions ${name}`));
    for (const text of texts) expect(r.stdout).toContain(text);
  });

  it('the top-level help lists the commands', async () => {
    const r = await run('--help');
    for (const name of ['sessions list', 'sessions show', 'sessions export']) expect(r.stdout).toContain(`  ${name} `);
  });
});

describe('portcullis sessions show: hostile recorded text', () => {
  it('prints terminal escapes and bidirectional overrides escaped, never raw', async () => {
    const hostileDir = tempDataDir();
    const rec = open(hostileDir);
    try {
      startSession(rec, 's-x');
      const seq = rec.operation({
        sessionId: 's-x',
        via: 'bind',
        text: "SELECT 1 -- \x1b]0;pwned\x07\nWHERE x = '\u202eevil'",
        parameters: ['\x1b[2J', { base64: 'AA==' }],
        effect: 'allow',
        rule: 'reads-ok',
        reason: 'ok',
      });
      rec.outcome({ sessionId: 's-x', operationSeq: seq, durationMs: 1, error: { code: 'XX000', message: 'bad \x1b[31mred' } });
    } finally {
      rec.close();
    }
    const r = await run('sessions', 'show', 's-x', '-d', hostileDir);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toMatch(/[\x1b\x07\u202e]/u);
    expect(r.stdout).toContain('SELECT 1 -- \\x1b]0;pwned\\x07');
    expect(r.stdout).toContain("WHERE x = '\\u202eevil'");
    expect(r.stdout).toContain('parameters: $1="\\u001b[2J", $2={"base64":"AA=="}');
    expect(r.stdout).toContain('ERROR XX000: bad \\x1b[31mred');
  });
});

describe('portcullis sessions show: recorded result rows', () => {
  it('prints them under the outcome as an aligned table of escaped values, and --json has them as recorded', async () => {
    const rowsDir = tempDataDir();
    const rec = open(rowsDir);
    const resultRows = [
      ['1', '[EMAIL]', null],
      ['2', 'evil\u001b[2J\u202e', { base64: 'AAH/' }],
      ['3', { text: 'abc', totalChars: 9000 }, { base64: 'AAE=', totalBytes: 900 }],
    ];
    try {
      startSession(rec, 's-rows');
      const seq = rec.operation({ sessionId: 's-rows', via: 'simple-query', text: 'SELECT id, email, photo FROM customers', effect: 'allow', rule: 'reads-ok', reason: 'ok' });
      rec.outcome({ sessionId: 's-rows', operationSeq: seq, command: 'SELECT 50', rows: 50, bytes: 900, columns: ['id', 'email', 'photo'], resultRows, durationMs: 7 });
    } finally {
      rec.close();
    }
    const r = await run('sessions', 'show', 's-rows', '-d', rowsDir);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toMatch(/[\x1b\u202e]/u);
    const indent = ' '.repeat(20);
    expect(r.stdout).toContain(
      [
        '   +2.000s          → SELECT 50, 50 rows, 900 bytes, 7 ms',
        ' id |       email       |  photo',
        '----+-------------------+----------',
        ' 1  | [EMAIL]           | NULL',
        ' 2  | evil\\x1b[2J\\u202e | \\x0001ff',
        ' 3  | abc…              | \\x0001…',
        '(first 3 of 50 rows recorded)',
      ]
        .map((line, i) => (i === 0 ? line : `${indent}${line}`))
        .join('\n'),
    );
    const json = JSON.parse((await run('sessions', 'show', 's-rows', '-d', rowsDir, '--json')).stdout) as { type: string; payload: Record<string, unknown> }[];
    expect(json.find((e) => e.type === 'outcome')?.payload['resultRows']).toEqual(resultRows);
  });
});
