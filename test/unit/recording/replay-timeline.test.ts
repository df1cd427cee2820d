import { describe, expect, it } from 'vitest';
import type { RecordedParameter, RecordedValue } from '../../../src/recording/recorder.js';
import { MAX_CELL_CHARS, ReplayPacingError, replayTimeline, resultRowLines, showValue, type ReplayPacing } from '../../../src/recording/replay-timeline.js';
import type { DecodedEvent, OperationPayload, OutcomePayload } from '../../../src/recording/session-query.js';

const T0 = Date.UTC(2025, 0, 1, 9, 0, 0);
const REAL_TIME: ReplayPacing = { speed: 1, maxIdleMs: 2000 };

/** An event without the fields `recording` numbers: its type and payload. */
type Body = DecodedEvent extends infer E ? (E extends DecodedEvent ? Omit<E, 'sessionId' | 'seq' | 'time'> : never) : never;

/** Events of session s-1 numbered from seq 1, each at T0 + its offset in ms. */
function recording(...events: [atMs: number, body: Body][]): DecodedEvent[] {
  return events.map(([at, body], i) => ({ sessionId: 's-1', seq: i + 1, time: T0 + at, ...body }) as DecodedEvent);
}

const START: Body = {
  type: 'session-start',
  data: { protocol: 'postgres', connection: 'prod', identity: { subject: 'agent-7', clientId: 'ci-bot', groups: ['agents', 'ops'] }, clientAddress: '10.0.0.5:41000', tls: true },
};
const END: Body = { type: 'session-end', data: { endedBy: 'client', reason: 'client disconnected' } };

function op(text: string, more: Partial<OperationPayload> = {}): Body {
  return { type: 'operation', data: { via: 'simple-query', text, effect: 'allow', rule: 'reads-ok', reason: 'reads are allowed', ...more } };
}

function outcome(operationSeq: number, more: Partial<OutcomePayload> = {}): Body {
  return { type: 'outcome', data: { operationSeq, durationMs: 3, ...more } };
}

const HEADER = ['Session s-1: agent-7, client ci-bot, groups agents, ops', 'connection prod (postgres) from 10.0.0.5:41000, TLS', 'started 2025-01-01T09:00:00.000Z'].join('\n');

/** The texts of the steps of events that are operations (the leading blank line dropped). */
function statementTexts(events: readonly DecodedEvent[]): string[] {
  return replayTimeline(events, REAL_TIME)
    .filter((step) => events[(step.seq ?? 0) - 1]?.type === 'operation')
    .map((step) => step.text.replace(/^\n/, ''));
}

describe('replayTimeline', () => {
  it('plays a session as psql would show it, one step per event, waiting the recorded gaps', () => {
    const events = recording(
      [0, START],
      [1500, op('SELECT id FROM orders')],
      [1520, outcome(2, { command: 'SELECT 2', rows: 2, columns: ['id'], bytes: 20, durationMs: 18 })],
      [2520, op('DELETE FROM orders', { effect: 'deny', rule: 'no-deletes', reason: 'deletes are refused' })],
      [3000, END],
    );
    expect(replayTimeline(events, REAL_TIME)).toEqual([
      { delayMs: 0, seq: 1, text: HEADER },
      { delayMs: 1500, seq: 2, text: '\nprod=> SELECT id FROM orders' },
      { delayMs: 20, seq: 3, text: '(2 rows)\nTime: 18 ms' },
      { delayMs: 1000, seq: 4, text: '\nprod=> DELETE FROM orders\nDENIED by rule no-deletes: deletes are refused' },
      { delayMs: 480, seq: 5, text: '\nSession ended by client: client disconnected (2025-01-01T09:00:03.000Z, after 3.000s)' },
    ]);
  });

  it('divides the gaps by the speed and caps every wait at the idle limit, after the speed', () => {
    const events = recording([0, START], [1000, op('SELECT 1')], [1001, outcome(2)], [11_001, op('SELECT 2')], [11_301, END]);
    const delays = (pacing: ReplayPacing): number[] => replayTimeline(events, pacing).map((step) => step.delayMs);
    expect(delays(REAL_TIME)).toEqual([0, 1000, 1, 2000, 300]);
    expect(delays({ speed: 2, maxIdleMs: 2000 })).toEqual([0, 500, 1, 2000, 150]);
    expect(delays({ speed: 4, maxIdleMs: 3000 })).toEqual([0, 250, 0, 2500, 75]);
    expect(delays({ speed: 3, maxIdleMs: Infinity })).toEqual([0, 333, 0, 3333, 100]);
    expect(delays({ speed: 0.5, maxIdleMs: 5000 })).toEqual([0, 2000, 2, 5000, 600]);
    expect(delays({ speed: 1, maxIdleMs: 0 })).toEqual([0, 0, 0, 0, 0]);
  });

  it('never waits a negative time when the recorded clock went back', () => {
    const events = recording([5000, START], [4000, op('SELECT 1')], [4500, END]);
    expect(replayTimeline(events, REAL_TIME).map((step) => step.delayMs)).toEqual([0, 0, 500]);
  });

  it('refuses a speed of 0 or less and a negative idle limit', () => {
    const events = recording([0, START]);
    for (const pacing of [{ speed: 0, maxIdleMs: 1 }, { speed: -1, maxIdleMs: 1 }, { speed: Infinity, maxIdleMs: 1 }, { speed: Number.NaN, maxIdleMs: 1 }, { speed: 1, maxIdleMs: -1 }]) {
      expect(() => replayTimeline(events, pacing)).toThrow(ReplayPacingError);
    }
  });

  it('pairs outcomes with their statement by operationSeq, naming the statement when it is not the one just shown', () => {
    const events = recording(
      [0, START],
      [10, op('SELECT a FROM t', { via: 'parse' })],
      [11, op('UPDATE t SET a = 1\nWHERE a = 0', { via: 'parse' })],
      [20, outcome(2, { columns: ['a'], rows: 1 })],
      [21, outcome(3, { command: 'UPDATE 4' })],
      [22, outcome(99, { command: 'SELECT 0', rows: 0 })],
      [30, op(`SELECT ${'x, '.repeat(30)}y FROM t`)],
      [31, outcome(7, { columns: ['x', 'y'], rows: 0 })],
    );
    expect(replayTimeline(events, REAL_TIME).slice(3, 8).map((step) => step.text)).toEqual([
      '(result of: SELECT a FROM t)\n(1 row)\nTime: 3 ms',
      '(result of: UPDATE t SET a = 1…)\nUPDATE 4\nTime: 3 ms',
      '(result of event 99: no such statement recorded)\n(0 rows)\nTime: 3 ms',
      `\nprod=> SELECT ${'x, '.repeat(30)}y FROM t`,
      '(0 rows)\nTime: 3 ms',
    ]);
    const late = recording([0, START], [10, op(`SELECT ${'x, '.repeat(30)}y FROM t`)], [20, op('SELECT 2')], [30, outcome(2)]);
    expect(replayTimeline(late, REAL_TIME)[3]?.text).toBe(`(result of: SELECT ${'x, '.repeat(17)}x,…)\nTime: 3 ms`);
  });

  it('shows denied and held statements with rule and reason, and allowed ones without', () => {
    const events = recording(
      [0, START],
      [1, op('DROP TABLE orders', { effect: 'deny', rule: 'no-ddl', reason: 'Schema changes are not allowed for agents.' })],
      [2, op('UPDATE orders SET paid = true', { effect: 'review', rule: 'writes-need-approval', reason: 'writes need a DBA' })],
      [3, op('SELECT 1', { rule: 'reads-ok' })],
    );
    expect(statementTexts(events)).toEqual([
      'prod=> DROP TABLE orders\nDENIED by rule no-ddl: Schema changes are not allowed for agents.',
      'prod=> UPDATE orders SET paid = true\nHELD FOR REVIEW by rule writes-need-approval: writes need a DBA',
      'prod=> SELECT 1',
    ]);
  });

  it('prints outcomes as psql does: row counts for result sets, command tags otherwise, errors with their SQLSTATE', () => {
    const outcomes: Partial<OutcomePayload>[] = [
      { error: { code: '42P01', message: 'relation "t" does not exist' }, durationMs: 4 },
      { command: 'SELECT 1', rows: 1, columns: ['id'] },
      { command: 'SELECT 5', rows: 5 },
      { command: 'INSERT 0 1', rows: 1, columns: ['id'] },
      { command: 'DELETE 2', rows: 2 },
      { command: 'CREATE TABLE' },
      { rows: 7 },
      { durationMs: 12.5 },
    ];
    const events = recording([0, START], ...outcomes.flatMap((o, i): [number, Body][] => [[i, op('…')], [i, outcome(2 * i + 2, o)]]));
    const texts = replayTimeline(events, REAL_TIME)
      .filter((step) => events[(step.seq ?? 0) - 1]?.type === 'outcome')
      .map((step) => step.text);
    expect(texts).toEqual([
      'ERROR:  42P01: relation "t" does not exist\nTime: 4 ms',
      '(1 row)\nTime: 3 ms',
      '(5 rows)\nTime: 3 ms',
      '(1 row)\nINSERT 0 1\nTime: 3 ms',
      'DELETE 2\nTime: 3 ms',
      'CREATE TABLE\nTime: 3 ms',
      '(7 rows)\nTime: 3 ms',
      'Time: 12.5 ms',
    ]);
  });

  it('prints multi-line statements with the continuation prompt', () => {
    const events = recording([0, START], [1, op('SELECT id,\n       total\r\n  FROM orders\n\n WHERE paid')]);
    expect(statementTexts(events)).toEqual(['prod=> SELECT id,\nprod->        total\nprod->   FROM orders\nprod-> \nprod->  WHERE paid']);
  });

  it('prints bind parameters as SQL literals: quotes doubled, NULL, binary via decode, controls in escape strings', () => {
    const parameters: RecordedParameter[] = ['7', null, "O'Brien", '', { base64: 'AAH/' }, 'two\nlines\\', 'tab\there', '\u001b[2J'];
    const events = recording([0, START], [1, op('SELECT $1, $2, $3, $4, $5, $6, $7, $8', { via: 'bind', parameters })], [2, op('SELECT 1', { parameters: [] })]);
    expect(statementTexts(events)).toEqual([
      "prod=> SELECT $1, $2, $3, $4, $5, $6, $7, $8\nparameters: $1 = '7', $2 = NULL, $3 = 'O''Brien', $4 = '', $5 = decode('AAH/', 'base64'), $6 = E'two\\nlines\\\\', $7 = 'tab\there', $8 = E'\\x1b[2J'",
      'prod=> SELECT 1',
    ]);
  });

  it('keeps Unicode text as it is but escapes terminal controls and bidirectional overrides everywhere', () => {
    const events = recording(
      [0, { type: 'session-start', data: { protocol: 'postgres', connection: 'bücher', identity: { subject: 'agent\u001b]0;pwned\u0007', clientId: null, groups: [] }, clientAddress: '[::1]:5000', tls: false } }],
      [1, op("SELECT 'café', '🚀', '数据' -- \u202eevil", { parameters: ['naïve ✓'] })],
      [2, outcome(2, { error: { code: 'XX000', message: 'bad \u009b31m thing' } })],
      [3, { type: 'session-end', data: { endedBy: 'upstream', reason: 'server closed\nthe connection' } }],
    );
    expect(replayTimeline(events, REAL_TIME).map((step) => step.text)).toEqual([
      'Session s-1: agent\\x1b]0;pwned\\x07\nconnection bücher (postgres) from [::1]:5000, no TLS\nstarted 2025-01-01T09:00:00.000Z',
      "\nbücher=> SELECT 'café', '🚀', '数据' -- \\u202eevil\nparameters: $1 = 'naïve ✓'",
      'ERROR:  XX000: bad \\x9b31m thing\nTime: 3 ms',
      '\nSession ended by upstream: server closed\\nthe connection (2025-01-01T09:00:00.003Z, after 0.003s)',
    ]);
  });

  it('replays an open session as far as it is recorded, and nothing for no events', () => {
    const steps = replayTimeline(recording([0, START], [100, op('SELECT 1')]), REAL_TIME);
    expect(steps.at(-1)).toEqual({ delayMs: 0, seq: null, text: '\n(session still open: replayed what is recorded so far)' });
    expect(steps).toHaveLength(3);
    expect(replayTimeline([], REAL_TIME)).toEqual([]);
  });
});

describe('recorded result rows', () => {
  /** The text of the outcome step of a one-statement session. */
  function outcomeText(more: Partial<OutcomePayload>): string {
    const steps = replayTimeline(recording([0, START], [1, op('SELECT …')], [2, outcome(2, more)]), REAL_TIME);
    return steps[2]?.text ?? '';
  }

  it('are printed under their statement as psql prints a result: centred names, aligned cells, NULL as NULL', () => {
    const text = outcomeText({ command: 'SELECT 2', rows: 2, columns: ['id', 'email'], resultRows: [['1', '[EMAIL]'], ['22', null]] });
    expect(text).toBe([' id |  email', '----+---------', ' 1  | [EMAIL]', ' 22 | NULL', '(2 rows)', 'Time: 3 ms'].join('\n'));
  });

  it('say when only the first rows were recorded, and come before the error that ended the result', () => {
    expect(outcomeText({ command: 'SELECT 120', rows: 120, columns: ['n'], resultRows: [['1'], ['2']] })).toBe(
      [' n', '---', ' 1', ' 2', '(first 2 of 120 rows recorded)', '(120 rows)', 'Time: 3 ms'].join('\n'),
    );
    expect(outcomeText({ rows: 1, columns: ['n'], resultRows: [['1']], error: { code: '22012', message: 'division by zero' } })).toBe(
      [' n', '---', ' 1', 'ERROR:  22012: division by zero', 'Time: 3 ms'].join('\n'),
    );
  });

  it('name columns psql\'s way when names are missing, and print nothing without rows or columns', () => {
    expect(resultRowLines({ operationSeq: 2, durationMs: 0, rows: 1, resultRows: [['a', 'b']] })).toEqual([' ?column? | ?column?', '----------+----------', ' a        | b']);
    expect(resultRowLines({ operationSeq: 2, durationMs: 0, rows: 2, columns: ['x'], resultRows: [['a', 'b'], ['c']] })).toEqual([' x | ?column?', '---+----------', ' a | b', ' c |']);
    expect(resultRowLines({ operationSeq: 2, durationMs: 0, rows: 3, columns: [], resultRows: [[], []] })).toEqual([]);
    expect(resultRowLines({ operationSeq: 2, durationMs: 0, rows: 0, columns: ['x'] })).toEqual([]);
  });

  it('escape hostile values and column names, tabs included, and keep the table aligned on the escaped text', () => {
    const lines = resultRowLines({
      operationSeq: 2,
      durationMs: 0,
      rows: 2,
      columns: ['na\u001b]0;pwned\u0007me', 'v'],
      resultRows: [['\u001b[2J', 'a\tb'], ['\u202eevil', 'l1\nl2']],
    });
    expect(lines).toEqual([
      ' na\\x1b]0;pwned\\x07me |   v',
      '----------------------+--------',
      ' \\x1b[2J              | a\\tb',
      ' \\u202eevil           | l1\\nl2',
    ]);
    for (const line of lines) expect(line).not.toMatch(/[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069\t]/u);
  });

  it('shorten long values, mark values cut when recorded, and show binary values as \\x and hex', () => {
    const cases: [RecordedValue, string][] = [
      [null, 'NULL'],
      ['', ''],
      ['x'.repeat(MAX_CELL_CHARS), 'x'.repeat(MAX_CELL_CHARS)],
      ['x'.repeat(50), `${'x'.repeat(MAX_CELL_CHARS - 1)}…`],
      ['🚀'.repeat(50), `${'🚀'.repeat(MAX_CELL_CHARS - 1)}…`],
      [{ text: 'abc', totalChars: 5000 }, 'abc…'],
      [{ base64: 'AAH/' }, '\\x0001ff'],
      [{ base64: Buffer.alloc(18, 0xab).toString('base64') }, `\\x${'ab'.repeat(18)}`],
      [{ base64: Buffer.alloc(19, 0xab).toString('base64') }, `\\x${'ab'.repeat(18)}…`],
      [{ base64: Buffer.alloc(1_000_000, 0xcd).toString('base64') }, `\\x${'cd'.repeat(18)}…`],
      [{ base64: 'AAE=', totalBytes: 900 }, '\\x0001…'],
    ];
    for (const [value, shown] of cases) expect(showValue(value)).toBe(shown);
    for (const [value] of cases) expect([...showValue(value)].length).toBeLessThanOrEqual(MAX_CELL_CHARS);
  });
});
