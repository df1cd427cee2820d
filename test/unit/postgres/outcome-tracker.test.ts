import { describe, expect, it } from 'vitest';
import {
  DEFAULT_MAX_VALUE_CHARS,
  OutcomeTracker,
  SKIPPED,
  cutValue,
  rowsAffected,
} from '../../../src/protocols/postgres/outcome-tracker.js';

/** A tracker on a clock the test moves by hand. */
function tracker(): { t: OutcomeTracker; advance: (ms: number) => void } {
  let now = 1000;
  return { t: new OutcomeTracker(() => now), advance: (ms) => (now += ms) };
}

describe('OutcomeTracker: simple queries', () => {
  it('collects columns, rows, bytes and the tag until ReadyForQuery', () => {
    const { t, advance } = tracker();
    t.query(7);
    t.rowDescription(['id', 'name']);
    t.dataRows(2, 40);
    t.dataRows(1, 21);
    expect(t.commandComplete('SELECT 3')).toBeUndefined(); // a Query may run more statements
    advance(12);
    expect(t.readyForQuery()).toEqual([{ operationSeq: 7, command: 'SELECT 3', rows: 3, bytes: 61, columns: ['id', 'name'], durationMs: 12 }]);
    expect(t.pending).toBe(0);
  });

  it('joins the tags of a multi-statement query and sums its counts', () => {
    const { t } = tracker();
    t.query(3);
    t.commandComplete('BEGIN');
    t.commandComplete('UPDATE 4');
    t.commandComplete('DELETE 1');
    t.commandComplete('COMMIT');
    expect(t.readyForQuery()).toEqual([{ operationSeq: 3, command: 'BEGIN; UPDATE 4; DELETE 1; COMMIT', rows: 5, durationMs: 0 }]);
  });

  it('records the error and nothing after it', () => {
    const { t } = tracker();
    t.query(4);
    expect(t.error('22012', 'division by zero')).toEqual({ operationSeq: 4, durationMs: 0, error: { code: '22012', message: 'division by zero' } });
    expect(t.readyForQuery()).toEqual([]);
  });

  it('keeps its place across a refused query (which has no outcome of its own)', () => {
    const { t } = tracker();
    t.query(2);
    t.query(undefined); // refused: the target answers the gateway's sentinel with an error
    t.query(5);
    t.commandComplete('SELECT 1');
    expect(t.readyForQuery().map((o) => o.operationSeq)).toEqual([2]);
    expect(t.error('42601', 'refusal sentinel')).toBeUndefined();
    expect(t.readyForQuery()).toEqual([]);
    t.commandComplete('SELECT 2');
    expect(t.readyForQuery()).toEqual([{ operationSeq: 5, command: 'SELECT 2', rows: 2, durationMs: 0 }]);
  });
});

describe('OutcomeTracker: extended protocol', () => {
  it('ends each Execute at its completion message and pairs it with its Bind', () => {
    const { t, advance } = tracker();
    t.bind('', 10);
    t.execute('');
    t.bind('p2', 12);
    t.execute('p2');
    t.sync();
    t.rowDescription(['x']); // Describe of the first portal
    t.dataRows(1, 11);
    advance(3);
    expect(t.commandComplete('SELECT 1')).toEqual({ operationSeq: 10, command: 'SELECT 1', rows: 1, bytes: 11, columns: ['x'], durationMs: 3 });
    expect(t.commandComplete('INSERT 0 2')).toEqual({ operationSeq: 12, command: 'INSERT 0 2', rows: 2, durationMs: 3 });
    expect(t.readyForQuery()).toEqual([]);
  });

  it('marks executions after a failure in the same pipeline as skipped, not those after the Sync', () => {
    const { t } = tracker();
    t.bind('', 20);
    t.execute('');
    t.bind('', 21);
    t.execute('');
    t.sync();
    t.bind('', 22);
    t.execute('');
    t.sync();
    expect(t.error('23505', 'duplicate key')?.operationSeq).toBe(20);
    expect(t.readyForQuery()).toEqual([{ operationSeq: 21, durationMs: 0, error: SKIPPED }]);
    expect(t.commandComplete('UPDATE 0')).toEqual({ operationSeq: 22, command: 'UPDATE 0', rows: 0, durationMs: 0 });
    expect(t.readyForQuery()).toEqual([]);
  });

  it('ends an Execute on EmptyQueryResponse or PortalSuspended, and re-executions count again', () => {
    const { t } = tracker();
    t.bind('c', 30);
    t.execute('c');
    t.execute('c');
    t.sync();
    t.dataRows(100, 1000);
    expect(t.executionEnded()).toMatchObject({ operationSeq: 30, rows: 100, bytes: 1000 });
    t.dataRows(5, 50);
    expect(t.commandComplete('SELECT 5')).toMatchObject({ operationSeq: 30, rows: 5 });
  });

  it('does not track executions of portals whose Bind was refused or never recorded', () => {
    const { t } = tracker();
    t.bind('', 40);
    t.bind('', undefined); // the refused Bind replaces the portal
    t.execute('');
    t.execute('unknown');
    t.sync();
    expect(t.pending).toBe(0);
    expect(t.error('26000', 'refused')).toBeUndefined();
  });
});

/** A tracker recording the first `limit` rows of each execution. */
function sampling(limit: number, options: { maxValueChars?: number; maxSampleChars?: number } = {}): OutcomeTracker {
  const t = new OutcomeTracker(() => 0);
  t.setResultSampling({ resultRowLimit: limit, ...options });
  return t;
}

/** What the session does for each DataRow: count it, and hand it over while a sample wants it. */
function receive(t: OutcomeTracker, ...rows: string[][]): void {
  for (const row of rows) {
    t.dataRows(1, 10);
    if (t.wantsRows()) t.sampleRow(row);
  }
}

describe('OutcomeTracker: result rows', () => {
  it('records nothing unless sampling is set, and wants no rows then', () => {
    const t = new OutcomeTracker(() => 0);
    t.query(1);
    t.rowDescription(['a']);
    expect(t.wantsRows()).toBe(false);
    t.sampleRow(['x']); // even when handed one
    t.commandComplete('SELECT 1');
    expect(t.readyForQuery()[0]).not.toHaveProperty('resultRows');
  });

  it('keeps the first N rows of an execution; its row count tells how many there were', () => {
    const t = sampling(2);
    t.query(1);
    t.rowDescription(['id', 'email']);
    expect(t.wantsRows()).toBe(true);
    receive(t, ['1', '[EMAIL]'], ['2', '[EMAIL]']);
    expect(t.wantsRows()).toBe(false);
    receive(t, ['3', 'not kept']);
    t.sampleRow(['3', 'handed over anyway']); // still not kept
    t.commandComplete('SELECT 3');
    expect(t.readyForQuery()).toEqual([
      {
        operationSeq: 1,
        command: 'SELECT 3',
        rows: 3,
        bytes: 30,
        columns: ['id', 'email'],
        resultRows: [
          ['1', '[EMAIL]'],
          ['2', '[EMAIL]'],
        ],
        durationMs: 0,
      },
    ]);
  });

  it('records no rows for a result without any', () => {
    const t = sampling(5);
    t.bind('', 3);
    t.execute('');
    t.sync();
    t.rowDescription(['id']);
    expect(t.commandComplete('SELECT 0')).toEqual({ operationSeq: 3, command: 'SELECT 0', rows: 0, bytes: 0, columns: ['id'], durationMs: 0 });
  });

  it('samples each execution of a pipeline separately, each up to the limit', () => {
    const t = sampling(2);
    t.bind('', 10);
    t.execute('');
    t.bind('', 11);
    t.execute('');
    t.sync();
    t.bind('', 12);
    t.execute('');
    t.sync();
    t.rowDescription(['a']);
    receive(t, ['a1'], ['a2'], ['a3']);
    expect(t.commandComplete('SELECT 3')?.resultRows).toEqual([['a1'], ['a2']]);
    t.rowDescription(['b']);
    expect(t.wantsRows()).toBe(true);
    receive(t, ['b1']);
    expect(t.commandComplete('SELECT 1')?.resultRows).toEqual([['b1']]);
    expect(t.wantsRows()).toBe(false); // the next execution is in the next pipeline: not answered yet
    expect(t.readyForQuery()).toEqual([]);
    t.rowDescription(['c']);
    receive(t, ['c1'], ['c2']);
    expect(t.commandComplete('SELECT 2')?.resultRows).toEqual([['c1'], ['c2']]);
  });

  it('keeps the rows sent before an error with it, and attaches none after it until ReadyForQuery', () => {
    const t = sampling(10);
    t.bind('', 20);
    t.execute('');
    t.bind('', 21);
    t.execute('');
    t.sync();
    t.bind('', 22);
    t.execute('');
    t.sync();
    t.rowDescription(['n']);
    receive(t, ['1'], ['2']);
    expect(t.error('22012', 'division by zero')).toMatchObject({ operationSeq: 20, rows: 2, resultRows: [['1'], ['2']] });
    expect(t.wantsRows()).toBe(false);
    receive(t, ['stray']); // the target sends nothing until Sync; if it did, no execution would own it
    t.rowDescription(['stray']);
    expect(t.commandComplete('SELECT 1')).toBeUndefined();
    expect(t.readyForQuery()).toEqual([{ operationSeq: 21, durationMs: 0, error: SKIPPED }]);
    expect(t.wantsRows()).toBe(true);
    receive(t, ['ok']);
    expect(t.commandComplete('SELECT 1')).toEqual({ operationSeq: 22, command: 'SELECT 1', rows: 1, bytes: 10, resultRows: [['ok']], durationMs: 0 });
  });

  it('samples the result described last in a Query of several statements (the one its columns name)', () => {
    const t = sampling(2);
    t.query(5);
    t.rowDescription(['a']);
    receive(t, ['a1'], ['a2']);
    t.commandComplete('SELECT 2');
    t.rowDescription(['b', 'c']);
    expect(t.wantsRows()).toBe(true);
    receive(t, ['b1', 'c1']);
    t.commandComplete('SELECT 1');
    expect(t.readyForQuery()[0]).toMatchObject({ rows: 3, columns: ['b', 'c'], resultRows: [['b1', 'c1']] });
  });

  it('cuts long values to maxValueChars and stops an execution\'s sample at maxSampleChars', () => {
    const t = sampling(10, { maxValueChars: 8, maxSampleChars: 20 });
    t.query(7);
    t.rowDescription(['v', 'b']);
    t.sampleRow(['0123456789', { base64: 'AAECAwQFBgcICQ==' }]); // 8 + 8 chars
    expect(t.wantsRows()).toBe(true);
    t.sampleRow([null, 'abcd']); // 4 more: 20, the row that reaches the budget is kept
    expect(t.wantsRows()).toBe(false);
    t.sampleRow(['x', 'y']);
    t.commandComplete('SELECT 3');
    expect(t.readyForQuery()[0]?.resultRows).toEqual([
      [{ text: '01234567', totalChars: 10 }, { base64: 'AAECAwQF', totalBytes: 10 }],
      [null, 'abcd'],
    ]);
  });

  it('applies a new limit to rows received from then on; 0 turns sampling off', () => {
    const t = sampling(1);
    t.query(1);
    t.sampleRow(['a']);
    t.setResultSampling({ resultRowLimit: 2 });
    t.sampleRow(['b']);
    t.setResultSampling({ resultRowLimit: 0 });
    expect(t.wantsRows()).toBe(false);
    t.sampleRow(['c']);
    expect(t.readyForQuery()[0]?.resultRows).toEqual([['a'], ['b']]);
  });

  it('refuses limits that are not integers of the right sign', () => {
    const t = new OutcomeTracker(() => 0);
    for (const bad of [{ resultRowLimit: -1 }, { resultRowLimit: 1.5 }, { resultRowLimit: Number.NaN }, { resultRowLimit: 1, maxValueChars: 0 }, { resultRowLimit: 1, maxSampleChars: -5 }]) {
      expect(() => t.setResultSampling(bad)).toThrow(RangeError);
    }
  });
});

describe('cutValue', () => {
  it('keeps values that fit, NULL included', () => {
    expect(cutValue('abc', 3)).toBe('abc');
    expect(cutValue(null, 1)).toBeNull();
    const binary = { base64: 'AAEC' };
    expect(cutValue(binary, 4)).toBe(binary);
  });

  it('cuts text to its first characters, never inside a surrogate pair', () => {
    expect(cutValue('abcdef', 4)).toEqual({ text: 'abcd', totalChars: 6 });
    expect(cutValue('abc🚀def', 4)).toEqual({ text: 'abc', totalChars: 8 }); // 🚀 is two UTF-16 units at 3–4
    expect(cutValue('x'.repeat(DEFAULT_MAX_VALUE_CHARS + 1), DEFAULT_MAX_VALUE_CHARS)).toMatchObject({ totalChars: DEFAULT_MAX_VALUE_CHARS + 1 });
  });

  it('cuts base64 on a 4-character boundary, so it decodes to the first bytes; counts the full size in bytes', () => {
    const bytes = Buffer.from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const cut = cutValue({ base64: bytes.toString('base64') }, 7);
    expect(cut).toEqual({ base64: 'AAEC', totalBytes: 11 });
    expect(Buffer.from((cut as { base64: string }).base64, 'base64')).toEqual(bytes.subarray(0, 3));
    expect(cutValue({ base64: Buffer.alloc(10).toString('base64') }, 4)).toMatchObject({ totalBytes: 10 });
    expect(cutValue({ base64: Buffer.alloc(12).toString('base64') }, 4)).toMatchObject({ totalBytes: 12 });
  });
});

describe('rowsAffected', () => {
  it('reads the count at the end of counted command tags only', () => {
    expect(rowsAffected(['INSERT 0 5'])).toBe(5);
    expect(rowsAffected(['UPDATE 3', 'DELETE 2', 'MERGE 1', 'COPY 10', 'FETCH 4', 'MOVE 1', 'SELECT 7'])).toBe(28);
    expect(rowsAffected(['CREATE TABLE', 'BEGIN', 'SET'])).toBeUndefined();
    expect(rowsAffected(['SELECT x'])).toBeUndefined();
  });
});
