/**
 * The PostgreSQL relay is faithful: through the gateway, real clients (node-postgres and
 * a raw wire client) see exactly what the target would have told them, protocol feature
 * by protocol feature — and what must not cross (the token, the target's backend keys,
 * FunctionCall) does not.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serializePassword, serializeQuery, serializeStartupMessage } from '../../src/protocols/postgres/codec.js';
import {
  commandTag,
  copyDataPayload,
  errorFields,
  fe,
  only,
  RawClient,
  readyStatus,
  rowDescriptionNames,
  rows,
  sendCancelRequest,
  types,
} from '../support/raw-client.js';
import { demoConnection, startStack, startTargetPostgres, type StartedPostgres, type Stack } from '../support/stack.js';
import { pollUntil } from '../support/poll.js';
import { startTap, type Tap } from '../support/tap.js';

describe('PostgreSQL front door: a faithful relay', () => {
  let postgres: StartedPostgres;
  let tap: Tap;
  let stack: Stack;
  let token: string;

  const superuser = <R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<R[]> =>
    postgres.pg.query<R>(sql, params, { database: 'app' });

  const raw = (parameters?: Record<string, string>, database = 'demo'): Promise<RawClient> =>
    RawClient.connect({ port: stack.port, database, password: token, ...(parameters ? { parameters } : {}) });

  const agentBackends = async (): Promise<number> =>
    Number(
      (await superuser<{ n: string }>(`SELECT count(*) AS n FROM pg_stat_activity WHERE usename = 'agent_rw' AND backend_type = 'client backend'`))[0]!
        .n,
    );

  /** The agent backend count once sessions closed by earlier tests have finished going. */
  const settledAgentBackends = async (): Promise<number> => {
    let previous = await agentBackends();
    for (let i = 0; i < 50; i++) {
      await new Promise((r) => setTimeout(r, 100));
      const now = await agentBackends();
      if (now === previous) return now;
      previous = now;
    }
    throw new Error('agent backend count never settled');
  };

  beforeAll(async () => {
    postgres = await startTargetPostgres();
    tap = await startTap(postgres.pg.port);
    stack = await startStack({
      postgres,
      connections: (p) => [
        demoConnection(p),
        demoConnection(p, { name: 'tapped', target: p.target({ port: tap.port }) }),
      ],
    });
    token = await stack.token();
    for (const ddl of [
      'CREATE TABLE relay_copy (id int PRIMARY KEY, label text)',
      'CREATE TABLE relay_tx (id int PRIMARY KEY)',
      'CREATE TABLE relay_bulk (id int PRIMARY KEY, payload text)',
      'GRANT SELECT, INSERT, UPDATE, DELETE ON relay_copy, relay_tx, relay_bulk TO agent_rw',
    ]) {
      await superuser(ddl);
    }
  });

  afterAll(async () => {
    await stack?.close();
    await tap?.close();
    await postgres?.pg.stop();
  });

  // ------------------------------------------------------------------ simple query

  describe('simple query protocol', () => {
    it('relays a simple query: RowDescription, DataRows, CommandComplete, ReadyForQuery', async () => {
      const c = await raw();
      try {
        const m = await c.query(`SELECT g AS n, 'row ' || g AS label FROM generate_series(1, 3) g`);
        expect(types(m)).toBe('TDDDCZ');
        expect(rowDescriptionNames(m[0]!)).toEqual(['n', 'label']);
        expect(rows(m)).toEqual([
          ['1', 'row 1'],
          ['2', 'row 2'],
          ['3', 'row 3'],
        ]);
        expect(commandTag(m[4]!)).toBe('SELECT 3');
        expect(readyStatus(m[5]!)).toBe('I');
      } finally {
        await c.close();
      }
    });

    it('answers several statements in one Query with every result and one ReadyForQuery', async () => {
      const c = await raw();
      try {
        const m = await c.query(`SELECT 1 AS a; SELECT 'two' AS b, 2 AS c; SET application_name = 'multi'; SHOW application_name`);
        // application_name is GUC_REPORT: its ParameterStatus comes just before ReadyForQuery.
        expect(types(m)).toBe('TDC' + 'TDC' + 'C' + 'TDC' + 'SZ');
        expect(rows(m)).toEqual([['1'], ['two', '2'], ['multi']]);
        expect(m.filter((x) => x.type === 'C').map(commandTag)).toEqual(['SELECT 1', 'SELECT 1', 'SET', 'SHOW']);
        expect(m.filter((x) => x.type === 'Z')).toHaveLength(1);
      } finally {
        await c.close();
      }
    });

    it('stops a multi-statement Query at an error in the middle, with one ReadyForQuery', async () => {
      const c = await raw();
      try {
        const m = await c.query(`SELECT 1 AS a; SELECT 1/0; SELECT 3 AS never`);
        expect(types(m)).toBe('TDCEZ');
        expect(rows(m)).toEqual([['1']]);
        const e = errorFields(only(m, 'E'));
        expect(e.get('C')).toBe('22012');
        expect(e.get('M')).toBe('division by zero');
        expect(readyStatus(m[m.length - 1]!)).toBe('I');
        // The session is still usable.
        expect(rows(await c.query('SELECT 42'))).toEqual([['42']]);
      } finally {
        await c.close();
      }
    });

    it('answers an empty query with EmptyQueryResponse', async () => {
      const c = await raw();
      try {
        expect(types(await c.query(''))).toBe('IZ');
        expect(types(await c.query('  ;  '))).toBe('IZ');
      } finally {
        await c.close();
      }
    });
  });

  // ------------------------------------------------------------------ extended protocol

  describe('extended query protocol', () => {
    it('relays parameterized queries, reused named prepared statements, binary and NULL parameters (pg)', async () => {
      const client = await stack.connect();
      try {
        const r1 = await client.query('SELECT $1::int + $2::int AS sum, $3::text IS NULL AS is_null', [40, 2, null]);
        expect(r1.rows).toEqual([{ sum: 42, is_null: true }]);

        const named = { name: 'customer_by_id', text: 'SELECT id, full_name FROM customers WHERE id = $1' };
        const a = await client.query({ ...named, values: [1] });
        const b = await client.query({ ...named, values: [2] });
        expect(a.rows[0].id).toBe(1);
        expect(b.rows[0].id).toBe(2);
        expect(a.rows[0].full_name).not.toBe(b.rows[0].full_name);
        const prepared = await client.query(`SELECT name FROM pg_prepared_statements WHERE name = 'customer_by_id'`);
        expect(prepared.rowCount).toBe(1);

        // node-postgres sends Buffers as binary-format parameters.
        const bin = await client.query('SELECT $1::bytea AS b, length($1::bytea) AS n', [Buffer.from([0, 1, 2, 255])]);
        expect(Buffer.from(bin.rows[0].b as Buffer)).toEqual(Buffer.from([0, 1, 2, 255]));
        expect(bin.rows[0].n).toBe(4);
      } finally {
        await client.end();
      }
    });

    it('relays binary-format parameters and results (raw client)', async () => {
      const c = await raw();
      try {
        const int4 = Buffer.alloc(4);
        int4.writeInt32BE(-123456);
        c.send(fe.parse('', 'SELECT $1::int4 * 2 AS doubled, $2::text AS t'), fe.bind('', '', [int4, null], [1]), fe.execute(''), fe.sync());
        const m = await c.readUntilReadyForQuery();
        expect(types(m)).toBe('12DCZ');
        const d = only(m, 'D');
        expect(d.body.readInt16BE(0)).toBe(2);
        expect(d.body.readInt32BE(2)).toBe(4);
        expect(d.body.readInt32BE(6)).toBe(-246912);
        expect(d.body.readInt32BE(10)).toBe(-1); // NULL
      } finally {
        await c.close();
      }
    });

    it('reports transaction status I/T/E in ReadyForQuery across BEGIN, errors, COMMIT and ROLLBACK', async () => {
      const c = await raw();
      try {
        const status = async (sql: string): Promise<string> => {
          const m = await c.query(sql);
          return readyStatus(m[m.length - 1]!);
        };
        expect(await status('BEGIN')).toBe('T');
        expect(await status('INSERT INTO relay_tx VALUES (1)')).toBe('T');
        expect(await status('COMMIT')).toBe('I');
        expect(await status('BEGIN')).toBe('T');
        expect(await status('INSERT INTO relay_tx VALUES (2)')).toBe('T');
        expect(await status('SELECT 1/0')).toBe('E');
        const aborted = await c.query('SELECT 1');
        expect(errorFields(only(aborted, 'E')).get('C')).toBe('25P02');
        expect(readyStatus(aborted[aborted.length - 1]!)).toBe('E');
        expect(await status('ROLLBACK')).toBe('I');
        expect(await status('BEGIN')).toBe('T');
        expect(await status('INSERT INTO relay_tx VALUES (3)')).toBe('T');
        expect(await status('ROLLBACK')).toBe('I');
        const landed = await superuser<{ id: number }>('SELECT id FROM relay_tx ORDER BY id');
        expect(landed.map((r) => r.id)).toEqual([1]);
      } finally {
        await c.close();
      }
    });

    it('answers a pipelined batch of Parse/Bind/Execute/Sync sets in order', async () => {
      const c = await raw();
      try {
        c.send(
          fe.run('SELECT $1::int AS v', ['1']),
          fe.sync(),
          fe.parse('s2', 'SELECT $1::text || $2::text AS v'),
          fe.bind('', 's2', ['a', 'b']),
          fe.execute(''),
          fe.bind('', 's2', ['c', 'd']),
          fe.execute(''),
          fe.sync(),
          fe.run('SELECT 3 AS v'),
          fe.sync(),
        );
        const m = await c.readUntilReadyForQueryCount(3);
        expect(types(m)).toBe('12DCZ' + '12DC2DCZ' + '12DCZ');
        expect(rows(m)).toEqual([['1'], ['ab'], ['cd'], ['3']]);
        expect(c.pending).toHaveLength(0);
      } finally {
        await c.close();
      }
    });

    it('skips to Sync after an error in a pipelined batch, and runs the next batch', async () => {
      const c = await raw();
      try {
        // The error is raised by Execute (not folded at Bind), so BindComplete comes first.
        c.send(
          fe.run('SELECT 1/g FROM generate_series(0, 0) g'),
          fe.run('SELECT 1 AS skipped'),
          fe.sync(),
          fe.run('SELECT 2 AS runs'),
          fe.sync(),
        );
        const m = await c.readUntilReadyForQueryCount(2);
        expect(types(m)).toBe('12E' + 'Z' + '12DCZ');
        expect(errorFields(only(m, 'E')).get('C')).toBe('22012');
        expect(rows(m)).toEqual([['2']]);
      } finally {
        await c.close();
      }
    });

    it('suspends a row-limited Execute with PortalSuspended and resumes it inside a transaction', async () => {
      const c = await raw();
      try {
        expect(readyStatus((await c.query('BEGIN')).at(-1)!)).toBe('T');
        c.send(fe.parse('five', 'SELECT g FROM generate_series(1, 5) g'), fe.bind('cur', 'five'), fe.execute('cur', 2), fe.sync());
        const first = await c.readUntilReadyForQuery();
        expect(types(first)).toBe('12DDsZ');
        expect(rows(first)).toEqual([['1'], ['2']]);
        expect(readyStatus(first.at(-1)!)).toBe('T');

        c.send(fe.execute('cur', 2), fe.execute('cur', 0), fe.sync());
        const rest = await c.readUntilReadyForQuery();
        expect(types(rest)).toBe('DDsDCZ');
        expect(rows(rest)).toEqual([['3'], ['4'], ['5']]);
        expect(commandTag(only(rest, 'C'))).toMatch(/^SELECT \d+$/);
        expect(readyStatus((await c.query('COMMIT')).at(-1)!)).toBe('I');
      } finally {
        await c.close();
      }
    });

    it('relays Describe (statement and portal), Close (statement and portal) and Flush', async () => {
      const c = await raw();
      try {
        // Flush makes the server send what it has without a Sync.
        c.send(fe.parse('d1', 'SELECT $1::int AS x, $2::text AS y'), fe.flush());
        expect(types(await c.readUntil((m) => m.type === '1'))).toBe('1');

        c.send(fe.describe('S', 'd1'), fe.flush());
        const ds = await c.readUntil((m) => m.type === 'T' || m.type === 'n');
        expect(types(ds)).toBe('tT'); // ParameterDescription, RowDescription
        expect(ds[0]!.body.readInt16BE(0)).toBe(2);
        expect(rowDescriptionNames(ds[1]!)).toEqual(['x', 'y']);

        c.send(fe.bind('p1', 'd1', ['7', 'seven']), fe.describe('P', 'p1'), fe.execute('p1'), fe.sync());
        const dp = await c.readUntilReadyForQuery();
        expect(types(dp)).toBe('2TDCZ');
        expect(rows(dp)).toEqual([['7', 'seven']]);

        // NoData for a statement that returns no rows.
        c.send(fe.parse('d2', 'SET work_mem = \'8MB\''), fe.describe('S', 'd2'), fe.sync());
        expect(types(await c.readUntilReadyForQuery())).toBe('1tnZ');

        c.send(fe.close('S', 'd1'), fe.close('P', 'nonexistent-portal'), fe.sync());
        expect(types(await c.readUntilReadyForQuery())).toBe('33Z'); // CloseComplete twice

        c.send(fe.bind('', 'd1', ['1', 'x']), fe.sync());
        const gone = await c.readUntilReadyForQuery();
        expect(types(gone)).toBe('EZ');
        // Refused by the gateway (it knows d1 was closed), with PostgreSQL's own SQLSTATE.
        expect(errorFields(gone[0]!).get('C')).toBe('26000'); // invalid_sql_statement_name
        expect(errorFields(gone[0]!).get('M')).toMatch(/^Portcullis: prepared statement "d1" was not prepared/);
      } finally {
        await c.close();
      }
    });
  });

  // ------------------------------------------------------------------ COPY

  describe('COPY', () => {
    it('relays COPY TO STDOUT', async () => {
      const c = await raw();
      try {
        const m = await c.query(`COPY (SELECT g, 'label ' || g FROM generate_series(1, 4) g) TO STDOUT`);
        expect(types(m)).toBe('HddddcCZ');
        const text = m
          .filter((x) => x.type === 'd')
          .map((x) => copyDataPayload(x).toString('utf8'))
          .join('');
        expect(text).toBe('1\tlabel 1\n2\tlabel 2\n3\tlabel 3\n4\tlabel 4\n');
        expect(commandTag(only(m, 'C'))).toBe('COPY 4');
      } finally {
        await c.close();
      }
    });

    it('relays a COPY TO STDOUT larger than one read, its CopyData split across reads (no masking on the connection)', async () => {
      const c = await raw();
      try {
        // ~3 MB of rows of uneven length: messages straddle the gateway's reads of the target socket.
        const m = await c.query(`COPY (SELECT g, repeat('x', g % 997) FROM generate_series(1, 6000) g) TO STDOUT`);
        const rows = m.filter((x) => x.type === 'd');
        expect(rows).toHaveLength(6000);
        expect(copyDataPayload(rows[5999]!).toString('utf8')).toBe(`6000\t${'x'.repeat(6000 % 997)}\n`);
        expect(commandTag(only(m, 'C'))).toBe('COPY 6000');
      } finally {
        await c.close();
      }
    });

    it('relays COPY FROM STDIN (CopyData, CopyDone) and the rows land', async () => {
      const c = await raw();
      try {
        c.send(fe.query('COPY relay_copy (id, label) FROM STDIN'));
        const start = await c.readUntil((m) => m.type === 'G' || m.type === 'E');
        expect(types(start)).toBe('G');
        // Rows split across CopyData frames at arbitrary points, as clients may do.
        c.send(fe.copyData('1\tone\n2\tt'), fe.copyData('wo\n3\tthree\n'), fe.copyData('4\t\\N\n'), fe.copyDone());
        const done = await c.readUntilReadyForQuery();
        expect(types(done)).toBe('CZ');
        expect(commandTag(done[0]!)).toBe('COPY 4');
        const landed = await superuser<{ id: number; label: string | null }>('SELECT id, label FROM relay_copy WHERE id <= 4 ORDER BY id');
        expect(landed).toEqual([
          { id: 1, label: 'one' },
          { id: 2, label: 'two' },
          { id: 3, label: 'three' },
          { id: 4, label: null },
        ]);
      } finally {
        await c.close();
      }
    });

    it('relays a bulk COPY FROM STDIN larger than any socket buffer (client → target backpressure)', async () => {
      const c = await raw();
      try {
        c.send(fe.query('COPY relay_bulk (id, payload) FROM STDIN'));
        expect(types(await c.readUntil((m) => m.type === 'G' || m.type === 'E'))).toBe('G');
        const n = 60_000;
        const payload = 'p'.repeat(300);
        const frames: Buffer[] = [];
        let chunk = '';
        for (let i = 1; i <= n; i++) {
          chunk += `${i}\t${payload}${i}\n`;
          if (chunk.length > 60_000) {
            frames.push(fe.copyData(chunk));
            chunk = '';
          }
        }
        frames.push(fe.copyData(chunk), fe.copyDone());
        c.send(...frames); // ~18 MB in one write
        const done = await c.readUntilReadyForQuery(30_000);
        expect(types(done)).toBe('CZ');
        expect(commandTag(done[0]!)).toBe(`COPY ${n}`);
        const [stats] = await superuser<{ n: number; bytes: string }>(
          'SELECT count(*)::int AS n, sum(length(payload))::text AS bytes FROM relay_bulk',
        );
        let bytes = 0;
        for (let i = 1; i <= n; i++) bytes += payload.length + String(i).length;
        expect(stats).toEqual({ n, bytes: String(bytes) });
      } finally {
        await c.close();
      }
    });

    it('aborts COPY FROM STDIN on CopyFail and nothing lands', async () => {
      const c = await raw();
      try {
        c.send(fe.query('COPY relay_copy (id, label) FROM STDIN'));
        expect(types(await c.readUntil((m) => m.type === 'G' || m.type === 'E'))).toBe('G');
        c.send(fe.copyData('100\thundred\n101\thundred and one\n'), fe.copyFail('agent changed its mind'));
        const m = await c.readUntilReadyForQuery();
        expect(types(m)).toBe('EZ');
        const e = errorFields(m[0]!);
        expect(e.get('C')).toBe('57014');
        expect(e.get('M')).toContain('agent changed its mind');
        const landed = await superuser('SELECT id FROM relay_copy WHERE id >= 100');
        expect(landed).toEqual([]);
        expect(rows(await c.query('SELECT 1'))).toEqual([['1']]);
      } finally {
        await c.close();
      }
    });
  });

  // ------------------------------------------------------------------ async messages

  describe('asynchronous messages', () => {
    it('delivers NOTIFY between two gateway sessions and from the target itself', async () => {
      const listener = await stack.connect();
      const notifier = await stack.connect();
      try {
        const received: Array<{ channel: string; payload: string | undefined }> = [];
        listener.on('notification', (n) => received.push({ channel: n.channel, payload: n.payload }));
        await listener.query('LISTEN relay_channel');
        await notifier.query(`NOTIFY relay_channel, 'from another agent'`);
        await pollUntil(async () => received.length, (n) => n >= 1, { what: 'the first notification' });
        await superuser(`SELECT pg_notify('relay_channel', 'from the superuser')`);
        await pollUntil(async () => received.length, (n) => n >= 2, { what: 'the second notification' });
        expect(received).toEqual([
          { channel: 'relay_channel', payload: 'from another agent' },
          { channel: 'relay_channel', payload: 'from the superuser' },
        ]);
      } finally {
        await listener.end();
        await notifier.end();
      }
    });

    it('relays notices (RAISE NOTICE) and errors with their real SQLSTATE and message', async () => {
      const client = await stack.connect();
      try {
        const notices: Array<{ message?: string | undefined; severity?: string | undefined }> = [];
        client.on('notice', (n) => notices.push(n));
        await client.query(`DO $$ BEGIN RAISE NOTICE 'relayed notice %', 42; END $$`);
        await pollUntil(async () => notices.length, (n) => n >= 1, { what: 'the notice' });
        expect(notices[0]!.message).toBe('relayed notice 42');
        expect(notices[0]!.severity).toBe('NOTICE');

        const err = (await client.query('SELECT 1/0').catch((e: unknown) => e)) as pg.DatabaseError;
        expect(err).toBeInstanceOf(Error);
        expect(err.code).toBe('22012');
        expect(err.message).toBe('division by zero');
        expect(err.severity).toBe('ERROR');
        // Same connection keeps working.
        expect((await client.query('SELECT 2 AS two')).rows).toEqual([{ two: 2 }]);
      } finally {
        await client.end();
      }
    });
  });

  // ------------------------------------------------------------------ cancel

  describe('CancelRequest', () => {
    it('hands the client its own BackendKeyData, not the target backend pid', async () => {
      const c = await raw();
      try {
        expect(c.processId).not.toBe(0);
        expect(c.secretKey.length).toBe(4);
        const pid = Number(rows(await c.query('SELECT pg_backend_pid()'))[0]![0]);
        expect(pid).toBeGreaterThan(0);
        expect(c.processId).not.toBe(pid);
      } finally {
        await c.close();
      }
    });

    it("cancels a running query via the gateway's BackendKeyData", async () => {
      const c = await raw();
      try {
        c.send(fe.query('SELECT pg_sleep(30)'));
        // Let the statement reach the target before cancelling.
        await pollUntil(
          () => superuser<{ n: string }>(`SELECT count(*) AS n FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(30)' AND state = 'active'`),
          (r) => Number(r[0]!.n) === 1,
          { what: 'pg_sleep to be running' },
        );
        const started = Date.now();
        await sendCancelRequest(stack.port, c.processId, c.secretKey);
        const m = await c.readUntilReadyForQuery(10_000);
        expect(Date.now() - started).toBeLessThan(5_000);
        const e = errorFields(only(m, 'E'));
        expect(e.get('C')).toBe('57014');
        expect(e.get('M')).toBe('canceling statement due to user request');
        expect(readyStatus(m.at(-1)!)).toBe('I');
        expect(rows(await c.query('SELECT 1'))).toEqual([['1']]);
      } finally {
        await c.close();
      }
    });

    it('ignores a CancelRequest with a wrong key, or with the target pid', async () => {
      const c = await raw();
      try {
        const pid = Number(rows(await c.query('SELECT pg_backend_pid()'))[0]![0]);
        c.send(fe.query('SELECT pg_sleep(1.5) AS slept'));
        await pollUntil(
          () => superuser<{ n: string }>(`SELECT count(*) AS n FROM pg_stat_activity WHERE pid = $1 AND state = 'active'`, [pid]),
          (r) => Number(r[0]!.n) === 1,
          { what: 'pg_sleep to be running' },
        );
        const wrongKey = Buffer.from(c.secretKey.map((b) => b ^ 0xff));
        await sendCancelRequest(stack.port, c.processId, wrongKey);
        await sendCancelRequest(stack.port, pid, c.secretKey);
        await sendCancelRequest(stack.port, c.processId + 1, c.secretKey);
        const m = await c.readUntilReadyForQuery(10_000);
        expect(types(m)).toBe('TDCZ');
      } finally {
        await c.close();
      }
    });
  });

  // ------------------------------------------------------------------ transport

  describe('transport', () => {
    it('reassembles a pipelined batch sent one byte per TCP segment', async () => {
      const c = await raw();
      try {
        const batch = Buffer.concat([
          fe.run('SELECT $1::text AS v', ['split-é']),
          fe.sync(),
          fe.query('SELECT 2 AS a; SELECT 3 AS b'),
          fe.run('SELECT 1/g FROM generate_series(0, 0) g'),
          fe.sync(),
        ]);
        const reading = c.readUntilReadyForQueryCount(3, 30_000);
        await c.sendByteByByte(batch);
        const m = await reading;
        expect(types(m)).toBe('12DCZ' + 'TDCTDCZ' + '12EZ');
        expect(rows(m)).toEqual([['split-é'], ['2'], ['3']]);
      } finally {
        await c.close();
      }
    });

    it('relays a large result complete and in order', async () => {
      const client = await stack.connect();
      try {
        const n = 200_000;
        const r = await client.query(`SELECT g AS i, 'row-' || g || '-' || repeat('x', g % 50) AS t FROM generate_series(1, $1::int) g`, [n]);
        expect(r.rowCount).toBe(n);
        expect(r.rows).toHaveLength(n);
        for (let i = 0; i < n; i++) {
          const row = r.rows[i] as { i: number; t: string };
          const g = i + 1;
          if (row.i !== g || row.t !== `row-${g}-${'x'.repeat(g % 50)}`) {
            throw new Error(`row ${i} is wrong: ${JSON.stringify(row)}`);
          }
        }
      } finally {
        await client.end();
      }
    });
  });

  // ------------------------------------------------------------------ session ends

  describe('session termination', () => {
    it('ends the upstream backend when the client sends Terminate', async () => {
      const before = await settledAgentBackends();
      const c = await raw();
      const pid = Number(rows(await c.query('SELECT pg_backend_pid()'))[0]![0]);
      expect(await agentBackends()).toBe(before + 1);
      await c.close();
      await pollUntil(agentBackends, (n) => n === before, { what: 'the agent backend count to return' });
      expect(await superuser('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [pid])).toEqual([]);
    });

    it('tells the client when the target kills its backend, and leaves other sessions alone', async () => {
      const victim = await raw();
      const bystander = await stack.connect();
      try {
        const pid = Number(rows(await victim.query('SELECT pg_backend_pid()'))[0]![0]);
        const [killed] = await superuser<{ ok: boolean }>('SELECT pg_terminate_backend($1) AS ok', [pid]);
        expect(killed!.ok).toBe(true);
        const m = await victim.readUntilClosed();
        const fatal = m.filter((x) => x.type === 'E').map(errorFields);
        expect(fatal).toHaveLength(1); // the target's own FATAL, and nothing after it
        expect(fatal[0]!.get('S')).toBe('FATAL');
        expect(fatal[0]!.get('C')).toBe('57P01');
        expect(fatal[0]!.get('M')).toMatch(/terminating connection due to administrator command/);
        expect(victim.isClosed).toBe(true);
        expect((await bystander.query('SELECT 1 AS ok')).rows).toEqual([{ ok: 1 }]);
      } finally {
        victim.socket.destroy();
        await bystander.end();
      }
    });
  });

  // ------------------------------------------------------------------ refused messages

  it('refuses FunctionCall with a clear error and keeps the session usable', async () => {
    const c = await raw();
    try {
      const [fn] = await superuser<{ oid: number }>(`SELECT 'pg_backend_pid'::regproc::oid::int AS oid`);
      c.send(fe.functionCall(fn!.oid));
      const m = await c.readUntilReadyForQuery();
      expect(types(m)).toBe('EZ');
      const e = errorFields(m[0]!);
      expect(e.get('S')).toBe('ERROR');
      expect(e.get('C')).toBe('42501');
      expect(e.get('M')).toMatch(/FunctionCall .*not supported.*SELECT/);
      expect(readyStatus(m[1]!)).toBe('I');
      expect(rows(await c.query('SELECT 5'))).toEqual([['5']]);
    } finally {
      await c.close();
    }
  });

  // ------------------------------------------------------------------ startup parameters

  describe('startup parameters and credentials', () => {
    it('relays application_name, ignores the agent-chosen user, and never shows the token upstream', async () => {
      const c = await RawClient.connect({
        port: stack.port,
        database: 'demo',
        user: 'postgres',
        password: token,
        parameters: { application_name: 'relay-test-app' },
      });
      try {
        expect(c.parameters.get('application_name')).toBe('relay-test-app');
        const [who] = rows(await c.query('SELECT current_user, session_user, pg_backend_pid(), current_setting($$application_name$$)'));
        expect(who!.slice(0, 2)).toEqual(['agent_rw', 'agent_rw']);
        expect(who![3]).toBe('relay-test-app');
        const activity = await superuser(`SELECT * FROM pg_stat_activity`);
        const mine = activity.find((r) => r.pid === Number(who![2]));
        expect(mine?.usename).toBe('agent_rw');
        expect(mine?.application_name).toBe('relay-test-app');
        const everything = JSON.stringify(activity);
        expect(everything).not.toContain(token);
        expect(everything).not.toContain(token.split('.')[2]!); // not even the signature
      } finally {
        await c.close();
      }
    });

    it('sends the target only the gateway credentials: the token never crosses upstream', async () => {
      const before = tap.sent.length;
      const c = await RawClient.connect({
        port: stack.port,
        database: 'tapped',
        user: 'mallory',
        password: token,
        parameters: { application_name: 'tapped-app' },
      });
      try {
        expect(rows(await c.query(`SELECT current_user, 'tap-marker'`))).toEqual([['agent_rw', 'tap-marker']]);
      } finally {
        await c.close();
      }
      const upstream = Buffer.concat(tap.sent.slice(before));
      expect(upstream.includes('tap-marker')).toBe(true); // the tap saw the session
      expect(upstream.includes('agent_rw\0')).toBe(true);
      expect(upstream.includes('tapped-app\0')).toBe(true);
      expect(upstream.includes('mallory')).toBe(false);
      for (const part of token.split('.')) expect(upstream.includes(part)).toBe(false);
    });

    it('does not relay startup parameters outside the allow-list, and says so', async () => {
      const c = await raw({ search_path: 'pg_catalog', work_mem: '64kB', statement_timeout: '1500' });
      try {
        const [r] = rows(
          await c.query(`SELECT current_setting('search_path'), current_setting('work_mem'), current_setting('statement_timeout')`),
        );
        expect(r).toEqual(['"$user", public', '4MB', '1500ms']);
        const warning = c.startupMessages.find((m) => m.type === 'N');
        expect(warning && errorFields(warning).get('M')).toBe('Portcullis ignored startup parameters "search_path", "work_mem"');
      } finally {
        await c.close();
      }
    });
  });

  it('serves a raw client that queries right after the password without waiting (startup pipelining)', async () => {
    // Some clients send their first query before they read AuthenticationOk.
    const c = await RawClient.open(stack.port);
    try {
      c.sendRaw(serializeStartupMessage({ user: 'agent', database: 'demo' }));
      await c.readUntil((m) => m.type === 'R');
      c.send(serializePassword(token), serializeQuery('SELECT 77 AS early'));
      const m = await c.readUntilReadyForQueryCount(2);
      expect(rows(m)).toEqual([['77']]);
    } finally {
      await c.close();
    }
  });

  describe('client that goes away', () => {
    const backendGone = (pid: number): Promise<void> =>
      pollUntil(
        () => superuser<{ n: string }>('SELECT count(*) AS n FROM pg_stat_activity WHERE pid = $1', [pid]),
        (r) => Number(r[0]!.n) === 0,
        { what: `backend ${pid} to end`, timeoutMs: 5_000 },
      ).then(() => undefined);

    it('ends the upstream backend when the client just drops the socket', async () => {
      const c = await raw();
      const pid = Number(rows(await c.query('SELECT pg_backend_pid()'))[0]![0]);
      c.socket.destroy();
      await backendGone(pid);
    });

    it('ends the upstream backend when a client that stopped reading mid-result drops the socket', async () => {
      const c = await raw();
      const pid = Number(rows(await c.query('SELECT pg_backend_pid()'))[0]![0]);
      c.socket.pause();
      c.send(fe.query(`SELECT repeat('x', 1000) FROM generate_series(1, 10000000)`));
      // Backpressure reaches the target: its backend blocks writing to the gateway.
      await pollUntil(
        () => superuser<{ wait_event: string | null }>('SELECT wait_event FROM pg_stat_activity WHERE pid = $1', [pid]),
        (r) => r[0]?.wait_event === 'ClientWrite',
        { what: 'the target backend to block on ClientWrite' },
      );
      c.socket.destroy();
      await backendGone(pid);
    });

    it('cancels a running statement when its client vanishes, instead of letting it run on', async () => {
      const c = await raw();
      const pid = Number(rows(await c.query('SELECT pg_backend_pid()'))[0]![0]);
      c.send(fe.query('SELECT pg_sleep(60)'));
      await pollUntil(
        () => superuser<{ state: string }>('SELECT state FROM pg_stat_activity WHERE pid = $1', [pid]),
        (r) => r[0]?.state === 'active',
        { what: 'the statement to run' },
      );
      c.socket.destroy();
      await backendGone(pid);
    });
  });

  it('explains a result row larger than the gateway relays, instead of calling the target invalid', async () => {
    const c = await raw();
    try {
      c.send(fe.query(`SELECT repeat('x', 2 * 1024 * 1024) AS big`));
      const m = await c.readUntilClosed();
      const e = errorFields(m.at(-1)!);
      expect(e.get('S')).toBe('FATAL');
      expect(e.get('C')).toBe('54000');
      expect(e.get('M')).toMatch(/exceeds the limit of 1048576 bytes/);
    } finally {
      c.socket.destroy();
    }
  });
});
