import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { CliIo } from '../../../src/cli/command.js';
import { createReplayCommand, type Sleep } from '../../../src/cli/replay.js';
import type { ChainRecorder } from '../../../src/recording/chain-recorder.js';
import { openRecorder } from '../../../src/recording/sqlite-recorder.js';
import { removeTempDirs, tempDataDir } from '../recording/support.js';
import { runCli } from './run-cli.js';

const T0 = Date.UTC(2025, 0, 1, 9, 0, 0);

/**
 * Recorded with the real recorder, left open as a running gateway's would be: r-1 (ended by
 * the client after 32 s, with a 28 s idle gap) and r-open (still open). `at(ms)` sets the
 * clock for the next event.
 */
let dir: string;
let recorder: ChainRecorder;

beforeAll(() => {
  let now = T0;
  const at = (ms: number): void => void (now = T0 + ms);
  dir = tempDataDir();
  recorder = openRecorder(dir, { now: () => now });
  for (const id of ['r-1', 'r-open']) {
    recorder.sessionStarted({
      sessionId: id,
      protocol: 'postgres',
      connection: 'prod',
      identity: { subject: 'agent-7', clientId: 'ci-bot', groups: ['agents'] },
      clientAddress: '10.0.0.5:41000',
      tls: true,
    });
  }
  at(1500);
  const select = recorder.operation({ sessionId: 'r-1', via: 'simple-query', text: 'SELECT id, total FROM orders;', effect: 'allow', rule: 'reads-ok', reason: 'reads are allowed' });
  at(1520);
  recorder.outcome({ sessionId: 'r-1', operationSeq: select, command: 'SELECT 2', rows: 2, bytes: 40, columns: ['id', 'total'], durationMs: 18 });
  at(30_000);
  const update = recorder.operation({
    sessionId: 'r-1',
    via: 'bind',
    text: 'UPDATE orders\n   SET note = $1\n WHERE id = $2',
    parameters: ['größer €5', '7'],
    effect: 'allow',
    rule: 'writes-ok',
    reason: 'writes are allowed',
  });
  at(30_004);
  recorder.outcome({ sessionId: 'r-1', operationSeq: update, durationMs: 4, error: { code: '42703', message: 'column "note" does not exist' } });
  at(31_000);
  recorder.operation({ sessionId: 'r-1', via: 'simple-query', text: 'DELETE FROM orders', effect: 'deny', rule: 'no-deletes', reason: 'deletes are refused' });
  at(32_000);
  recorder.sessionEnded({ sessionId: 'r-1', endedBy: 'client', reason: 'client disconnected' });
  at(40_000);
  recorder.operation({ sessionId: 'r-open', via: 'simple-query', text: 'SELECT 1', effect: 'allow', rule: 'reads-ok', reason: 'reads are allowed' });
});

afterAll(() => {
  recorder.close();
  removeTempDirs();
});

const TRANSCRIPT = [
  'Session r-1: agent-7, client ci-bot, groups agents',
  'connection prod (postgres) from 10.0.0.5:41000, TLS',
  'started 2025-01-01T09:00:00.000Z',
  '',
  'prod=> SELECT id, total FROM orders;',
  '(2 rows)',
  'Time: 18 ms',
  '',
  'prod=> UPDATE orders',
  'prod->    SET note = $1',
  'prod->  WHERE id = $2',
  "parameters: $1 = 'größer €5', $2 = '7'",
  'ERROR:  42703: column "note" does not exist',
  'Time: 4 ms',
  '',
  'prod=> DELETE FROM orders',
  'DENIED by rule no-deletes: deletes are refused',
  '',
  'Session ended by client: client disconnected (2025-01-01T09:00:32.000Z, after 32.000s)',
  '',
].join('\n');

/** Runs the command with a sleep that only notes what it was asked, interleaved with the output. */
async function runPaced(argv: string[], onSleep: (ms: number) => void = () => {}, signal = new AbortController().signal): Promise<{ code: number; log: string[]; stderr: string }> {
  const log: string[] = [];
  let stderr = '';
  const sleep: Sleep = async (ms) => {
    log.push(`sleep ${ms}`);
    onSleep(ms);
  };
  const command = createReplayCommand(sleep);
  const io: CliIo = { out: (text) => void log.push(text), err: (text) => void (stderr += text) };
  const args = parseArgs({ args: argv, options: command.options, allowPositionals: true, strict: true });
  const code = await command.run(args, io, signal);
  return { code, log, stderr };
}

describe('portcullis replay', () => {
  it('--no-wait prints the whole psql-like transcript at once', async () => {
    expect(await runCli('replay', 'r-1', '-d', dir, '--no-wait')).toEqual({ code: 0, stdout: TRANSCRIPT, stderr: '' });
  });

  it('waits the recorded gaps divided by --speed, each capped by --max-idle, before printing each step', async () => {
    const { code, log } = await runPaced(['r-1', '-d', dir, '--speed', '10']);
    expect(code).toBe(0);
    // Gaps 1500, 20, 28480, 4, 996, 1000 ms at 10×: the 2848 ms idle gap capped at 2 s, 0.4 ms rounds to no wait.
    expect(log.filter((line) => line.startsWith('sleep'))).toEqual(['sleep 150', 'sleep 2', 'sleep 2000', 'sleep 100', 'sleep 100']);
    expect(log.slice(0, 4)).toEqual([`${TRANSCRIPT.split('\n\n')[0]}\n`, 'sleep 150', '\nprod=> SELECT id, total FROM orders;\n', 'sleep 2']);
    expect(log.filter((line) => !line.startsWith('sleep')).join('')).toBe(TRANSCRIPT);

    const slow = await runPaced(['r-1', '-d', dir, '--speed', '0.5', '--max-idle', '2.5']);
    expect(slow.log.filter((line) => line.startsWith('sleep'))).toEqual(['sleep 2500', 'sleep 40', 'sleep 2500', 'sleep 8', 'sleep 1992', 'sleep 2000']);
    const requested = (await runPaced(['r-1', '-d', dir])).log.filter((line) => line.startsWith('sleep')).map((line) => Number(line.slice(6)));
    expect(requested.reduce((sum, ms) => sum + ms, 0)).toBe(1500 + 20 + 2000 + 4 + 996 + 1000);
    expect((await runPaced(['r-1', '-d', dir, '--no-wait'])).log.some((line) => line.startsWith('sleep'))).toBe(false);
  });

  it('plays with real waits too (fast), the same transcript', async () => {
    expect(await runCli('replay', 'r-1', '-d', dir, '--speed', '1000', '--max-idle', '0.01')).toEqual({ code: 0, stdout: TRANSCRIPT, stderr: '' });
  });

  it('stops at Ctrl-C, exiting 0', async () => {
    const controller = new AbortController();
    let sleeps = 0;
    const r = await runPaced(['r-1', '-d', dir], () => void (++sleeps === 2 && controller.abort()), controller.signal);
    expect(r.code).toBe(0);
    expect(r.log).toEqual([`${TRANSCRIPT.split('\n\n')[0]}\n`, 'sleep 1500', '\nprod=> SELECT id, total FROM orders;\n', 'sleep 20']);
    expect(r.stderr).toBe('portcullis replay: stopped\n');
  });

  it('replays an open session as far as it is recorded', async () => {
    const r = await runCli('replay', 'r-open', '-d', dir, '--no-wait');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/\n\nprod=> SELECT 1\n\n\(session still open: replayed what is recorded so far\)\n$/);
  });

  it('--json prints the steps as JSON lines, with the paced delays', async () => {
    const r = await runCli('replay', 'r-1', '-d', dir, '--json', '--speed', '2');
    expect(r.code).toBe(0);
    const steps = r.stdout.trimEnd().split('\n').map((line) => JSON.parse(line) as { delayMs: number; seq: number | null; text: string });
    expect(steps.map((step) => [step.seq, step.delayMs])).toEqual([[1, 0], [2, 750], [3, 10], [4, 2000], [5, 2], [6, 498], [7, 500]]);
    expect(steps[5]?.text).toBe('\nprod=> DELETE FROM orders\nDENIED by rule no-deletes: deletes are refused');
    expect(`${steps.map((step) => step.text).join('\n')}\n`).toBe(TRANSCRIPT);
  });

  it('exits 1 for an unknown session or no recordings, 2 on a bad command line', async () => {
    expect(await runCli('replay', 'nope', '-d', dir)).toEqual({
      code: 1,
      stdout: '',
      stderr: `portcullis replay: no session "nope" in ${join(dir, 'portcullis.db')} (see "portcullis sessions list")\n`,
    });
    const empty = await runCli('replay', 'r-1', '-d', tempDataDir());
    expect(empty.code).toBe(1);
    expect(empty.stderr).toMatch(/no recordings in .* \(no portcullis\.db\)/);
    const usage = async (args: string[], message: string): Promise<void> => {
      const r = await runCli('replay', ...args);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toContain(message);
    };
    await usage(['-d', dir], 'give the id of the session to replay');
    await usage(['r-1', 'r-open', '-d', dir], 'unexpected argument "r-open": replay plays one session at a time');
    await usage(['r-1', '-d', dir, '--speed', '0'], '--speed "0": expected a number greater than 0 (2 plays twice as fast, 0.5 at half speed); to print everything at once use --no-wait');
    await usage(['r-1', '-d', dir, '--speed', 'fast'], '--speed "fast": expected a number greater than 0');
    await usage(['r-1', '-d', dir, '--speed', 'Infinity'], '--speed "Infinity"');
    await usage(['r-1', '-d', dir, '--max-idle', '0'], '--max-idle "0": expected a number of seconds greater than 0');
    await usage(['r-1', '-d', dir, '--max-idle', '2s'], '--max-idle "2s"');
    await usage(['r-1', '-d', dir, '--sped', '2'], '--sped');
  });

  it('--help documents the options, and the top-level help lists the command', async () => {
    const help = await runCli('replay', '--help');
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: portcullis replay ID/);
    for (const text of ['--speed N', '--max-idle SECONDS', '--no-wait', '--json', '--data-dir DIR', 'Exit status: 0', 'Examples:']) expect(help.stdout).toContain(text);
    expect((await runCli('--help')).stdout).toContain('  replay ');
  });
});

describe('portcullis replay: recorded result rows', () => {
  it('prints them as psql would, between the statement and its row count, in the text and the --json steps', async () => {
    const rowsDir = tempDataDir();
    const rec = openRecorder(rowsDir, { now: () => T0 });
    try {
      rec.sessionStarted({ sessionId: 'r-rows', protocol: 'postgres', connection: 'prod', identity: { subject: 'agent-7', clientId: undefined, groups: [] }, clientAddress: '10.0.0.5:41000', tls: true });
      const seq = rec.operation({ sessionId: 'r-rows', via: 'simple-query', text: 'SELECT id, card FROM payments;', effect: 'allow', rule: 'reads-ok', reason: 'ok' });
      rec.outcome({ sessionId: 'r-rows', operationSeq: seq, command: 'SELECT 3', rows: 3, columns: ['id', 'card'], resultRows: [['1', '************4242'], ['2', null]], durationMs: 9 });
      rec.sessionEnded({ sessionId: 'r-rows', endedBy: 'client', reason: 'client disconnected' });
    } finally {
      rec.close();
    }
    const table = [
      'prod=> SELECT id, card FROM payments;',
      ' id |       card',
      '----+------------------',
      ' 1  | ************4242',
      ' 2  | NULL',
      '(first 2 of 3 rows recorded)',
      '(3 rows)',
      'Time: 9 ms',
    ].join('\n');
    const r = await runCli('replay', 'r-rows', '-d', rowsDir, '--no-wait');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`\n\n${table}\n\n`);
    const steps = (await runCli('replay', 'r-rows', '-d', rowsDir, '--json')).stdout.trimEnd().split('\n').map((line) => JSON.parse(line) as { text: string });
    expect(`${steps[1]?.text}\n${steps[2]?.text}`).toBe(`\n${table}`);
  });
});
