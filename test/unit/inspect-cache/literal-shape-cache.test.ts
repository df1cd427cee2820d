import { beforeAll, describe, expect, it } from 'vitest';
import { LiteralShapeCache } from '../../../src/inspect/literal-shape-cache.js';
import { createSqlInspector } from '../../../src/inspect/sql-inspector.js';
import { constantValue, loadSqlParser, nodeBody, parseSql } from '../../../src/inspect/sql/parser.js';
import { Catalog } from '../../../src/masking/catalog.js';
import { planStatements } from '../../../src/masking/lineage.js';
import type { ColumnMask, StatementMaskPlan } from '../../../src/masking/plan.js';

beforeAll(loadSqlParser);

describe('LiteralShapeCache', () => {
  it('computes once for statements that differ only in numeric literals', () => {
    const cache = new LiteralShapeCache<string>(100);
    const computed: string[] = [];
    const compute = (text: string): string => {
      computed.push(text);
      return `facts of ${text}`;
    };
    const first = 'SELECT abalance FROM pgbench_accounts WHERE aid = 4711';
    expect(cache.get(first)).toBeUndefined();
    expect(cache.compute(first, compute)).toBe(`facts of ${first}`);
    const hit = cache.get('SELECT abalance FROM pgbench_accounts WHERE aid = 8150');
    expect(hit).toEqual({ value: `facts of ${first}`, from: first, shared: true });
    expect(computed).toEqual([first]);
  });

  it('serves a value that read a literal to its own text only', () => {
    const cache = new LiteralShapeCache<number>(100);
    // Reads the literal's value, as EXPLAIN (ANALYZE n) or ORDER BY n do.
    const limit = (text: string): number => {
      const parsed = parseSql(text);
      if (!parsed.ok) throw parsed.error;
      const select = nodeBody(parsed.statements[0]!.node, 'SelectStmt');
      const value = constantValue(select?.['limitCount']);
      return value?.type === 'integer' ? value.value : -1;
    };
    expect(cache.compute('SELECT 1 LIMIT 0', limit)).toBe(0);
    expect(cache.get('SELECT 1 LIMIT 0')?.value).toBe(0);
    expect(cache.get('SELECT 2 LIMIT 5')).toBeUndefined();
    expect(cache.compute('SELECT 2 LIMIT 5', limit)).toBe(5);
    expect(cache.get('SELECT 1 LIMIT 0')).toBeUndefined();
  });

  it('honours a caller refusing to share a value', () => {
    const cache = new LiteralShapeCache<string>(100);
    cache.compute('SELECT 1', (t) => t, () => false);
    expect(cache.get('SELECT 1')?.value).toBe('SELECT 1');
    expect(cache.get('SELECT 2')).toBeUndefined();
  });

  it('does not cache texts above its length limit', () => {
    const cache = new LiteralShapeCache<string>(100, 10);
    cache.compute('SELECT 12345', (t) => t);
    expect(cache.get('SELECT 12345')).toBeUndefined();
  });
});

describe('the SQL inspector cache cannot be primed with a harmless literal', () => {
  it.each([
    ['EXPLAIN (ANALYZE 0) DELETE FROM t', 'EXPLAIN (ANALYZE 1) DELETE FROM t'],
    ['EXPLAIN (ANALYZE 0) DELETE FROM t', 'EXPLAIN (ANALYZE 7) DELETE FROM t'],
    ['EXPLAIN (ANALYZE 0, VERBOSE 1) UPDATE t SET a = 1', 'EXPLAIN (ANALYZE 1, VERBOSE 1) UPDATE t SET a = 1'],
  ])('%s, then %s', async (harmless, harmful) => {
    const inspect = await createSqlInspector([]);
    const primed = inspect(harmless);
    expect(primed.ok && primed.statements.map((s) => s.class)).toEqual(['read']);
    const result = inspect(harmful);
    expect(result.ok && result.statements.map((s) => s.class)).toEqual(['write']);
    expect(result.ok && result.statements[0]!.text).toBe(harmful);
  });

  it('still shares facts where no literal decides them, re-cut to the text sent', async () => {
    const inspect = await createSqlInspector([]);
    inspect('SELECT abalance FROM pgbench_accounts WHERE aid = 1; SELECT 2');
    const shared = inspect('SELECT abalance FROM pgbench_accounts WHERE aid = 9; SELECT 3');
    expect(shared.ok && shared.statements.map((s) => s.text)).toEqual(['SELECT abalance FROM pgbench_accounts WHERE aid = 9', 'SELECT 3']);
  });
});

describe('masking plans cached by literal shape', () => {
  const SSN: ColumnMask = { strategy: 'hash', label: 'SSN', rule: 'test rule ssn' };
  const catalog = new Catalog(
    [{ oid: 1000, schema: 'public', name: 'customers', kind: 'table', columns: [{ name: 'id', typeOid: 23, attnum: 1 }, { name: 'ssn', typeOid: 25, attnum: 2 }] }],
    'agent',
  );
  const plan = (text: string): readonly StatementMaskPlan[] =>
    planStatements(text, { catalog, searchPath: ['public'], columnMask: (_s, _t, c) => (c === 'ssn' ? SSN : undefined), denyPredicates: true, onDerived: 'mask' });

  it('ORDER BY 1 does not decide ORDER BY 2 (a masked column)', () => {
    const cache = new LiteralShapeCache<readonly StatementMaskPlan[]>(100);
    expect(cache.compute('SELECT id, ssn FROM customers ORDER BY 1', plan)[0]!.refusal).toBeUndefined();
    expect(cache.get('SELECT id, ssn FROM customers ORDER BY 2')).toBeUndefined();
    expect(cache.compute('SELECT id, ssn FROM customers ORDER BY 2', plan)[0]!.refusal?.reason).toContain('ORDER BY');
  });

  it('a WHERE literal does not: one plan serves every value', () => {
    const cache = new LiteralShapeCache<readonly StatementMaskPlan[]>(100);
    const first = cache.compute('SELECT ssn FROM customers WHERE id = 1', plan);
    expect(cache.get('SELECT ssn FROM customers WHERE id = 7')?.value).toBe(first);
  });
});
