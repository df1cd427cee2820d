/**
 * The real `psql` (libpq) works through the gateway with the access token as its
 * password: queries, \copy both ways, ON_ERROR_STOP exit codes, and a clear refusal
 * for a bad token.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../support/stack.js';

function findPsql(): string | undefined {
  try {
    return execFileSync('sh', ['-c', 'command -v psql'], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

const PSQL = findPsql();

interface PsqlResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

describe.skipIf(!PSQL)(`psql through the gateway${PSQL ? '' : ' (skipped: psql is not on PATH)'}`, () => {
  let stack: Stack;
  let token: string;
  let dir: string;

  /** Runs psql against connection `demo` with PGPASSWORD=password; never reads ~/.psqlrc. */
  const psql = (args: readonly string[], options: { password?: string; input?: string } = {}): Promise<PsqlResult> =>
    new Promise((resolve) => {
      const conninfo = `host=127.0.0.1 port=${stack.port} dbname=demo user=agent sslmode=disable connect_timeout=10`;
      const child = execFile(
        PSQL!,
        ['-X', '-d', conninfo, ...args],
        {
          env: { PATH: process.env.PATH ?? '', PGPASSWORD: options.password ?? token, LC_ALL: 'C.UTF-8', PGCLIENTENCODING: 'UTF8' },
          timeout: 20_000,
        },
        (error, stdout, stderr) => {
          const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
          resolve({ code, stdout, stderr });
        },
      );
      if (options.input !== undefined) child.stdin!.end(options.input);
      else child.stdin!.end();
    });

  const superuser = (sql: string, params: unknown[] = []): Promise<Record<string, unknown>[]> =>
    stack.postgres.pg.query(sql, params, { database: 'app' });

  beforeAll(async () => {
    stack = await startStack();
    token = await stack.token();
    dir = mkdtempSync(path.join(os.tmpdir(), 'portcullis-psql-'));
    await superuser('CREATE TABLE psql_import (id int PRIMARY KEY, label text)');
    await superuser('GRANT SELECT, INSERT ON psql_import TO agent_rw');
  });

  afterAll(async () => {
    await stack?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('runs -c queries as the target role, with psql as application_name', async () => {
    const r = await psql(['-At', '-c', `SELECT current_user, current_database(), current_setting('application_name')`]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('agent_rw|app|psql\n');

    const n = await psql(['-At', '-c', 'SELECT count(*) FROM customers']);
    const [expected] = await superuser('SELECT count(*)::text AS n FROM customers');
    expect(n.code).toBe(0);
    expect(n.stdout.trim()).toBe(expected!.n);
  });

  it('\\copy exports a query result to a file', async () => {
    const file = path.join(dir, 'customers.csv');
    const r = await psql(['-c', `\\copy (SELECT id, full_name, email FROM customers ORDER BY id) TO '${file}' WITH (FORMAT csv)`]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toMatch(/^COPY \d+$/);
    const expected = await superuser('SELECT id, full_name, email FROM customers ORDER BY id');
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    expect(lines).toEqual(expected.map((row) => `${row.id},${row.full_name},${row.email}`));
  });

  it('\\copy imports a file into a table', async () => {
    const file = path.join(dir, 'import.csv');
    const input = Array.from({ length: 500 }, (_, i) => `${i + 1},"label, ${i + 1}"`).join('\n') + '\n';
    writeFileSync(file, input);
    const r = await psql(['-c', `\\copy psql_import (id, label) FROM '${file}' WITH (FORMAT csv)`]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe('COPY 500');
    const [stats] = await superuser(`SELECT count(*)::int AS n, min(label) AS first, max(id) AS last FROM psql_import`);
    expect(stats).toEqual({ n: 500, first: 'label, 1', last: 500 });
  });

  it('with ON_ERROR_STOP exits 1 on an error in -c, with the target message on stderr', async () => {
    const r = await psql(['-v', 'ON_ERROR_STOP=1', '-c', 'SELECT 1/0']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/ERROR: {2}division by zero/);
  });

  it('with ON_ERROR_STOP stops a script at the error (exit 3) and runs nothing after it', async () => {
    const script = [
      `INSERT INTO psql_import VALUES (9001, 'before the error');`,
      `SELECT no_such_column FROM customers;`,
      `INSERT INTO psql_import VALUES (9002, 'after the error');`,
    ].join('\n');
    const r = await psql(['-v', 'ON_ERROR_STOP=1', '-f', '-'], { input: script });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/column "no_such_column" does not exist/);
    const landed = await superuser('SELECT id FROM psql_import WHERE id > 9000 ORDER BY id');
    expect(landed).toEqual([{ id: 9001 }]);
  });

  it('refuses a wrong token: exit 2 and "invalid access token"', async () => {
    const r = await psql(['-c', 'SELECT 1'], { password: 'not-a-valid-token' });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/invalid access token/);
    expect(r.stdout).toBe('');
  });
});
