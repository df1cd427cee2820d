/**
 * What the recording keeps of each operation beyond its decision: the bind parameters of
 * executions of prepared statements (recorded before the Bind is forwarded) and the outcome
 * of each execution (command tag, rows returned or affected, bytes, columns, duration, error),
 * driven through the live gateway by node-postgres and a raw wire client.
 */
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawClient, errorFields, fe, types } from '../support/raw-client.js';
import { pollUntil } from '../support/poll.js';
import type { RuleConfig } from '../../src/config/types.js';
import { demoConnection, startStack, type Stack } from '../support/stack.js';

/** Dynamic SQL is refused unless a rule allows it by name; this permissive test policy does. */
const ALLOW_DYNAMIC_SQL: RuleConfig = {
  name: 'dynamic-sql-ok',
  when: {
    identity: undefined,
    sql: { classes: undefined, kinds: undefined, tables: undefined, functions: undefined, flags: ['dynamic_sql'], unparseable: false },
  },
  effect: 'allow',
  reason: undefined,
  review: undefined,
};

interface Recorded {
  readonly seq: number;
  readonly type: string;
  readonly data: Record<string, unknown>;
}

/**
 * The events of each session started at or after `since` (epoch ms), in order of start —
 * or undefined while any of them is still open. (The database takes recordings from the
 * journal a moment after they are made, so sessions are picked by start time, not by count.)
 */
function sessionsSince(stack: Stack, since: number): Recorded[][] | undefined {
  const db = new Database(path.join(stack.dataDir, 'portcullis.db'), { readonly: true });
  try {
    const rows = db.prepare('SELECT id, ended_at AS endedAt FROM sessions WHERE started_at >= ? ORDER BY started_at, id').all(since) as {
      id: string;
      endedAt: number | null;
    }[];
    if (rows.some((row) => row.endedAt === null)) return undefined;
    const select = db.prepare('SELECT seq, type, payload FROM events WHERE session_id = ? ORDER BY seq');
    return rows.map(({ id }) =>
      (select.all(id) as { seq: number; type: string; payload: string }[]).map((e) => ({ seq: e.seq, type: e.type, data: JSON.parse(e.payload) })),
    );
  } finally {
    db.close();
  }
}

/** Runs `work` in a fresh session and returns the events of the last session it started, once all have ended. */
async function recordSession(stack: Stack, work: (client: import('pg').Client) => Promise<void>): Promise<Recorded[]> {
  const since = Date.now();
  const client = await stack.connect();
  try {
    await work(client);
  } finally {
    await client.end();
  }
  const sessions = await pollUntil(
    async () => sessionsSince(stack, since),
    (s) => s !== undefined && s.length > 0,
    { what: 'the sessions to end' },
  );
  return sessions!.at(-1)!;
}

/** The outcome recorded for the operation `op`. */
function outcomeOf(events: readonly Recorded[], op: Recorded): Record<string, unknown> | undefined {
  return events.find((e) => e.type === 'outcome' && e.data.operationSeq === op.seq)?.data;
}

function operations(events: readonly Recorded[], via?: string): Recorded[] {
  return events.filter((e) => e.type === 'operation' && (via === undefined || e.data.via === via));
}

describe('recording outcomes and bind parameters', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack({ connections: (postgres) => [demoConnection(postgres, { rules: [ALLOW_DYNAMIC_SQL] })] });
    const app = { database: 'app' };
    await stack.postgres.pg.query('CREATE TABLE outcome_items (id int PRIMARY KEY, name text)', [], app);
    await stack.postgres.pg.query("INSERT INTO outcome_items SELECT g, 'item ' || g FROM generate_series(1, 20) g", [], app);
    await stack.postgres.pg.query('GRANT ALL ON outcome_items TO agent_rw', [], app);
  }, 120_000);

  afterAll(async () => {
    await stack?.close();
  });

  it('records a simple query with its rows, bytes, columns and duration', async () => {
    const events = await recordSession(stack, async (c) => {
      await c.query('SELECT id, name FROM outcome_items WHERE id <= 3 ORDER BY id');
    });
    const [op] = operations(events, 'simple-query');
    expect(op!.data.text).toBe('SELECT id, name FROM outcome_items WHERE id <= 3 ORDER BY id');
    const outcome = outcomeOf(events, op!);
    expect(outcome).toMatchObject({ command: 'SELECT 3', rows: 3, columns: ['id', 'name'] });
    expect(outcome!.bytes).toBeGreaterThan(3 * 7);
    expect(outcome!.durationMs).toBeGreaterThanOrEqual(0);
    // Outcomes come after their operation and before the session's end.
    expect(events.indexOf(events.find((e) => e.data === outcome)!)).toBeGreaterThan(events.indexOf(op!));
    expect(events.at(-1)!.type).toBe('session-end');
  });

  it('records rows affected for writes and each statement of a multi-statement query', async () => {
    const events = await recordSession(stack, async (c) => {
      await c.query("UPDATE outcome_items SET name = name || '!' WHERE id <= 4");
      await c.query('SELECT 1; SELECT 2 UNION SELECT 3');
    });
    const [update, multi] = operations(events, 'simple-query');
    expect(outcomeOf(events, update!)).toMatchObject({ command: 'UPDATE 4', rows: 4 });
    expect(outcomeOf(events, update!)).not.toHaveProperty('columns');
    expect(outcomeOf(events, multi!)).toMatchObject({ command: 'SELECT 1; SELECT 2', rows: 3 });
  });

  it('records the error a statement ended with', async () => {
    const events = await recordSession(stack, async (c) => {
      await expect(c.query('SELECT 1 / 0')).rejects.toThrow(/division by zero/);
    });
    const [op] = operations(events, 'simple-query');
    expect(outcomeOf(events, op!)).toMatchObject({ error: { code: '22012', message: 'division by zero' } });
  });

  it('records each execution of a prepared statement with its parameters, before forwarding it', async () => {
    const events = await recordSession(stack, async (c) => {
      const named = { name: 'by-id', text: 'SELECT name FROM outcome_items WHERE id = $1', values: [5] };
      await c.query(named);
      await c.query({ ...named, values: [6] });
      await c.query('SELECT $1::text AS t, $2::int AS n, $3::text AS nothing', ['naïve ☃', 42, null]);
    });
    const parses = operations(events, 'parse');
    const binds = operations(events, 'bind');
    // The named statement is parsed (and decided) once, then executed twice.
    expect(parses.map((p) => p.data.text)).toEqual([
      'SELECT name FROM outcome_items WHERE id = $1',
      'SELECT $1::text AS t, $2::int AS n, $3::text AS nothing',
    ]);
    expect(binds.map((b) => [b.data.text, b.data.parameters])).toEqual([
      ['SELECT name FROM outcome_items WHERE id = $1', ['5']],
      ['SELECT name FROM outcome_items WHERE id = $1', ['6']],
      ['SELECT $1::text AS t, $2::int AS n, $3::text AS nothing', ['naïve ☃', '42', null]],
    ]);
    expect(binds.every((b) => b.data.effect === 'allow')).toBe(true);
    expect(outcomeOf(events, binds[0]!)).toMatchObject({ command: 'SELECT 1', rows: 1, columns: ['name'] });
    expect(outcomeOf(events, binds[2]!)).toMatchObject({ command: 'SELECT 1', rows: 1, columns: ['t', 'n', 'nothing'] });
    // Outcomes belong to executions, not to the Parse that decided the statement.
    expect(parses.map((p) => outcomeOf(events, p))).toEqual([undefined, undefined]);
  });

  it('records binary parameters as base64, and executions the target skipped after an error', async () => {
    const events = await recordSession(stack, async () => {
      const c = await RawClient.connect({ port: stack.port, password: await stack.token(), database: 'demo' });
      try {
        c.send(
          fe.parse('', 'SELECT length($1::bytea) AS n'),
          fe.bind('', '', [Buffer.from([0, 1, 2, 255])]),
          fe.execute(''),
          fe.parse('boom', 'SELECT 1 / $1::int'),
          fe.bind('', 'boom', ['0']),
          fe.execute(''),
          fe.bind('', 'boom', ['1']),
          fe.execute(''),
          fe.sync(),
        );
        const replies = await c.readUntilReadyForQuery();
        // 1 / 0 is folded when the Bind plans the statement: the Bind fails, so its execution does.
        expect(types(replies)).toBe('12DC1EZ');
        expect(errorFields(replies[5]!).get('C')).toBe('22012');
      } finally {
        await c.close();
      }
    });
    const binds = operations(events, 'bind');
    expect(binds.map((b) => b.data.parameters)).toEqual([[{ base64: Buffer.from([0, 1, 2, 255]).toString('base64') }], ['0'], ['1']]);
    expect(outcomeOf(events, binds[0]!)).toMatchObject({ command: 'SELECT 1', rows: 1 });
    expect(outcomeOf(events, binds[1]!)).toMatchObject({ error: { code: '22012' } });
    expect(outcomeOf(events, binds[2]!)).toMatchObject({ error: { code: '25P02' } });
  });

  it('refuses and records a Bind of a statement not prepared through the gateway', async () => {
    // A statement created on the server behind the gateway's back (here by dynamic SQL in a
    // DO block, which this test policy allows) must not run unchecked by name.
    const events = await recordSession(stack, async () => {
      const c = await RawClient.connect({ port: stack.port, password: await stack.token(), database: 'demo' });
      try {
        c.send(fe.query("DO $$ BEGIN EXECUTE 'PREPARE sneaky AS DELETE FROM outcome_items'; END $$"));
        expect(types(await c.readUntilReadyForQuery())).toBe('CZ');
        c.send(fe.bind('', 'sneaky'), fe.execute(''), fe.sync());
        const replies = await c.readUntilReadyForQuery();
        expect(types(replies)).toBe('EZ');
        expect(errorFields(replies[0]!).get('C')).toBe('26000');
        expect(errorFields(replies[0]!).get('M')).toMatch(/prepared statement "sneaky" was not prepared \(and allowed\) through Portcullis/);
      } finally {
        await c.close();
      }
    });
    const [refused] = operations(events, 'bind');
    expect(refused!.data).toMatchObject({ effect: 'deny', rule: 'protocol' });
    expect(await stack.postgres.pg.query('SELECT count(*)::int AS n FROM outcome_items', [], { database: 'app' })).toEqual([{ n: 20 }]);
  });
});
