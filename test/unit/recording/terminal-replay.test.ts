import { describe, expect, it } from 'vitest';
import { ReplayPacingError } from '../../../src/recording/replay-timeline.js';
import type { DecodedEvent } from '../../../src/recording/session-query.js';
import { terminalReplayTimeline } from '../../../src/recording/terminal-replay.js';
import { terminalSummaries, terminalSummaryLines } from '../../../src/recording/terminal-summary.js';
import { sshEvents, T0 } from './ssh-events.js';

const PACING = { speed: 1, maxIdleMs: Infinity };

describe('terminalReplayTimeline', () => {
  it('plays a header per command, the output as recorded (made safe) at its own pace, the outcome and the end', () => {
    const steps = terminalReplayTimeline(sshEvents(), PACING);
    expect(steps).toEqual([
      { delayMs: 0, seq: 1, text: 'Session s-1: agent-1\nconnection web (ssh) from 10.0.0.5:41000\nstarted 2025-01-01T00:00:00.000Z' },
      { delayMs: 1000, seq: 2, text: '\nweb$ printf "hi\\n"; exit 3' },
      { delayMs: 200, seq: 4, text: 'hi\r\n', terminal: true },
      // The bell is escaped; the colours pass.
      { delayMs: 250, seq: 4, text: '\x1b[31mred\x1b[0m "q" \\ \u2028\\x07', terminal: true },
      // Input (300 ms) is not played: the wait runs from the output shown before.
      { delayMs: 150, seq: 6, text: '\x1b[0m\r\n[portcullis: 12 more bytes of output and input were not recorded: over the limit of 100 bytes per command]' },
      // The outcome at the exit status (it was written later).
      { delayMs: 1100, seq: 8, text: '(exit 3, 30 bytes, 1600 ms)' },
      { delayMs: 300, seq: 9, text: '\nweb$ rm -rf /\nDENIED by rule no-rm: destructive' },
      { delayMs: 1000, seq: 10, text: '\nSession ended by client: bye (2025-01-01T00:00:04.000Z, after 4.000s)' },
    ]);
  });

  it('paces like the SQL replay: gaps divided by the speed, capped by the idle limit', () => {
    const steps = terminalReplayTimeline(sshEvents(), { speed: 2, maxIdleMs: 400 });
    expect(steps.map((step) => step.delayMs)).toEqual([0, 400, 100, 125, 75, 400, 150, 400]);
    expect(() => terminalReplayTimeline(sshEvents(), { speed: 0, maxIdleMs: 1 })).toThrow(ReplayPacingError);
  });

  it('shows lines refused in a shell with their refusal, not allowed ones (the echo shows them), and notes an open session', () => {
    const events: DecodedEvent[] = [
      ...sshEvents().slice(0, 1),
      { sessionId: 's-1', seq: 2, time: T0 + 100, type: 'operation', data: { via: 'shell', text: 'xterm', effect: 'allow', rule: 'ok', reason: 'ok' } },
      { sessionId: 's-1', seq: 3, time: T0 + 300, type: 'terminal', data: { operationSeq: 2, start: T0 + 200, code: 'o', pieces: [[0, '$ ']] } },
      { sessionId: 's-1', seq: 4, time: T0 + 400, type: 'operation', data: { via: 'shell-line', text: 'ls', effect: 'allow', rule: 'ok', reason: 'ok' } },
      { sessionId: 's-1', seq: 5, time: T0 + 500, type: 'operation', data: { via: 'shell-line', text: 'rm -rf /', effect: 'deny', rule: 'no-rm', reason: 'destructive' } },
      { sessionId: 's-1', seq: 6, time: T0 + 650, type: 'terminal', data: { operationSeq: 2, start: T0 + 200, code: 'o', pieces: [[400, '$ \x1b[?2004h']] } },
    ];
    expect(terminalReplayTimeline(events, PACING).slice(1)).toEqual([
      { delayMs: 100, seq: 2, text: '\nweb$ (interactive shell, xterm)' },
      { delayMs: 100, seq: 3, text: '$ ', terminal: true },
      { delayMs: 300, seq: 5, text: '\r\n(typed in the shell: rm -rf /) DENIED by rule no-rm: destructive' },
      { delayMs: 100, seq: 6, text: '$ ', terminal: true },
      { delayMs: 0, seq: null, text: '\r\n\n(session still open: replayed what is recorded so far)' },
    ]);
  });
});

describe('terminal summaries (sessions show)', () => {
  it('the first output lines as a terminal showed them, then the counts, window, exit and what was not recorded', () => {
    const summary = terminalSummaries(sshEvents()).get(2);
    expect(summary).toBeDefined();
    expect(terminalSummaryLines(summary!)).toEqual([
      '| hi',
      '| red "q" \\ \u2028\\x07',
      'terminal: 2 lines of output (27 bytes), 2 bytes of input, window 120x40, exit 3, 12 more bytes NOT RECORDED (over the per-command limit)',
    ]);
  });

  it('shows at most 5 lines, each at most 100 characters, and counts the rest', () => {
    const lines = Array.from({ length: 9 }, (_, i) => `line ${i + 1}`);
    lines[1] = 'x'.repeat(150);
    const events: DecodedEvent[] = [
      { sessionId: 's', seq: 3, time: T0, type: 'terminal', data: { operationSeq: 2, start: T0, code: 'o', pieces: [[0, `${lines.join('\n')}\n`]] } },
    ];
    expect(terminalSummaryLines(terminalSummaries(events).get(2)!)).toEqual([
      '| line 1',
      `| ${'x'.repeat(99)}…`,
      '| line 3',
      '| line 4',
      '| line 5',
      '| … 4 more lines',
      'terminal: 9 lines of output (207 bytes)',
    ]);
  });
});
