import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Identity } from '../../../src/identity/identity.js';
import { silentLogger } from '../../../src/log.js';
import type { Decision, Operation } from '../../../src/policy/operation.js';
import { RecorderError, type Recorder, type TerminalEvent } from '../../../src/recording/recorder.js';
import { SessionRecording } from '../../../src/recording/session-recording.js';
import { TERMINAL_FLUSH_CHARS, TERMINAL_FLUSH_MS, utf8Prefix } from '../../../src/recording/terminal-coalescer.js';
import { captureLogs } from './support.js';

/** What reached the recorder, in order: `op N`, `outcome N`, `end`, and terminal events as recorded. */
type Noted = string | Omit<TerminalEvent, 'sessionId'>;

function notingRecorder(options: { failTerminal?: boolean } = {}): { recorder: Recorder; noted: Noted[] } {
  const noted: Noted[] = [];
  let seq = 1;
  const recorder: Recorder = {
    sessionStarted: () => undefined,
    operation: () => {
      seq++;
      noted.push(`op ${seq}`);
      return seq;
    },
    outcome: (event) => void noted.push(`outcome ${event.operationSeq}`),
    terminal: (event) => {
      if (options.failTerminal === true) throw new RecorderError('disk full');
      const { sessionId, ...rest } = event;
      expect(sessionId).toBe('s-1');
      noted.push(rest);
    },
    sessionEnded: () => void noted.push('end'),
    authFailure: () => undefined,
    approvalEvent: () => undefined,
    whenDurable: (callback) => callback(true),
    close: () => undefined,
  };
  return { recorder, noted };
}

const IDENTITY: Identity = { subject: 'agent-1', clientId: undefined, groups: [], scopes: [], issuer: 'https://idp', expiresAt: 0 };
const T0 = Date.UTC(2025, 0, 1);
const ALLOW: Decision = { effect: 'allow', rule: 'ok', reason: 'allowed' };
const exec = (text: string): Operation => ({ kind: 'shell', connection: { name: 'web', type: 'ssh' }, text, via: 'exec' });

/** A started SSH recording whose clock the test moves (`at(ms)`), with fake timers for the flush. */
function setup(options: { maxTerminalBytes?: number; failTerminal?: boolean } = {}) {
  let now = T0;
  const { recorder, noted } = notingRecorder(options);
  const { logger, lines } = captureLogs();
  const recording = new SessionRecording(recorder, 's-1', logger, 'ssh', {
    now: () => now,
    ...(options.maxTerminalBytes === undefined ? {} : { maxTerminalBytes: options.maxTerminalBytes }),
  });
  recording.start('web', IDENTITY, '127.0.0.1:5000', true);
  const at = (ms: number): void => {
    vi.advanceTimersByTime(Math.max(0, T0 + ms - now));
    now = T0 + ms;
  };
  return { recording, noted, at, lines };
}

beforeEach(() => void vi.useFakeTimers());
afterEach(() => void vi.useRealTimers());

describe('SessionRecording.terminal: coalescing', () => {
  it('keeps consecutive data of one operation and code in one event, each piece at its offset from the operation\'s first terminal event', () => {
    const { recording, noted, at } = setup();
    const seq = recording.operation(exec('ls'), ALLOW) as number;
    at(1000);
    recording.terminal(seq, 'r', '80x24');
    at(1020);
    recording.terminal(seq, 'o', 'total 8\r\n');
    at(1025); // closer than 10 ms to the piece before: merged into it
    recording.terminal(seq, 'o', 'a\r\n');
    at(1050);
    recording.terminal(seq, 'o', 'b\r\n');
    expect(noted).toEqual(['op 2', { operationSeq: 2, start: T0 + 1000, code: 'r', pieces: [[0, '80x24']] }]);
    at(1080);
    recording.terminal(seq, 'x', '0');
    expect(noted.slice(2)).toEqual([
      { operationSeq: 2, start: T0 + 1000, code: 'o', pieces: [[20, 'total 8\r\na\r\n'], [50, 'b\r\n']] },
      { operationSeq: 2, start: T0 + 1000, code: 'x', pieces: [[80, '0']] },
    ]);
  });

  it(`writes a waiting event ${TERMINAL_FLUSH_MS} ms after its first piece, and splits data at ${TERMINAL_FLUSH_CHARS} characters`, () => {
    const { recording, noted, at } = setup();
    const seq = recording.operation(exec('cat big'), ALLOW) as number;
    recording.terminal(seq, 'o', 'a');
    at(TERMINAL_FLUSH_MS - 1);
    recording.terminal(seq, 'o', 'b');
    expect(noted).toEqual(['op 2']);
    at(TERMINAL_FLUSH_MS);
    expect(noted.slice(1)).toEqual([{ operationSeq: 2, start: T0, code: 'o', pieces: [[0, 'a'], [99, 'b']] }]);

    noted.length = 0;
    // A surrogate pair straddling the split stays whole.
    const big = `${'x'.repeat(TERMINAL_FLUSH_CHARS - 1)}😀${'y'.repeat(10)}`;
    recording.terminal(seq, 'o', big);
    expect(noted).toEqual([{ operationSeq: 2, start: T0, code: 'o', pieces: [[100, 'x'.repeat(TERMINAL_FLUSH_CHARS - 1)]] }]);
    at(300);
    expect(noted[1]).toEqual({ operationSeq: 2, start: T0, code: 'o', pieces: [[100, `😀${'y'.repeat(10)}`]] });
  });

  it('writes when the code or the operation changes, and before an operation or an outcome is recorded', () => {
    const { recording, noted, at } = setup();
    const shell = recording.operation(exec('(shell)'), ALLOW) as number;
    recording.terminal(shell, 'o', '$ ');
    at(5);
    recording.terminal(shell, 'i', 'l');
    at(30);
    recording.terminal(shell, 'i', 's\r');
    const line = recording.operation(exec('ls'), ALLOW) as number; // a line typed in the shell
    at(40);
    recording.terminal(shell, 'o', 'ls\r\n');
    const other = recording.operation(exec('uptime'), ALLOW) as number;
    recording.terminal(other, 'o', 'up 3 days\n');
    at(50);
    recording.terminal(shell, 'o', '$ ');
    recording.outcome({ operationSeq: other, durationMs: 50 });
    expect(line).toBe(3);
    expect(noted).toEqual([
      'op 2',
      { operationSeq: 2, start: T0, code: 'o', pieces: [[0, '$ ']] },
      { operationSeq: 2, start: T0, code: 'i', pieces: [[5, 'l'], [30, 's\r']] },
      'op 3',
      { operationSeq: 2, start: T0, code: 'o', pieces: [[40, 'ls\r\n']] },
      'op 4',
      { operationSeq: 4, start: T0 + 40, code: 'o', pieces: [[0, 'up 3 days\n']] },
      { operationSeq: 2, start: T0, code: 'o', pieces: [[50, '$ ']] },
    ]);
    vi.advanceTimersByTime(1000);
    expect(noted.at(-1)).toBe('outcome 4');
    recording.end('client', 'bye');
    expect(noted.at(-1)).toBe('end');
  });

  it('a newer window size within 10 ms replaces the one before; sizes and exit statuses are never merged into data', () => {
    const { recording, noted, at } = setup();
    const seq = recording.operation(exec('top'), ALLOW) as number;
    recording.terminal(seq, 'r', '80x24');
    at(4);
    recording.terminal(seq, 'r', '100x30');
    at(50);
    recording.terminal(seq, 'r', '120x40');
    recording.end('client', 'bye');
    expect(noted).toEqual(['op 2', { operationSeq: 2, start: T0, code: 'r', pieces: [[0, '100x30'], [50, '120x40']] }, 'end']);
  });

  it('writes what waits at the end of the session, and nothing after it', () => {
    const { recording, noted } = setup();
    const seq = recording.operation(exec('tail -f log'), ALLOW) as number;
    recording.terminal(seq, 'o', 'line\n');
    recording.end('client', 'bye');
    recording.terminal(seq, 'o', 'late\n');
    vi.advanceTimersByTime(1000);
    expect(noted).toEqual(['op 2', { operationSeq: 2, start: T0, code: 'o', pieces: [[0, 'line\n']] }, 'end']);
  });
});

describe('SessionRecording.terminal: bounds', () => {
  it('records at most maxTerminalBytes of output and input per operation, then one event counting what was not recorded until the exit', () => {
    const { recording, noted, at } = setup({ maxTerminalBytes: 10 });
    const seq = recording.operation(exec('cat /dev/urandom'), ALLOW) as number;
    recording.terminal(seq, 'r', '80x24'); // sizes do not count
    recording.terminal(seq, 'i', 'yes\n'); // 4 bytes
    at(20);
    recording.terminal(seq, 'o', 'héllo'); // 6 bytes: exactly at the limit
    at(40);
    recording.terminal(seq, 'o', 'more'); // over it from here
    at(60);
    recording.terminal(seq, 'o', 'é'.repeat(10));
    at(90);
    recording.terminal(seq, 'x', '141');
    expect(noted).toEqual([
      'op 2',
      { operationSeq: 2, start: T0, code: 'r', pieces: [[0, '80x24']] },
      { operationSeq: 2, start: T0, code: 'i', pieces: [[0, 'yes\n']] },
      { operationSeq: 2, start: T0, code: 'o', pieces: [[20, 'héllo']] },
      { operationSeq: 2, start: T0, code: 'omitted', offsetMs: 40, omittedBytes: 24, limitBytes: 10 },
      { operationSeq: 2, start: T0, code: 'x', pieces: [[90, '141']] },
    ]);
  });

  it('keeps the whole characters that fit when a piece crosses the limit, and reports at the outcome or the session end when no exit came', () => {
    const { recording, noted, at } = setup({ maxTerminalBytes: 4 });
    const a = recording.operation(exec('a'), ALLOW) as number;
    recording.terminal(a, 'o', 'ab€c'); // 'ab' (2) + '€' (3) does not fit: 'ab' kept, 4 bytes not
    recording.outcome({ operationSeq: a, durationMs: 1 });
    const b = recording.operation(exec('b'), ALLOW) as number;
    at(10);
    recording.terminal(b, 'o', '12345');
    recording.end('client', 'bye');
    expect(noted).toEqual([
      'op 2',
      { operationSeq: 2, start: T0, code: 'o', pieces: [[0, 'ab']] },
      { operationSeq: 2, start: T0, code: 'omitted', offsetMs: 0, omittedBytes: 4, limitBytes: 4 },
      'outcome 2',
      'op 3',
      { operationSeq: 3, start: T0 + 10, code: 'o', pieces: [[0, '1234']] },
      { operationSeq: 3, start: T0 + 10, code: 'omitted', offsetMs: 0, omittedBytes: 1, limitBytes: 4 },
      'end',
    ]);
  });

  it('cuts UTF-8 between characters', () => {
    expect(utf8Prefix('a€b', 3)).toBe('a');
    expect(utf8Prefix('a€b', 4)).toBe('a€');
    expect(utf8Prefix('😀x', 3)).toBe('');
    expect(utf8Prefix('abc', 0)).toBe('');
    expect(utf8Prefix('abc', 10)).toBe('abc');
  });

  it('refuses a limit that is not a whole number of bytes', () => {
    expect(() => new SessionRecording(notingRecorder().recorder, 's', silentLogger, 'ssh', { maxTerminalBytes: -1 })).toThrow(RangeError);
  });
});

describe('SessionRecording.terminal: failures stay out of the data path', () => {
  it('logs a recorder failure instead of throwing, and a malformed call too', () => {
    const { recording, lines } = setup({ failTerminal: true });
    const seq = recording.operation(exec('ls'), ALLOW) as number;
    expect(() => {
      recording.terminal(seq, 'o', 'x');
      recording.terminal(seq, 'x', '0');
      recording.terminal(seq, 'q' as never, 'x');
      vi.advanceTimersByTime(1000);
      recording.end('client', 'bye');
    }).not.toThrow();
    const errors = lines.filter((line) => line['msg'] === 'recording terminal data failed');
    expect(errors.length).toBe(3);
  });
});
