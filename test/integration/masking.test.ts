/**
 * Inline masking over the wire: real node-postgres, psql and a raw protocol client through
 * the gateway to embedded PostgreSQL. Column rules (also through aliases, expressions, CTEs
 * and views), content detectors, type safety, the extended protocol with and without the
 * client describing, binary results, COPY, error DETAIL, NOTIFY, refusals, per-identity
 * profiles, a large result, and what the recording keeps.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { ColumnRuleConfig, ConnectionConfig } from '../../src/config/types.js';
import { dataRowValues, fe, RawClient } from '../support/raw-client.js';
import { AUDITOR, demoConnection, startStack, type Stack } from '../support/stack.js';
import { maskingProfile } from '../support/masking-profile.js';

const run = promisify(execFile);

const col = (pattern: string, strategy: ColumnRuleConfig['strategy'], label = 'MASKED'): ColumnRuleConfig => ({ pattern, strategy, label });

const profile = maskingProfile;

const HASH_KEY = 'integration-test-hash-key-0123456789';
const AGENTS = profile('agents', {
  for: { groups: ['agents'], subjects: undefined, clients: undefined },
  detectors: ['default', 'employee-id'],
  customDetectors: [
    { name: 'employee-id', label: 'EMPLOYEE', pattern: 'EMP-[0-9]{6}', caseInsensitive: false, validator: undefined, context: undefined, deny: ['EMP-000000'] },
  ],
  columns: [
    col('public.people.email', 'redact', 'EMAIL'),
    col('public.people.card', 'partial'),
    col('public.people.ssn', 'hash'),
    col('*password*', 'null'),
    col('public.people.born', 'redact'),
    col('public.people.salary', 'redact'),
  ],
  hashKey: HASH_KEY,
});
/** Auditors stand in for a support team: they see partial card numbers and emails. */
const SUPPORT = profile('support', {
  for: { groups: ['auditors'], subjects: undefined, clients: undefined },
  columns: [col('public.people.email', 'partial'), col('public.people.card', 'partial')],
});

const PEOPLE = [
  { id: 1, email: 'ada@example.com', card: '4111 1111 1111 1111', ssn: '123-45-6780', pw: 'hash-of-ada', notes: 'call me at grace@example.org' },
  { id: 2, email: 'alan@example.com', card: '5555 5555 5555 4444', ssn: '219-09-9998', pw: 'hash-of-alan', notes: 'no contact details' },
];

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({
    connections: (postgres): ConnectionConfig[] => [
      demoConnection(postgres, {
        access: { groups: ['agents', 'auditors'], subjects: [], clients: [] },
        masking: [AGENTS, SUPPORT],
        recordResultRows: 5,
      }),
      demoConnection(postgres, { name: 'strict', masking: [{ ...AGENTS, name: 'strict', expressions: 'refuse', denyPredicates: true }] }),
      demoConnection(postgres, { name: 'plain' }),
    ],
  });
  const app = { database: 'app' };
  for (const sql of [
    `CREATE TABLE people (id int PRIMARY KEY, email text UNIQUE, card text, ssn text, password_hash text, notes text,
       born date, salary int, nick varchar(40))`,
    `CREATE VIEW people_contacts AS SELECT id, lower(email) AS contact, email AS raw_email FROM people`,
    'GRANT SELECT, INSERT, UPDATE, DELETE ON people, people_contacts TO agent_rw',
  ]) {
    await stack.postgres.pg.query(sql, [], app);
  }
  for (const p of PEOPLE) {
    await stack.postgres.pg.query(
      `INSERT INTO people VALUES ($1, $2, $3, $4, $5, $6, DATE '1990-01-0${p.id}', ${p.id * 1000}, 'nick${p.id}')`,
      [p.id, p.email, p.card, p.ssn, p.pw, p.notes],
      app,
    );
  }
}, 120_000);

afterAll(async () => {
  await stack?.close();
});

async function rows(sql: string, database = 'demo', values?: unknown[]): Promise<Record<string, unknown>[]> {
  const client = await stack.connect(database);
  try {
    return (await client.query(sql, values)).rows as Record<string, unknown>[];
  } finally {
    await client.end();
  }
}

async function failure(sql: string, database = 'demo'): Promise<pg.DatabaseError> {
  const client = await stack.connect(database);
  try {
    await client.query(sql);
  } catch (err) {
    return err as pg.DatabaseError;
  } finally {
    await client.end();
  }
  throw new Error(`expected ${sql} to fail`);
}

describe('column rules', () => {
  it('mask selected columns, each by its strategy, keeping other columns as they are', async () => {
    const [ada] = await rows('SELECT id, email, card, ssn, password_hash, nick FROM people WHERE id = 1');
    expect(ada!['id']).toBe(1);
    expect(ada!['email']).toBe('[EMAIL]');
    expect(ada!['card']).toBe('**** **** **** 1111');
    expect(ada!['ssn']).toMatch(/^[A-Z_]*[0-9a-f]{16}$/);
    expect(ada!['ssn']).not.toContain('6789');
    expect(ada!['password_hash']).toBeNull();
    expect(ada!['nick']).toBe('nick1');
  });

  it('hash gives equal tokens for equal values, so grouping still works', async () => {
    const [a] = await rows('SELECT ssn FROM people WHERE id = 1');
    const [b] = await rows('SELECT ssn AS again FROM people WHERE id = 1');
    const [c] = await rows('SELECT ssn FROM people WHERE id = 2');
    expect(a!['ssn']).toBe(b!['again']);
    expect(a!['ssn']).not.toBe(c!['ssn']);
  });

  it('follow the column under another name, in subqueries, CTEs and views', async () => {
    const shapes = [
      'SELECT email AS e FROM people WHERE id = 1',
      'SELECT e FROM (SELECT email AS e FROM people) s LIMIT 1',
      'WITH x AS (SELECT email FROM people) SELECT email AS e FROM x LIMIT 1',
      'SELECT raw_email AS e FROM people_contacts WHERE id = 1',
      'SELECT * FROM (SELECT email AS e FROM people WHERE id = 1) s',
    ];
    for (const sql of shapes) {
      const [row] = await rows(sql);
      expect(row!['e'], sql).toBe('[EMAIL]');
    }
  });

  it('mask whole any value computed from a masked column', async () => {
    const shapes: Array<[string, string]> = [
      ['SELECT lower(email) AS v FROM people WHERE id = 1', 'ada@example.com'],
      ["SELECT substr(ssn, 1, 5) || substr(ssn, 6) AS v FROM people WHERE id = 1", '123-45-6780'],
      ["SELECT encode(convert_to(email, 'UTF8'), 'base64') AS v FROM people WHERE id = 1", Buffer.from('ada@example.com').toString('base64')],
      ['SELECT row_to_json(p)::text AS v FROM people p WHERE id = 1', 'ada@example.com'],
      ["SELECT string_agg(email, ',') AS v FROM people", 'alan@example.com'],
      ['SELECT array_agg(card)::text AS v FROM people', '4111'],
      ['SELECT contact AS v FROM people_contacts WHERE id = 1', 'ada@example.com'],
      ["WITH x AS (SELECT upper(email) AS u FROM people) SELECT u AS v FROM x LIMIT 1", 'ADA@EXAMPLE.COM'],
    ];
    for (const [sql, raw] of shapes) {
      const [row] = await rows(sql);
      expect(String(row!['v']), sql).not.toContain(raw);
      expect(row!['v'], sql).not.toBeUndefined();
    }
  });

  it('are type-safe: a rule on a date or int column gives NULL, never text the client cannot decode', async () => {
    const [ada] = await rows('SELECT born, salary, id FROM people WHERE id = 1');
    expect(ada).toEqual({ born: null, salary: null, id: 1 });
  });
});

describe('content detectors', () => {
  it('mask values found in any text column', async () => {
    const [ada] = await rows('SELECT notes FROM people WHERE id = 1');
    expect(ada!['notes']).toBe('call me at [EMAIL]');
    const [lit] = await rows("SELECT 'card 4111-1111-1111-1111 ok' AS t, 'order 1234-5678-9012-3456' AS n");
    expect(lit).toEqual({ t: 'card [CARD] ok', n: 'order 1234-5678-9012-3456' });
  });

  it('include phone numbers and the profile\'s own detectors, with their exceptions', async () => {
    const [row] = await rows("SELECT 'call (202) 555-0143 now' AS phone, 'badge EMP-123456, test EMP-000000' AS emp");
    expect(row).toEqual({ phone: 'call [PHONE] now', emp: 'badge [EMPLOYEE], test EMP-000000' });
  });

  it('never turn a numeric column into text: a Luhn-valid bigint becomes NULL', async () => {
    const [row] = await rows('SELECT 4111111111111111::bigint AS n, 42::bigint AS m');
    expect(row).toEqual({ n: null, m: '42' });
  });
});

describe('extended protocol', () => {
  it('masks parameterized queries (node-postgres Parse/Bind/Describe/Execute)', async () => {
    const [ada] = await rows('SELECT email, card FROM people WHERE id = $1', 'demo', [1]);
    expect(ada).toEqual({ email: '[EMAIL]', card: '**** **** **** 1111' });
  });

  it('masks binary-format results', async () => {
    const client = new pg.Client({ ...stack.clientConfig(await stack.token()), binary: true } as pg.ClientConfig);
    await client.connect();
    try {
      const result = await client.query({ text: 'SELECT email, notes, id FROM people WHERE id = $1', values: [1], binary: true } as pg.QueryConfig);
      expect(result.rows[0]['email']).toBe('[EMAIL]');
      expect(result.rows[0]['notes']).toBe('call me at [EMAIL]');
    } finally {
      await client.end();
    }
  });

  it('masks when the client never describes the portal (the gateway describes it itself)', async () => {
    const client = await RawClient.connect({ port: stack.port, password: await stack.token(), database: 'demo' });
    try {
      client.send(fe.parse('', 'SELECT email, id FROM people ORDER BY id'), fe.bind('', '', [], [0]), fe.execute(''), fe.sync());
      const messages = await client.readUntilReadyForQuery();
      const data = messages.filter((m) => m.type === 'D').map(dataRowValues);
      expect(data).toEqual([
        ['[EMAIL]', '1'],
        ['[EMAIL]', '2'],
      ]);
      // The gateway's own Describe reply is not passed on: the client asked for none.
      expect(messages.map((m) => m.type).filter((t) => t === 'T' || t === 'n')).toEqual([]);
    } finally {
      await client.close();
    }
  });

  it('keeps pipelined statements and errors in step: rows after a failed Bind are still masked', async () => {
    const client = await RawClient.connect({ port: stack.port, password: await stack.token(), database: 'demo' });
    try {
      client.send(
        fe.parse('s1', 'SELECT email FROM people WHERE id = $1'),
        fe.bind('', 's1', ['not-an-int']),
        fe.execute(''),
        fe.sync(),
        fe.bind('p2', 's1', ['2']),
        fe.describe('P', 'p2'),
        fe.execute('p2'),
        fe.sync(),
      );
      const messages = await client.readUntilReadyForQueryCount(2);
      expect(messages.filter((m) => m.type === 'E')).toHaveLength(1);
      expect(messages.filter((m) => m.type === 'D').map(dataRowValues)).toEqual([['[EMAIL]']]);
      // The client's own Describe is answered.
      expect(messages.filter((m) => m.type === 'T')).toHaveLength(1);
    } finally {
      await client.close();
    }
  });
});

describe('everywhere data leaves the database', () => {
  it('masks COPY … TO STDOUT rows (psql)', async () => {
    const env = { ...process.env, PGPASSWORD: await stack.token() };
    const conn = `host=127.0.0.1 port=${stack.port} dbname=demo user=agent sslmode=disable`;
    const { stdout } = await run('psql', [conn, '-X', '-c', 'COPY (SELECT id, email, notes FROM people ORDER BY id) TO STDOUT WITH (FORMAT csv, HEADER)'], { env });
    expect(stdout).toBe('id,email,notes\n1,[EMAIL],call me at [EMAIL]\n2,[EMAIL],no contact details\n');
    const text = await run('psql', [conn, '-X', '-c', 'COPY people (id, email, born) TO STDOUT'], { env });
    expect(text.stdout).toBe('1\t[EMAIL]\t\\N\n2\t[EMAIL]\t\\N\n');
  });

  it('masks values quoted in an error DETAIL', async () => {
    const err = await failure("INSERT INTO people (id, email) VALUES (99, 'ada@example.com')");
    expect(err.code).toBe('23505');
    expect(err.detail).toBeDefined();
    expect(err.detail).not.toContain('ada@example.com');
    expect(err.detail).toContain('(email)');
  });

  it('masks NOTIFY payloads', async () => {
    const client = await stack.connect();
    try {
      const got = new Promise<pg.Notification>((resolve) => client.once('notification', resolve));
      await client.query('LISTEN agents');
      await client.query("NOTIFY agents, 'new signup: carol@example.com'");
      expect((await got).payload).toBe('new signup: [EMAIL]');
    } finally {
      await client.end();
    }
  });

  it('masks notices raised with values in them', async () => {
    const client = await stack.connect();
    try {
      const notices: string[] = [];
      client.on('notice', (n) => notices.push(n.message ?? ''));
      await client.query("DO $$ BEGIN RAISE NOTICE 'reach %', 'dave@example.com'; END $$");
      expect(notices).toEqual(['reach [EMAIL]']);
    } finally {
      await client.end();
    }
  });

  it('streams a large masked result through psql, split across many TCP reads', async () => {
    const env = { ...process.env, PGPASSWORD: await stack.token() };
    const conn = `host=127.0.0.1 port=${stack.port} dbname=demo user=agent sslmode=disable`;
    const { stdout } = await run(
      'psql',
      [conn, '-X', '-At', '-c', "SELECT g, 'user' || g || '@example.com', repeat('x', 200) FROM generate_series(1, 50000) g"],
      { env, maxBuffer: 64 * 1024 * 1024 },
    );
    const lines = stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(50_000);
    expect(lines[0]).toBe(`1|[EMAIL]|${'x'.repeat(200)}`);
    expect(stdout).not.toContain('@example.com');
  });
});

describe('policy', () => {
  it('varies by identity: the support profile shows partial values', async () => {
    const client = new pg.Client(stack.clientConfig(await stack.token(AUDITOR)));
    await client.connect();
    try {
      const { rows: [ada] } = await client.query('SELECT email, card, ssn FROM people WHERE id = 1');
      expect(ada.email).toBe('***@******e.com');
      expect(ada.card).toBe('**** **** **** 1111');
      // The support profile has no rule on ssn: content detectors still apply.
      expect(ada.ssn).toBe('[SSN]');
    } finally {
      await client.end();
    }
  });

  it('leaves results alone on a connection without masking', async () => {
    const [ada] = await rows('SELECT email FROM people WHERE id = 1', 'plain');
    expect(ada!['email']).toBe('ada@example.com');
  });

  it('refuses expressions over masked columns, and predicates on them, where the profile says so', async () => {
    const derived = await failure('SELECT lower(email) FROM people', 'strict');
    expect(derived.code).toBe('42501');
    expect(derived.message).toContain('email');
    const probe = await failure("SELECT id FROM people WHERE email LIKE 'a%'", 'strict');
    expect(probe.code).toBe('42501');
    expect(probe.message).toContain('email');
    const [plain] = await rows('SELECT email FROM people WHERE id = 1', 'strict');
    expect(plain!['email']).toBe('[EMAIL]');
  });

  it('refuses copying masked values where the agent could read them back unmasked', async () => {
    for (const sql of [
      'CREATE TEMP TABLE loot AS SELECT email FROM people',
      'UPDATE people SET nick = email WHERE id = 2',
      'INSERT INTO people (id, nick) SELECT id + 100, password_hash FROM people',
    ]) {
      const err = await failure(sql);
      expect(err.code, sql).toBe('42501');
    }
    const [alan] = await rows('SELECT nick FROM people WHERE id = 2');
    expect(alan!['nick']).toBe('nick2');
  });
});

describe('recording', () => {
  it('records result rows and error messages masked, never the raw values', async () => {
    const since = Date.now();
    const client = await stack.connect();
    await client.query('SELECT id, email, notes FROM people ORDER BY id');
    await client.query("INSERT INTO people (id, email) VALUES (98, 'alan@example.com')").catch(() => undefined);
    await client.end();
    // Every session started since has ended in the database (it takes the journal a moment later): all its outcomes are there.
    await vi.waitFor(
      () => {
        const db = new Database(path.join(stack.dataDir, 'portcullis.db'), { readonly: true });
        try {
          expect(db.prepare('SELECT count(*) FROM sessions WHERE started_at >= ? AND ended_at IS NOT NULL').pluck().get(since)).toBeGreaterThan(0);
          expect(db.prepare('SELECT count(*) FROM sessions WHERE started_at >= ? AND ended_at IS NULL').pluck().get(since)).toBe(0);
        } finally {
          db.close();
        }
      },
      { timeout: 5000 },
    );
    const db = new Database(path.join(stack.dataDir, 'portcullis.db'), { readonly: true });
    try {
      const payloads = (db.prepare("SELECT payload FROM events WHERE type = 'outcome'").pluck().all() as string[]).join('\n');
      expect(payloads).toContain('[EMAIL]');
      for (const p of PEOPLE) {
        expect(payloads).not.toContain(p.email);
        expect(payloads).not.toContain(p.ssn);
      }
      expect(payloads).not.toContain('grace@example.org');
    } finally {
      db.close();
    }
  });
});

describe('statements prepared through the protocol and run from SQL', () => {
  it('gives EXECUTE the plan made at Parse; copying its results is refused', async () => {
    const client = await RawClient.connect({ port: stack.port, password: await stack.token(), database: 'demo' });
    try {
      // No content detector would catch these values: only the plan made at Parse masks them.
      client.send(fe.parse('lowered', 'SELECT upper(password_hash) FROM people ORDER BY id'), fe.sync());
      await client.readUntilReadyForQuery();
      const run = await client.query('EXECUTE lowered');
      expect(run.filter((m) => m.type === 'D').map(dataRowValues)).toEqual([[null], [null]]);
      const copy = await client.query('CREATE TEMP TABLE loot AS EXECUTE lowered');
      const error = copy.find((m) => m.type === 'E');
      expect(error).toBeDefined();
      expect(error!.body.toString()).toContain('AS EXECUTE');
    } finally {
      await client.close();
    }
  });
});

/**
 * Attempts to read a masked column no content detector recognises (password_hash, strategy
 * null) by reshaping the query: each must yield only NULLs, or be refused.
 */
describe('bypass attempts (regression suite)', () => {
  const reshapings = [
    'SELECT (SELECT password_hash FROM people WHERE id = 1) AS v',
    'SELECT password_hash::bytea AS v FROM people WHERE id = 1',
    "SELECT encode(password_hash::bytea, 'hex') AS v FROM people WHERE id = 1",
    'SELECT to_json(p)::text AS v FROM people p WHERE id = 1',
    'SELECT jsonb_agg(p)::text AS v FROM people p',
    "SELECT format('%s', password_hash) AS v FROM people WHERE id = 1",
    "SELECT array_to_string(ARRAY[password_hash], '') AS v FROM people WHERE id = 1",
    'SELECT md5(password_hash) AS v FROM people WHERE id = 1',
    "SELECT password_hash AS v FROM people WHERE id = 1 UNION ALL SELECT 'x' WHERE false",
    'SELECT (p).password_hash AS v FROM people p WHERE id = 1',
    "SELECT translate(password_hash, 'a', 'b') AS v FROM people WHERE id = 1",
    'SELECT v FROM people AS t(i, e, c, s, v) WHERE i = 1',
    'WITH RECURSIVE r(v, n) AS (SELECT password_hash, 1 FROM people WHERE id = 1 UNION ALL SELECT v, n + 1 FROM r WHERE n < 2) SELECT v FROM r',
    'SELECT v FROM people, LATERAL (SELECT password_hash || \'\' AS v) l WHERE id = 1',
    'SELECT row(password_hash)::text AS v FROM people WHERE id = 1',
    "SELECT (string_to_array(password_hash, '-'))[1] AS v FROM people WHERE id = 1",
    'SELECT max(password_hash) AS v FROM people',
    'SELECT first_value(password_hash) OVER () AS v FROM people',
    'SELECT CASE WHEN id = 1 THEN password_hash END AS v FROM people WHERE id = 1',
    'SELECT coalesce(NULL, password_hash) AS v FROM people WHERE id = 1',
    "SELECT xmlelement(name x, password_hash)::text AS v FROM people WHERE id = 1",
  ];

  it.each(reshapings)('%s', async (sql) => {
    const client = await stack.connect();
    try {
      const result = await client.query(sql).then(
        (r) => r.rows as Array<Record<string, unknown>>,
        (err: pg.DatabaseError) => err,
      );
      if (result instanceof Error) {
        expect(result.code, result.message).toBe('42501');
        return;
      }
      expect(result.length).toBeGreaterThan(0);
      for (const row of result) expect(row['v'], JSON.stringify(row)).toBeNull();
    } finally {
      await client.end();
    }
  });

  it('COPY of a reshaped masked column carries no value', async () => {
    const env = { ...process.env, PGPASSWORD: await stack.token() };
    const conn = `host=127.0.0.1 port=${stack.port} dbname=demo user=agent sslmode=disable`;
    const out = await run('psql', [conn, '-X', '-c', 'COPY (SELECT upper(password_hash) FROM people ORDER BY id) TO STDOUT'], { env }).then(
      (r) => r.stdout,
      (err: { stderr: string }) => err.stderr,
    );
    expect(out.toLowerCase()).not.toContain('hash-of');
  });
});
