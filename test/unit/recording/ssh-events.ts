/** A decoded SSH session, by hand, for the pure terminal modules' tests. */
import type { DecodedEvent } from '../../../src/recording/session-query.js';

export const T0 = Date.UTC(2025, 0, 1);

const START = { protocol: 'ssh', connection: 'web', identity: { subject: 'agent-1', clientId: null, groups: [] }, clientAddress: '10.0.0.5:41000', tls: true };

/**
 * 1 start · 2 exec (allowed) · 3–7 its terminal: size, output, input, omitted, exit · 8 its
 * outcome · 9 a refused exec · 10 end. Times: the command at +1 s, its terminal from +1.2 s.
 */
export function sshEvents(): DecodedEvent[] {
  const op = 2;
  const start = T0 + 1200;
  return [
    { sessionId: 's-1', seq: 1, time: T0, type: 'session-start', data: START },
    { sessionId: 's-1', seq: 2, time: T0 + 1000, type: 'operation', data: { via: 'exec', text: 'printf "hi\\n"; exit 3', effect: 'allow', rule: 'ok', reason: 'allowed' } },
    { sessionId: 's-1', seq: 3, time: start + 50, type: 'terminal', data: { operationSeq: op, start, code: 'r', pieces: [[0, '120x40']] } },
    {
      sessionId: 's-1',
      seq: 4,
      time: start + 300,
      type: 'terminal',
      data: { operationSeq: op, start, code: 'o', pieces: [[0, 'hi\r\n'], [250, '\x1b[31mred\x1b[0m "q" \\ \u2028\x07']] },
    },
    { sessionId: 's-1', seq: 5, time: start + 350, type: 'terminal', data: { operationSeq: op, start, code: 'i', pieces: [[300, 'y\r']] } },
    { sessionId: 's-1', seq: 6, time: start + 1500, type: 'terminal', data: { operationSeq: op, start, code: 'omitted', offsetMs: 400, omittedBytes: 12, limitBytes: 100 } },
    { sessionId: 's-1', seq: 7, time: start + 1500, type: 'terminal', data: { operationSeq: op, start, code: 'x', pieces: [[1500, '3']] } },
    { sessionId: 's-1', seq: 8, time: T0 + 2800, type: 'outcome', data: { operationSeq: op, command: 'exit 3', bytes: 30, durationMs: 1600 } },
    { sessionId: 's-1', seq: 9, time: T0 + 3000, type: 'operation', data: { via: 'exec', text: 'rm -rf /', effect: 'deny', rule: 'no-rm', reason: 'destructive' } },
    { sessionId: 's-1', seq: 10, time: T0 + 4000, type: 'session-end', data: { endedBy: 'client', reason: 'bye' } },
  ];
}
