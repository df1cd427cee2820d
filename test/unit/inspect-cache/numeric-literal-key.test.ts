import { beforeAll, describe, expect, it } from 'vitest';
import { createSqlInspector, type SqlInspector } from '../../../src/inspect/sql-inspector.js';
import { inspectSql, loadSqlParser } from '../../../src/inspect/sql/index.js';
import { numericLiteralKey } from '../../../src/inspect/sql/numeric-literal-key.js';

describe('numericLiteralKey', () => {
  it.each([
    ['SELECT abalance FROM pgbench_accounts WHERE aid = 4711;', 'SELECT abalance FROM pgbench_accounts WHERE aid = 0000;'],
    ['SELECT 1.5, .25, 3e10, 2.5E-3, 7.', 'SELECT 0.0, .00, 0e00, 0.0E-0, 0.'],
    ['SELECT * FROM t1 WHERE c2 = 42 AND "9" = $1', 'SELECT * FROM t1 WHERE c2 = 00 AND "9" = $1'],
    ["SELECT '123', 'it''s 4', E'\\'5', $$6$$, $q$ 7 $q$, 8", "SELECT '123', 'it''s 4', E'\\'5', $$6$$, $q$ 7 $q$, 0"],
    ['SELECT 1 -- 2\n, 3 /* 4 /* 5 */ 6 */ + 7', 'SELECT 0 -- 2\n, 0 /* 4 /* 5 */ 6 */ + 0'],
    ['SELECT x-1, a$1, 5-3', 'SELECT x-0, a$1, 0-0'],
    ['SELECT DATE \'2020-01-01\', B\'0101\', X\'1F\'', "SELECT DATE '2020-01-01', B'0101', X'1F'"],
  ])('%s', (text, key) => {
    expect(numericLiteralKey(text)).toBe(key);
    expect(key.length).toBe(text.length);
  });

  it.each([
    "SELECT U&'\\0031'",
    'SELECT U&"a"',
    'SELECT 0x1F',
    'SELECT 1_000',
    'SELECT 123abc',
    "SELECT 'unterminated",
    'SELECT "unterminated',
    'SELECT 1 /* unterminated',
    'SELECT $tag$ unterminated',
    'SELECT $1abc',
    '\\g',
    "SELECT E'\\",
  ])('gives up on %s', (text) => {
    expect(numericLiteralKey(text)).toBeUndefined();
  });

  it('returns the text itself when there is nothing to normalise', () => {
    expect(numericLiteralKey('SELECT a FROM b')).toBe('SELECT a FROM b');
  });
});

describe('cached inspector', () => {
  let inspect: SqlInspector;
  beforeAll(async () => {
    await loadSqlParser();
    inspect = await createSqlInspector([]);
  });

  // Statements whose facts must not leak between texts that share a key.
  const corpus = [
    'SELECT abalance FROM pgbench_accounts WHERE aid = 4711',
    'SELECT 1; DELETE FROM orders WHERE id = 3',
    'UPDATE orders SET amount_cents = 10 WHERE id = 5',
    "SELECT set_config('role', 'x', false), 1",
    'SELECT pg_terminate_backend(12345)',
    'SELECT nextval(42::regclass)',
    'SET statement_timeout = 5000',
    'SET client_encoding = 6',
    'DO $$ BEGIN PERFORM 1; END $$',
    'SELECT * FROM "1" WHERE x = 2',
    'EXPLAIN ANALYZE DELETE FROM t WHERE a = 1',
    'SELECT 1 FROM t LIMIT 10 OFFSET 20',
    "SELECT 'x' || 5, E'\\'; DELETE FROM t; --', 6",
  ];

  it.each(corpus)('a variant with other numbers gets exactly the facts of its own text: %s', (text) => {
    const variant = text.replace(/\d/g, '7');
    const key = numericLiteralKey(text);
    inspect(text); // warm the shared entry with the original
    const got = inspect(variant);
    expect(got).toEqual(inspectSql(variant));
    if (key !== undefined && key === numericLiteralKey(variant)) {
      // Shared entry: still the variant's own statement texts.
      if (got.ok) for (const s of got.statements) expect(variant).toContain(s.text);
    }
  });

  it('re-cuts statement texts so a refusal quotes what was sent', () => {
    inspect('SELECT 1; DELETE FROM orders WHERE id = 1');
    const r = inspect('SELECT 22; DELETE FROM orders WHERE id = 333');
    expect(r.ok && r.statements.map((s) => s.text)).toEqual(['SELECT 22', 'DELETE FROM orders WHERE id = 333']);
  });
});
