import { describe, expect, it } from 'vitest';
import { OutcomeTracker, SKIPPED, rowsAffected } from '../../../src/protocols/postgres/outcome-tracker.js';

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

describe('rowsAffected', () => {
  it('reads the count at the end of counted command tags only', () => {
    expect(rowsAffected(['INSERT 0 5'])).toBe(5);
    expect(rowsAffected(['UPDATE 3', 'DELETE 2', 'MERGE 1', 'COPY 10', 'FETCH 4', 'MOVE 1', 'SELECT 7'])).toBe(28);
    expect(rowsAffected(['CREATE TABLE', 'BEGIN', 'SET'])).toBeUndefined();
    expect(rowsAffected(['SELECT x'])).toBeUndefined();
  });
});
