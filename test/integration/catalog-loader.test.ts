/**
 * loadCatalog and CatalogCache against a real embedded PostgreSQL (and, for answers a
 * real server never gives, a scripted one): what the snapshot holds, that it agrees with
 * what RowDescription reports, how loads fail, and how the cache shares and paces loads.
 */
import net from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Catalog } from '../../src/masking/catalog.js';
import { CatalogCache, catalogCacheFor } from '../../src/protocols/postgres/catalog-cache.js';
import { CatalogError, loadCatalog, type CatalogLoadOptions, type CatalogSource } from '../../src/protocols/postgres/catalog-loader.js';
import { Be, serializeAuthenticationOk, serializeReadyForQuery } from '../../src/protocols/postgres/codec.js';
import { pollUntil } from '../support/poll.js';
import { freePort } from '../support/ports.js';
import { AGENT_DB_PASSWORD, startTargetPostgres, type StartedPostgres } from '../support/stack.js';

const ODD_SCHEMA = 'we.ird schema ✓';
const ODD_TABLE = 'odd.table name';
const ODD_COLUMN = 'col with "quotes", dots. and spaces';
const OPTIONS: CatalogLoadOptions = { maxFrameBytes: 1 << 20 };

let postgres: StartedPostgres;
let source: CatalogSource;
let catalog: Catalog;

const ident = (name: string): string => `"${name.replaceAll('"', '""')}"`;

beforeAll(async () => {
  postgres = await startTargetPostgres();
  const app = { database: 'app' };
  const odd = `${ident(ODD_SCHEMA)}.${ident(ODD_TABLE)}`;
  for (const sql of [
    `CREATE SCHEMA ${ident(ODD_SCHEMA)}`,
    `CREATE TABLE ${odd} (id int, ${ident(ODD_COLUMN)} text, "naïve ✓" varchar(10), gone text, tail bigint)`,
    `ALTER TABLE ${odd} DROP COLUMN gone`,
    `CREATE DOMAIN email_text AS text`,
    `CREATE DOMAIN work_email AS email_text`,
    `CREATE TABLE contacts (id int, email email_text, work work_email)`,
    `CREATE VIEW customer_emails AS SELECT id, email AS address FROM customers`,
    `CREATE MATERIALIZED VIEW order_totals AS SELECT customer_id, sum(amount_cents) AS total FROM orders GROUP BY customer_id`,
    `CREATE TABLE events (id int, region text) PARTITION BY LIST (region)`,
    `CREATE TABLE events_eu PARTITION OF events FOR VALUES IN ('eu')`,
    `CREATE INDEX contacts_email ON contacts (email)`,
    `CREATE SEQUENCE lonely_seq`,
    // Name resolution: a schema named after the role ("$user") and one that shadows public.
    `CREATE SCHEMA agent_rw`,
    `CREATE TABLE agent_rw.customers (mine int)`,
    `CREATE SCHEMA shadow`,
    `CREATE TABLE shadow.customers (shadowed int)`,
    `GRANT USAGE ON SCHEMA ${ident(ODD_SCHEMA)}, agent_rw, shadow TO agent_rw`,
    `GRANT SELECT ON ${odd}, contacts, customer_emails, order_totals, events, agent_rw.customers TO agent_rw`,
  ]) {
    await postgres.pg.query(sql, [], app);
  }
  source = { name: 'demo', target: postgres.target() };
  catalog = await loadCatalog(source, OPTIONS);
});

afterAll(async () => {
  await postgres?.pg.stop();
});

function relation(schema: string, name: string) {
  const r = catalog.resolve(schema, name, []);
  if (!r) throw new Error(`${schema}.${name} is not in the catalog`);
  return r;
}

const columnsOf = (schema: string, name: string): Array<[string, number]> =>
  relation(schema, name).columns.map((c) => [c.name, c.attnum]);

async function typeOid(name: string): Promise<number> {
  const [row] = await postgres.pg.query<{ oid: number }>('SELECT $1::regtype::oid AS oid', [name], { database: 'app' });
  return Number(row!.oid);
}

function agentClient(): pg.Client {
  const t = postgres.target();
  return new pg.Client({ host: t.host, port: t.port, database: t.database, user: t.user, password: AGENT_DB_PASSWORD });
}

function superuserClient(): pg.Client {
  return new pg.Client({
    host: postgres.pg.host,
    port: postgres.pg.port,
    database: 'app',
    user: postgres.pg.superuser,
    password: postgres.pg.superuserPassword,
    ssl: { ca: postgres.pg.caCertPem },
  });
}

describe('loadCatalog: what the snapshot holds', () => {
  it('lists tables with their live columns in attnum order, odd names intact, dropped columns absent', () => {
    expect(relation('public', 'customers')).toMatchObject({ kind: 'table', schema: 'public', name: 'customers' });
    expect(columnsOf('public', 'customers').map(([n]) => n)).toEqual(['id', 'full_name', 'email', 'card_number', 'phone', 'created_at']);
    // `gone` was attnum 4: the survivors keep their attnums, as RowDescription reports them.
    expect(columnsOf(ODD_SCHEMA, ODD_TABLE)).toEqual([
      ['id', 1],
      [ODD_COLUMN, 2],
      ['naïve ✓', 3],
      ['tail', 5],
    ]);
    expect(relation(ODD_SCHEMA, ODD_TABLE).definition).toBeUndefined();
  });

  it('records each column type OID', async () => {
    const types = relation(ODD_SCHEMA, ODD_TABLE).columns.map((c) => c.typeOid);
    expect(types).toEqual([await typeOid('int4'), await typeOid('text'), await typeOid('varchar'), await typeOid('int8')]);
  });

  it('holds views and materialized views with definitions that name relations schema-qualified', () => {
    const view = relation('public', 'customer_emails');
    expect(view.kind).toBe('view');
    expect(view.columns.map((c) => c.name)).toEqual(['id', 'address']);
    expect(view.definition).toMatch(/FROM public\.customers/);
    const matview = relation('public', 'order_totals');
    expect(matview.kind).toBe('materialized-view');
    expect(matview.definition).toMatch(/FROM public\.orders/);
    expect(matview.definition).toMatch(/sum\(/);
  });

  it('includes partitioned tables and their partitions, and system catalogs and views', () => {
    expect(relation('public', 'events').kind).toBe('partitioned-table');
    expect(relation('public', 'events_eu').kind).toBe('table');
    expect(relation('pg_catalog', 'pg_class').kind).toBe('table');
    expect(relation('pg_catalog', 'pg_stat_activity').kind).toBe('view');
    expect(relation('pg_catalog', 'pg_stat_activity').definition).toBeTruthy();
    expect(relation('information_schema', 'columns').kind).toBe('view');
  });

  it('leaves out indexes, sequences and TOAST tables', () => {
    const names = catalog.relations.map((r) => r.name);
    expect(names).not.toContain('contacts_email');
    expect(names).not.toContain('customers_pkey');
    expect(names).not.toContain('lonely_seq');
    expect(names).not.toContain('customers_id_seq');
    expect(catalog.relations.some((r) => r.schema === 'pg_toast')).toBe(false);
    expect(catalog.relations.length).toBeGreaterThan(150); // pg_catalog and information_schema alone
  });

  it('knows the text-like types, domains over them (also nested) included', async () => {
    for (const t of ['text', 'varchar', 'bpchar', 'name', 'email_text', 'work_email']) {
      expect(catalog.textTypeOids.has(await typeOid(t)), t).toBe(true);
    }
    for (const t of ['int4', 'uuid', 'bytea', 'jsonb', 'text[]', 'date']) {
      expect(catalog.textTypeOids.has(await typeOid(t)), t).toBe(false);
    }
    const contacts = relation('public', 'contacts');
    expect(contacts.columns.map((c) => c.typeOid)).toEqual([await typeOid('int4'), await typeOid('email_text'), await typeOid('work_email')]);
  });

  it('reports the session user', () => {
    expect(catalog.user).toBe('agent_rw');
  });

  it('resolves unqualified names through search_path as PostgreSQL does', () => {
    expect(catalog.resolve(undefined, 'customers', ['public'])?.columns[0]?.name).toBe('id');
    expect(catalog.resolve(undefined, 'customers', ['$user', 'public'])?.schema).toBe('agent_rw');
    expect(catalog.resolve(undefined, 'customers', ['shadow', 'public'])?.schema).toBe('shadow');
    expect(catalog.resolve(undefined, 'pg_class', ['public'])?.schema).toBe('pg_catalog');
    expect(catalog.resolve(undefined, ODD_TABLE, [ODD_SCHEMA])?.schema).toBe(ODD_SCHEMA);
    expect(catalog.resolve(undefined, 'customer_emails', ['shadow'])).toBeUndefined();
  });

  it('agrees with the table OIDs, attribute numbers and types that RowDescription reports', async () => {
    const client = agentClient();
    await client.connect();
    try {
      const queries = [
        `SELECT c.email AS e, o.amount_cents, c.id FROM public.customers c JOIN public.orders o ON o.customer_id = c.id LIMIT 1`,
        `SELECT * FROM ${ident(ODD_SCHEMA)}.${ident(ODD_TABLE)}`,
        `SELECT tail AS t, ${ident(ODD_COLUMN)} AS x FROM ${ident(ODD_SCHEMA)}.${ident(ODD_TABLE)}`,
        `SELECT relname, oid FROM pg_catalog.pg_class LIMIT 1`,
      ];
      let checked = 0;
      for (const sql of queries) {
        const result = await client.query(sql);
        for (const field of result.fields) {
          expect(field.tableID, `${sql}: ${field.name}`).not.toBe(0);
          const column = catalog.byOid(field.tableID)?.columns.find((c) => c.attnum === field.columnID);
          expect(column, `${sql}: ${field.name}`).toBeDefined();
          expect(column!.typeOid).toBe(field.dataTypeID);
          checked++;
        }
      }
      expect(checked).toBe(3 + 4 + 2 + 2);
      const aliased = await client.query(`SELECT tail AS t, ${ident(ODD_COLUMN)} AS x FROM ${ident(ODD_SCHEMA)}.${ident(ODD_TABLE)}`);
      const odd = catalog.byOid(aliased.fields[1]!.tableID)!;
      expect([odd.schema, odd.name]).toEqual([ODD_SCHEMA, ODD_TABLE]);
      expect(odd.columns.find((c) => c.attnum === aliased.fields[1]!.columnID)?.name).toBe(ODD_COLUMN);

      // A view's columns are reported as the view's own; a domain column's type as its base type.
      const view = await client.query('SELECT address FROM public.customer_emails');
      expect(catalog.byOid(view.fields[0]!.tableID)?.name).toBe('customer_emails');
      const contacts = await client.query('SELECT email FROM public.contacts');
      const email = catalog.byOid(contacts.fields[0]!.tableID)!.columns.find((c) => c.attnum === contacts.fields[0]!.columnID)!;
      expect(email.typeOid).toBe(await typeOid('email_text'));
      expect(contacts.fields[0]!.dataTypeID).toBe(await typeOid('text'));
    } finally {
      await client.end();
    }
  });
});

describe('loadCatalog: connection and end of the session', () => {
  it('uses the connection TLS rules (verify-full against the target CA)', async () => {
    const verified = await loadCatalog({ name: 'tls', target: postgres.target({ tls: 'verify-full', ca: postgres.pg.caCertPem }) }, OPTIONS);
    expect(verified.resolve('public', 'customers', [])?.oid).toBe(relation('public', 'customers').oid);
  });

  it('names itself portcullis-catalog and hangs up when done', async () => {
    const monitor = superuserClient();
    await monitor.connect();
    // Hold an exclusive lock on the view so the load waits where we can see it.
    const locker = superuserClient();
    await locker.connect();
    try {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE public.customer_emails IN ACCESS EXCLUSIVE MODE');
      const loading = loadCatalog(source, OPTIONS);
      const sessions = (): Promise<string[]> =>
        monitor
          .query<{ query: string }>(`SELECT query FROM pg_stat_activity WHERE application_name = 'portcullis-catalog'`)
          .then((r) => r.rows.map((row) => row.query));
      // Its first queries run before it reaches the locked view: wait until it is blocked there.
      const waiting = await pollUntil(sessions, (q) => q.length === 1 && q[0]!.includes('pg_get_viewdef'), { what: 'the catalog session, blocked on the view' });
      expect(waiting[0]).toContain('pg_get_viewdef');
      await locker.query('ROLLBACK');
      expect((await loading).user).toBe('agent_rw');
      await pollUntil(sessions, (q) => q.length === 0, { what: 'the catalog session to end' });
    } finally {
      await locker.end();
      await monitor.end();
    }
  });
});

describe('loadCatalog: failures are CatalogErrors that name the connection', () => {
  it('wrong password: auth, with the SQLSTATE and without the password', async () => {
    const err = await loadCatalog({ name: 'bad-creds', target: postgres.target({ password: 'not-the-password' }) }, OPTIONS).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CatalogError);
    expect(err).toMatchObject({ connection: 'bad-creds', kind: 'auth', sqlState: '28P01' });
    expect((err as Error).message).toMatch(/catalog of connection "bad-creds"/);
    expect((err as Error).message).not.toContain('not-the-password');
  });

  it('unreachable target', async () => {
    const err = await loadCatalog({ name: 'gone', target: postgres.target({ port: await freePort() }) }, OPTIONS).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'CatalogError', connection: 'gone', kind: 'unreachable' });
  });

  it('a query the target cancels (statement_timeout while blocked on a lock): query, with its SQLSTATE', async () => {
    const locker = superuserClient();
    await locker.connect();
    try {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE public.customer_emails IN ACCESS EXCLUSIVE MODE');
      const err = await loadCatalog(source, { ...OPTIONS, queryTimeoutMs: 300 }).catch((e: unknown) => e);
      expect(err).toMatchObject({ name: 'CatalogError', connection: 'demo', kind: 'query', sqlState: '57014' });
      expect((err as Error).message).toMatch(/statement timeout/);
    } finally {
      await locker.query('ROLLBACK');
      await locker.end();
    }
  });

  it('a query timeout PostgreSQL cannot take is a programming error, refused before connecting', async () => {
    await expect(loadCatalog(source, { ...OPTIONS, queryTimeoutMs: 0 })).rejects.toThrow(RangeError);
    await expect(loadCatalog(source, { ...OPTIONS, queryTimeoutMs: 2 ** 31 })).rejects.toThrow(RangeError);
  });

  it('more columns than maxColumns: too-large', async () => {
    const err = await loadCatalog(source, { ...OPTIONS, maxColumns: 100 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'CatalogError', kind: 'too-large' });
    expect((err as Error).message).toMatch(/more than 100 columns/);
  });

  it('a catalog row larger than maxFrameBytes: protocol, not an unbounded buffer', async () => {
    // connectUpstream's floor is 1 MiB; a view definition over that is the realistic case.
    const wide = Array.from({ length: 1200 }, (_, i) => `'${'x'.repeat(1000)}'::text AS c${i}`).join(', ');
    await postgres.pg.query(`CREATE VIEW huge_view AS SELECT ${wide}`, [], { database: 'app' });
    try {
      const err = await loadCatalog(source, OPTIONS).catch((e: unknown) => e);
      expect(err).toMatchObject({ name: 'CatalogError', kind: 'protocol' });
      expect((err as Error).message).toMatch(/exceeds the limit/);
      expect((await loadCatalog(source, { maxFrameBytes: 4 << 20 })).resolve('public', 'huge_view', [])?.columns).toHaveLength(1200);
    } finally {
      await postgres.pg.query('DROP VIEW huge_view', [], { database: 'app' });
    }
  });
});

describe('loadCatalog against a scripted server', () => {
  const frame = (type: number, body: Buffer): Buffer => {
    const header = Buffer.alloc(5);
    header[0] = type;
    header.writeInt32BE(body.length + 4, 1);
    return Buffer.concat([header, body]);
  };
  const int16 = (v: number): Buffer => Buffer.from([(v >> 8) & 0xff, v & 0xff]);
  const rowDescription = (count: number): Buffer =>
    frame(Be.RowDescription, Buffer.concat([int16(count), ...Array.from({ length: count }, (_, i) => Buffer.concat([Buffer.from(`c${i}\0`), Buffer.alloc(18)]))]));
  const dataRow = (values: string[]): Buffer =>
    frame(
      Be.DataRow,
      Buffer.concat([int16(values.length), ...values.map((v) => {
        const len = Buffer.alloc(4);
        len.writeInt32BE(Buffer.byteLength(v));
        return Buffer.concat([len, Buffer.from(v)]);
      })]),
    );
  const complete = frame(Be.CommandComplete, Buffer.from('SELECT 1\0'));

  /** Trust auth, answers the search_path query, then answers the catalog query with `answer` (or nothing). */
  async function scriptedServer(answer: Buffer | null): Promise<{ port: number; close(): Promise<void> }> {
    const server = net.createServer((socket) => {
      let step = 0;
      socket.on('error', () => undefined);
      socket.on('data', () => {
        step++;
        if (step === 1) socket.write(Buffer.concat([serializeAuthenticationOk(), serializeReadyForQuery('I')]));
        if (step === 2) socket.write(Buffer.concat([rowDescription(1), dataRow(['{public}']), complete, serializeReadyForQuery('I')]));
        if (step === 3 && answer) socket.write(answer);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as net.AddressInfo;
    return { port, close: () => new Promise((resolve) => server.close(() => resolve())) };
  }

  const scripted = (port: number): CatalogSource => ({ name: 'scripted', target: postgres.target({ port, password: undefined }) });

  it('a target that never answers the query: timeout', async () => {
    const server = await scriptedServer(null);
    try {
      const started = performance.now();
      const err = await loadCatalog(scripted(server.port), { ...OPTIONS, queryTimeoutMs: 100 }).catch((e: unknown) => e);
      expect(err).toMatchObject({ name: 'CatalogError', connection: 'scripted', kind: 'timeout' });
      expect(performance.now() - started).toBeLessThan(5_000);
    } finally {
      await server.close();
    }
  });

  it('an answer no catalog query produces: protocol', async () => {
    const header = Buffer.concat([rowDescription(2), dataRow(['agent_rw', '25']), complete]);
    const index = Buffer.concat([rowDescription(6), dataRow(['16384', 'public', 'an_index', 'i', '', '[]']), complete]);
    const server = await scriptedServer(Buffer.concat([header, index, serializeReadyForQuery('I')]));
    try {
      const err = await loadCatalog(scripted(server.port), OPTIONS).catch((e: unknown) => e);
      expect(err).toMatchObject({ name: 'CatalogError', kind: 'protocol' });
      expect((err as Error).message).toMatch(/relkind "i"/);
    } finally {
      await server.close();
    }
  });

  it('a well-formed scripted answer builds the catalog it describes', async () => {
    const header = Buffer.concat([rowDescription(2), dataRow(['someone', '25,1043,99999']), complete]);
    const table = Buffer.concat([rowDescription(6), dataRow(['4294967295', 's', 't', 'r', '', '[["a b",1,25],["c",3,23]]']), complete]);
    const server = await scriptedServer(Buffer.concat([header, table, serializeReadyForQuery('I')]));
    try {
      const built = await loadCatalog(scripted(server.port), OPTIONS);
      expect(built.user).toBe('someone');
      expect([...built.textTypeOids]).toEqual([25, 1043, 99999]);
      expect(built.byOid(4294967295)).toMatchObject({ schema: 's', name: 't', kind: 'table', definition: '' });
      expect(built.byOid(4294967295)?.columns).toEqual([
        { name: 'a b', attnum: 1, typeOid: 25 },
        { name: 'c', attnum: 3, typeOid: 23 },
      ]);
    } finally {
      await server.close();
    }
  });
});

describe('CatalogCache', () => {
  /** The real loader, counted. */
  function countingLoader(): { load: () => Promise<Catalog>; count: () => number } {
    let loads = 0;
    return {
      load: () => {
        loads++;
        return loadCatalog(source, OPTIONS);
      },
      count: () => loads,
    };
  }

  /** A clock the test moves by hand. */
  function manualClock(): { now: () => number; set(t: number): void } {
    let t = 0;
    return { now: () => t, set: (v) => void (t = v) };
  }

  it('loads once for concurrent first callers, and serves that snapshot', async () => {
    const loader = countingLoader();
    const cache = new CatalogCache('demo', loader.load);
    expect(cache.current()).toBeUndefined();
    const [a, b] = await Promise.all([cache.get(), cache.get()]);
    expect(loader.count()).toBe(1);
    expect(a).toBe(b);
    expect(await cache.get()).toBe(a);
    expect(cache.current()).toBe(a);
    expect(loader.count()).toBe(1);
    expect(a.resolve('public', 'customers', [])).toBeDefined();
  });

  it('reloads once the snapshot is maxAgeMs old, measured from when its load began', async () => {
    const loader = countingLoader();
    const clock = manualClock();
    const cache = new CatalogCache('demo', loader.load, { maxAgeMs: 30_000, now: clock.now });
    const first = await cache.get();
    clock.set(29_999);
    expect(await cache.get()).toBe(first);
    expect(loader.count()).toBe(1);
    clock.set(30_000);
    const second = await cache.get();
    expect(loader.count()).toBe(2);
    expect(second).not.toBe(first);
    expect(cache.current()).toBe(second);
  });

  it('refresh reloads at most once per minRefreshIntervalMs and sees new relations', async () => {
    const loader = countingLoader();
    const clock = manualClock();
    const cache = new CatalogCache('demo', loader.load, { minRefreshIntervalMs: 1_000, now: clock.now });
    const first = await cache.get();
    await postgres.pg.query('CREATE TABLE created_later (x int)', [], { database: 'app' });
    try {
      clock.set(999);
      expect(await cache.refresh()).toBe(first);
      expect(loader.count()).toBe(1);
      clock.set(1_000);
      const [a, b] = await Promise.all([cache.refresh(), cache.refresh()]);
      expect(loader.count()).toBe(2);
      expect(a).toBe(b);
      expect(a.resolve('public', 'created_later', [])?.columns.map((c) => c.name)).toEqual(['x']);
      clock.set(1_500);
      expect(await cache.refresh()).toBe(a);
      expect(loader.count()).toBe(2);
    } finally {
      await postgres.pg.query('DROP TABLE created_later', [], { database: 'app' });
    }
  });

  it('refresh joins a load already in flight', async () => {
    const loader = countingLoader();
    const cache = new CatalogCache('demo', loader.load);
    const [a, b] = await Promise.all([cache.get(), cache.refresh()]);
    expect(a).toBe(b);
    expect(loader.count()).toBe(1);
  });

  it('does not cache a failed load: every waiter gets the error, the next call loads again', async () => {
    let loads = 0;
    const cache = new CatalogCache('flaky', () => {
      loads++;
      if (loads === 1) throw new CatalogError('flaky', 'unreachable', 'first load fails');
      return loadCatalog(source, OPTIONS);
    });
    const results = await Promise.allSettled([cache.get(), cache.get()]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(loads).toBe(1);
    expect(cache.current()).toBeUndefined();
    expect((await cache.get()).user).toBe('agent_rw');
    expect(loads).toBe(2);
  });

  it('a failed reload leaves the old snapshot in current() but rejects get()', async () => {
    const clock = manualClock();
    let fail = false;
    const cache = new CatalogCache('demo', () => (fail ? Promise.reject(new Error('down')) : loadCatalog(source, OPTIONS)), {
      maxAgeMs: 10,
      now: clock.now,
    });
    const first = await cache.get();
    fail = true;
    clock.set(10);
    await expect(cache.get()).rejects.toThrow('down');
    expect(cache.current()).toBe(first);
  });

  it('after close: no loads, get/refresh reject with kind closed, an in-flight load is not kept', async () => {
    const loader = countingLoader();
    const cache = new CatalogCache('demo', loader.load);
    const inFlight = cache.get();
    cache.close();
    expect((await inFlight).user).toBe('agent_rw');
    expect(cache.current()).toBeUndefined();
    await expect(cache.get()).rejects.toMatchObject({ name: 'CatalogError', connection: 'demo', kind: 'closed' });
    await expect(cache.refresh()).rejects.toMatchObject({ kind: 'closed' });
    expect(loader.count()).toBe(1);
  });

  it('catalogCacheFor loads the connection with loadCatalog', async () => {
    const cache = catalogCacheFor(source, OPTIONS);
    expect((await cache.get()).resolve(ODD_SCHEMA, ODD_TABLE, [])?.columns).toHaveLength(4);
    cache.close();
  });
});
