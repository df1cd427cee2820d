import { describe, expect, it } from 'vitest';
import { AsciicastError, operationAsciicast, sessionAsciicast } from '../../../src/recording/asciicast.js';
import type { DecodedEvent } from '../../../src/recording/session-query.js';
import { sshEvents, T0 } from './ssh-events.js';

describe('sessionAsciicast', () => {
  it('is the header, then every event in time order with the seconds since the one before; operations, exits and cuts as markers', () => {
    expect(sessionAsciicast(sshEvents())).toBe(
      [
        '{"version":3,"term":{"cols":120,"rows":40},"timestamp":1735689600,"title":"Portcullis session s-1: agent-1 on web"}',
        '[1.000,"m","printf \\"hi\\\\n\\"; exit 3"]',
        '[0.200,"r","120x40"]',
        '[0.000,"o","hi\\r\\n"]',
        // Control characters as JSON escapes; quotes and backslashes escaped; U+2028 is valid JSON as it is.
        '[0.250,"o","\\u001b[31mred\\u001b[0m \\"q\\" \\\\ \u2028\\u0007"]',
        '[0.050,"i","y\\r"]',
        '[0.100,"m","12 more bytes of output and input were not recorded (over the limit of 100 bytes per command)"]',
        '[1.100,"m","exit 3"]',
        '[0.300,"m","rm -rf / [DENIED by rule no-rm: destructive]"]',
        '[1.000,"m","session ended by client: bye"]',
        '',
      ].join('\n'),
    );
  });

  it('every line is JSON an asciicast reader parses back to the recorded data', () => {
    const [header, ...lines] = sessionAsciicast(sshEvents()).trimEnd().split('\n');
    expect(JSON.parse(header as string)).toMatchObject({ version: 3, term: { cols: 120, rows: 40 } });
    const events = lines.map((line) => JSON.parse(line) as [number, string, string]);
    expect(events[3]).toEqual([0.25, 'o', '\x1b[31mred\x1b[0m "q" \\ \u2028\x07']);
    expect(events.reduce((sum, [interval]) => sum + interval, 0)).toBeCloseTo(4, 6);
  });

  it('defaults to 80x24 without a recorded window size, and refuses a PostgreSQL session', () => {
    const events = sshEvents().filter((event) => event.seq !== 3);
    expect(sessionAsciicast(events).split('\n')[0]).toContain('"term":{"cols":80,"rows":24}');
    const postgres = [{ ...(sshEvents()[0] as DecodedEvent), data: { ...(sshEvents()[0]?.data as object), protocol: 'postgres' } }] as DecodedEvent[];
    expect(() => sessionAsciicast(postgres)).toThrow(new AsciicastError('it is a postgres session: only SSH sessions have terminal recordings'));
  });
});

describe('operationAsciicast', () => {
  it('is one operation from its first terminal event, with its command line and its exit status as the final x event', () => {
    expect(operationAsciicast(sshEvents(), 2)).toBe(
      [
        '{"version":3,"term":{"cols":120,"rows":40},"timestamp":1735689601,"command":"printf \\"hi\\\\n\\"; exit 3","title":"Portcullis session s-1: agent-1 on web, operation 2: printf \\"hi\\\\n\\"; exit 3"}',
        '[0.000,"r","120x40"]',
        '[0.000,"o","hi\\r\\n"]',
        '[0.250,"o","\\u001b[31mred\\u001b[0m \\"q\\" \\\\ \u2028\\u0007"]',
        '[0.050,"i","y\\r"]',
        '[0.100,"m","12 more bytes of output and input were not recorded (over the limit of 100 bytes per command)"]',
        '[1.100,"x","3"]',
        '',
      ].join('\n'),
    );
  });

  it('an operation without terminal data: only the header, at the operation\'s time, 80x24', () => {
    expect(operationAsciicast(sshEvents(), 9)).toBe(
      `{"version":3,"term":{"cols":80,"rows":24},"timestamp":${Math.floor((T0 + 3000) / 1000)},"command":"rm -rf /","title":"Portcullis session s-1: agent-1 on web, operation 9: rm -rf /"}\n`,
    );
  });

  it('a shell has no command in the header; pieces written out of the chain\'s order are placed by their time', () => {
    const events = sshEvents();
    events[1] = { ...(events[1] as DecodedEvent & { type: 'operation' }), data: { via: 'shell', text: 'xterm', effect: 'allow', rule: 'ok', reason: 'ok' } };
    // Input typed between two pieces of output (in a later event, as coalescing writes it).
    events[4] = { ...(events[4] as DecodedEvent), data: { operationSeq: 2, start: T0 + 1200, code: 'i', pieces: [[100, 'late']] } } as DecodedEvent;
    const lines = operationAsciicast(events, 2).split('\n');
    expect(JSON.parse(lines[0] as string)).toEqual({ version: 3, term: { cols: 120, rows: 40 }, timestamp: 1735689601, title: 'Portcullis session s-1: agent-1 on web, operation 2: (interactive shell, xterm)' });
    expect(lines.slice(1, 5)).toEqual(['[0.000,"r","120x40"]', '[0.000,"o","hi\\r\\n"]', '[0.100,"i","late"]', '[0.150,"o","\\u001b[31mred\\u001b[0m \\"q\\" \\\\ \u2028\\u0007"]']);
  });

  it('refuses what is not an operation of the session', () => {
    expect(() => operationAsciicast(sshEvents(), 4)).toThrow('its event 4 is a terminal, not an operation');
    expect(() => operationAsciicast(sshEvents(), 8)).toThrow('its event 8 is an outcome, not an operation');
    expect(() => operationAsciicast(sshEvents(), 99)).toThrow('it has no event 99');
  });
});
