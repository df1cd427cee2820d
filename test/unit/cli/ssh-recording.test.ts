/**
 * SSH terminal recordings through the real pieces (SessionRecording over the ChainRecorder in
 * a temp data dir), read back by `sessions show`, `replay` and `sessions export --format asciicast`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseArgs } from 'node:util';
import type { CliIo } from '../../../src/cli/command.js';
import { createReplayCommand, type Sleep } from '../../../src/cli/replay.js';
import type { Identity } from '../../../src/identity/identity.js';
import { silentLogger } from '../../../src/log.js';
import type { Decision, Operation } from '../../../src/policy/operation.js';
import type { ChainRecorder } from '../../../src/recording/chain-recorder.js';
import { SessionRecording } from '../../../src/recording/session-recording.js';
import { openRecorder } from '../../../src/recording/sqlite-recorder.js';
import { removeTempDirs, startSession, tempDataDir } from '../recording/support.js';
import { runCli } from './run-cli.js';

const T0 = Date.UTC(2025, 0, 1, 9, 0, 0);
const IDENTITY: Identity = { subject: 'agent-7', clientId: 'ci-bot', groups: ['agents'], scopes: [], issuer: 'https://idp', expiresAt: 0 };
const CONNECTION = { name: 'web', type: 'ssh' };
const exec = (text: string, via = 'exec'): Operation => ({ kind: 'shell', connection: CONNECTION, text, via });
const allow: Decision = { effect: 'allow', rule: 'ops-ok', reason: 'allowed' };

let dir: string;
let recorder: ChainRecorder;

/**
 * ssh-1: `ls --color /srv` in a 100x30 PTY (exit 0); `rm -rf /srv` refused; an interactive
 * shell in which `cat big` prints more than the 200-byte limit (the rest not recorded), then
 * exits. pg-1: a PostgreSQL session (no terminal).
 */
beforeAll(() => {
  let clock = T0;
  const at = (ms: number): void => void (clock = T0 + ms);
  dir = tempDataDir();
  recorder = openRecorder(dir, { now: () => clock });
  const recording = new SessionRecording(recorder, 'ssh-1', silentLogger, 'ssh', { now: () => clock, maxTerminalBytes: 200 });
  recording.start('web', IDENTITY, '10.0.0.5:41000', true);

  at(1000);
  const ls = recording.operation(exec('ls --color /srv'), allow) as number;
  at(1200);
  recording.terminal(ls, 'r', '100x30');
  recording.terminal(ls, 'o', 'total 2\r\n');
  at(1500);
  recording.terminal(ls, 'o', '\x1b[01;34mapp\x1b[0m  notes.txt\r\n');
  at(1700);
  recording.terminal(ls, 'x', '0');
  recording.outcome({ operationSeq: ls, command: 'exit 0', bytes: 38, durationMs: 700 });

  at(3000);
  recording.operation(exec('rm -rf /srv'), { effect: 'deny', rule: 'no-rm', reason: 'Deleting files is not allowed.' });

  at(4000);
  const shell = recording.operation({ kind: 'ssh', connection: CONNECTION, text: 'xterm-256color', via: 'shell', action: 'shell' }, allow) as number;
  at(4100);
  recording.terminal(shell, 'r', '80x24');
  recording.terminal(shell, 'o', '\x1b]0;agent@web: ~\x07\x1b[?2004h$ ');
  at(5000);
  recording.terminal(shell, 'i', 'c');
  at(5100);
  recording.terminal(shell, 'i', 'at big\r');
  at(5150);
  recording.operation(exec('cat big', 'shell-line'), allow);
  at(5200);
  recording.terminal(shell, 'o', 'cat big\r\n');
  at(5300);
  recording.terminal(shell, 'o', `${'A'.repeat(99)}\r\n${'B'.repeat(99)}\r\n`);
  at(6000);
  recording.terminal(shell, 'i', 'exit\r');
  at(6100);
  recording.terminal(shell, 'o', 'exit\r\n');
  at(6200);
  recording.terminal(shell, 'x', '0');
  recording.outcome({ operationSeq: shell, command: 'exit 0', bytes: 260, durationMs: 2200 });
  at(7000);
  recording.end('client', 'the client disconnected');

  startSession(recorder, 'pg-1');
});

afterAll(() => {
  recorder.close();
  removeTempDirs();
});

const SHOW = [
  'Session ssh-1: agent-7, client ci-bot, groups agents',
  '  connection web (ssh) from 10.0.0.5:41000',
  '  started 2025-01-01 09:00:00Z, ended 2025-01-01 09:00:07Z by client after 7s; 4 operations, 1 refused',
  '',
  '   +1.000s  ALLOW   [rule ops-ok]',
  '                    ls --color /srv',
  '                    | total 2',
  '                    | app  notes.txt',
  '                    terminal: 2 lines of output (37 bytes), window 100x30, exit 0',
  '   +3.000s          → exit 0, 38 bytes, 700 ms',
  '   +3.000s  DENY    [rule no-rm: Deleting files is not allowed.]',
  '                    rm -rf /srv',
  '   +4.000s  ALLOW   [rule ops-ok]',
  '                    (interactive shell, xterm-256color)',
  '                    | $ cat big',
  `                    | ${'A'.repeat(99)}`,
  `                    | ${'B'.repeat(55)}`,
  '                    terminal: 3 lines of output (192 bytes), 8 bytes of input, window 80x24, exit 0, 57 more bytes NOT RECORDED (over the per-command limit)',
  '   +5.150s  ALLOW   [rule ops-ok]',
  '                    cat big',
  '   +7.000s          → exit 0, 260 bytes, 2200 ms',
  '   +7.000s  END     by client: the client disconnected',
  '',
].join('\n');

const REPLAY = [
  'Session ssh-1: agent-7, client ci-bot, groups agents',
  'connection web (ssh) from 10.0.0.5:41000',
  'started 2025-01-01T09:00:00.000Z',
  '',
  'web$ ls --color /srv',
  'total 2\r',
  '\x1b[01;34mapp\x1b[0m  notes.txt\r',
  '\x1b[0m(exit 0, 38 bytes, 700 ms)',
  '',
  'web$ rm -rf /srv',
  'DENIED by rule no-rm: Deleting files is not allowed.',
  '',
  'web$ (interactive shell, xterm-256color)',
  // The window title and bracketed-paste switch are left out; the typed line is the echo.
  '$ cat big\r',
  `${'A'.repeat(99)}\r`,
  `${'B'.repeat(55)}\r`,
  '[portcullis: 57 more bytes of output and input were not recorded: over the limit of 200 bytes per command]',
  '(exit 0, 260 bytes, 2200 ms)',
  '',
  'Session ended by client: the client disconnected (2025-01-01T09:00:07.000Z, after 7.000s)',
  '',
].join('\n');

const CAST = [
  '{"version":3,"term":{"cols":100,"rows":30},"timestamp":1735722000,"title":"Portcullis session ssh-1: agent-7 on web"}',
  '[1.000,"m","ls --color /srv"]',
  '[0.200,"r","100x30"]',
  '[0.000,"o","total 2\\r\\n"]',
  '[0.300,"o","\\u001b[01;34mapp\\u001b[0m  notes.txt\\r\\n"]',
  '[0.200,"m","exit 0"]',
  '[1.300,"m","rm -rf /srv [DENIED by rule no-rm: Deleting files is not allowed.]"]',
  '[1.000,"m","(interactive shell, xterm-256color)"]',
  '[0.100,"r","80x24"]',
  '[0.000,"o","\\u001b]0;agent@web: ~\\u0007\\u001b[?2004h$ "]',
  '[0.900,"i","c"]',
  '[0.100,"i","at big\\r"]',
  '[0.050,"m","cat big"]',
  '[0.050,"o","cat big\\r\\n"]',
  `[0.100,"o","${'A'.repeat(99)}\\r\\n${'B'.repeat(55)}"]`,
  '[0.000,"m","57 more bytes of output and input were not recorded (over the limit of 200 bytes per command)"]',
  '[0.900,"m","exit 0"]',
  '[0.800,"m","session ended by client: the client disconnected"]',
  '',
].join('\n');

/** Runs replay with a sleep that only notes what it was asked, interleaved with the output. */
async function runPaced(argv: string[]): Promise<{ code: number; log: string[] }> {
  const log: string[] = [];
  const sleep: Sleep = async (ms) => void log.push(`sleep ${ms}`);
  const command = createReplayCommand(sleep);
  const io: CliIo = { out: (text) => void log.push(text), err: () => undefined };
  const args = parseArgs({ args: argv, options: command.options, allowPositionals: true, strict: true });
  return { code: await command.run(args, io, new AbortController().signal), log };
}

describe('portcullis sessions show: SSH terminal data', () => {
  it('summarizes each command\'s and shell\'s terminal data under it: first lines, counts, window, exit, what was not recorded', async () => {
    expect(await runCli('sessions', 'show', 'ssh-1', '-d', dir)).toEqual({ code: 0, stdout: SHOW, stderr: '' });
  });

  it('--json has the terminal events with their pieces', async () => {
    const events = JSON.parse((await runCli('sessions', 'show', 'ssh-1', '-d', dir, '--json')).stdout) as { seq: number; type: string; payload: unknown }[];
    expect(events.find((event) => event.seq === 4)).toMatchObject({
      type: 'terminal',
      payload: { operationSeq: 2, start: T0 + 1200, code: 'o', pieces: [[0, 'total 2\r\n'], [300, '\x1b[01;34mapp\x1b[0m  notes.txt\r\n']] },
    });
  });
});

describe('portcullis replay: an SSH session', () => {
  it('--no-wait plays the terminal output after each command\'s header, the refusals, and how each ended', async () => {
    expect(await runCli('replay', 'ssh-1', '-d', dir, '--no-wait')).toEqual({ code: 0, stdout: REPLAY, stderr: '' });
  });

  it('waits the recorded gaps between pieces of output, divided by --speed and capped by --max-idle', async () => {
    const { code, log } = await runPaced(['ssh-1', '-d', dir]);
    expect(code).toBe(0);
    expect(log.filter((line) => line.startsWith('sleep'))).toEqual(
      ['sleep 1000', 'sleep 200', 'sleep 300', 'sleep 200', 'sleep 1300', 'sleep 1000', 'sleep 100', 'sleep 1100', 'sleep 100', 'sleep 900', 'sleep 800'],
    );
    // Output is printed as recorded, without newlines added: the same text as --no-wait.
    expect(log.filter((line) => !line.startsWith('sleep')).join('')).toBe(REPLAY);
    const fast = await runPaced(['ssh-1', '-d', dir, '--speed', '4', '--max-idle', '0.25']);
    expect(fast.log.filter((line) => line.startsWith('sleep'))).toEqual(
      ['sleep 250', 'sleep 50', 'sleep 75', 'sleep 50', 'sleep 250', 'sleep 250', 'sleep 25', 'sleep 250', 'sleep 25', 'sleep 225', 'sleep 200'],
    );
  });

  it('--json marks the terminal output steps', async () => {
    const r = await runCli('replay', 'ssh-1', '-d', dir, '--json');
    const steps = r.stdout.trimEnd().split('\n').map((line) => JSON.parse(line) as { delayMs: number; seq: number | null; text: string; terminal?: boolean });
    expect(steps.filter((step) => step.terminal === true).map((step) => step.seq)).toEqual([4, 4, 10, 13, 13]);
    expect(steps[2]).toEqual({ delayMs: 200, seq: 4, text: 'total 2\r\n', terminal: true });
    expect(steps.map((step) => (step.terminal === true ? step.text : `${step.text}\n`)).join('')).toBe(REPLAY);
  });
});

describe('portcullis sessions export --format asciicast', () => {
  it('exports the whole SSH session as one asciicast v3 recording, operations as markers', async () => {
    expect(await runCli('sessions', 'export', 'ssh-1', '--format', 'asciicast', '-d', dir)).toEqual({ code: 0, stdout: CAST, stderr: '' });
  });

  it('--operation SEQ exports one command from its first terminal event, its exit status last', async () => {
    expect(await runCli('sessions', 'export', 'ssh-1', '-f', 'asciicast', '--operation', '2', '-d', dir)).toEqual({
      code: 0,
      stdout: [
        '{"version":3,"term":{"cols":100,"rows":30},"timestamp":1735722001,"command":"ls --color /srv","title":"Portcullis session ssh-1: agent-7 on web, operation 2: ls --color /srv"}',
        '[0.000,"r","100x30"]',
        '[0.000,"o","total 2\\r\\n"]',
        '[0.300,"o","\\u001b[01;34mapp\\u001b[0m  notes.txt\\r\\n"]',
        '[0.200,"x","0"]',
        '',
      ].join('\n'),
      stderr: '',
    });
    const refused = await runCli('sessions', 'export', 'ssh-1', '-f', 'asciicast', '--operation', '7', '-d', dir);
    expect(refused.stdout).toBe('{"version":3,"term":{"cols":80,"rows":24},"timestamp":1735722003,"command":"rm -rf /srv","title":"Portcullis session ssh-1: agent-7 on web, operation 7: rm -rf /srv"}\n');
  });

  it('exits 1 for what has no terminal recording, 2 on a bad command line', async () => {
    const fail = async (args: string[], code: number, message: string): Promise<void> => {
      const r = await runCli('sessions', 'export', ...args, '-d', dir);
      expect(r.code).toBe(code);
      expect(r.stdout).toBe('');
      expect(r.stderr).toContain(message);
    };
    await fail(['pg-1', '-f', 'asciicast'], 1, 'cannot export session "pg-1" as asciicast: it is a postgres session: only SSH sessions have terminal recordings');
    await fail(['ssh-1', '-f', 'asciicast', '--operation', '4'], 1, 'its event 4 is a terminal, not an operation');
    await fail(['ssh-1', '-f', 'asciicast', '--operation', '99'], 1, 'it has no event 99');
    await fail(['nope', '-f', 'asciicast'], 1, 'no session "nope"');
    await fail(['ssh-1', '-f', 'asciicast', '--operation', 'two'], 2, '--operation "two": expected the seq of an operation event');
    await fail(['ssh-1', 'pg-1', '-f', 'asciicast'], 2, 'unexpected argument "pg-1": --format asciicast exports one session at a time');
    await fail(['ssh-1', '--operation', '2'], 2, '--operation is for --format asciicast');
  });

  it('the jsonl export has the terminal events, and the recording verifies', async () => {
    const rows = (await runCli('sessions', 'export', 'ssh-1', '-d', dir)).stdout.trimEnd().split('\n').map((line) => JSON.parse(line) as { type: string });
    expect(rows.filter((row) => row.type === 'terminal')).toHaveLength(9);
    const verify = await runCli('audit', 'verify', '-d', dir);
    expect(verify.code).toBe(0);
  });

  it('--help documents the formats', async () => {
    const help = await runCli('sessions', 'export', '--help');
    for (const text of ['--format asciicast', '--operation SEQ', 'asciinema', '80x24', 'final "x" event']) expect(help.stdout).toContain(text);
    const replay = await runCli('replay', '--help');
    expect(replay.stdout).toContain('An SSH session plays like a terminal');
    const show = await runCli('sessions', 'show', '--help');
    expect(show.stdout).toContain('NOT RECORDED');
  });
});
