import { expect } from 'vitest';
import type { SqlClass, SqlFlag, StatementFacts } from '../../../src/inspect/sql/facts.js';
import { inspectSql, type InspectOptions } from '../../../src/inspect/sql/inspect.js';

/** What a test expects of one statement. Omitted lists mean "none". */
export interface Expected {
  readonly kind: string;
  readonly class: SqlClass;
  /** `[schema.]name:r` or `…:w`, any order. */
  readonly tables?: readonly string[];
  /** `[schema.]name`, any order. */
  readonly functions?: readonly string[];
  /** Exact, in the reported (SqlFlag declaration) order. */
  readonly flags?: readonly SqlFlag[];
}

export function compact(facts: StatementFacts): Required<Expected> {
  return {
    kind: facts.kind,
    class: facts.class,
    tables: facts.tables.map((t) => `${t.schema === undefined ? '' : `${t.schema}.`}${t.name}:${t.access === 'read' ? 'r' : 'w'}`).sort(),
    functions: facts.functions.map((f) => `${f.schema === undefined ? '' : `${f.schema}.`}${f.name}`).sort(),
    flags: [...facts.flags],
  };
}

export function normalize(e: Expected): Required<Expected> {
  return {
    kind: e.kind,
    class: e.class,
    tables: [...(e.tables ?? [])].sort(),
    functions: [...(e.functions ?? [])].sort(),
    flags: [...(e.flags ?? [])],
  };
}

/** Inspects `sql`, expecting success, and returns its statements. */
export function statementsOf(sql: string, options?: InspectOptions): readonly StatementFacts[] {
  const result = inspectSql(sql, options);
  if (!result.ok) throw new Error(`expected ${JSON.stringify(sql)} to parse, got: ${result.error}`);
  return result.statements;
}

export function expectStatements(sql: string, expected: readonly Expected[], options?: InspectOptions): void {
  const got = statementsOf(sql, options).map(compact);
  expect(got, sql).toEqual(expected.map(normalize));
}
