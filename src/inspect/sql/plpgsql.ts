/**
 * Walks a compiled PL/pgSQL function (libpg_query's `PLpgSQL_function` JSON) and reports
 * everything in it that reaches SQL. Every SQL statement and expression of a body is a
 * `PLpgSQL_expr` (statements, conditions, assignments, RETURN/RETURN QUERY, PERFORM,
 * FOR-over-query, cursor declarations and OPEN, variable defaults, RAISE arguments…),
 * so the walk is generic: it finds every `PLpgSQL_expr` wherever it sits, and needs no
 * list of statement types to stay complete when PL/pgSQL grows one.
 */
import { isObject, numberField, stringField } from './parser.js';

/** PostgreSQL's RawParseMode, which tells how a `PLpgSQL_expr` query must be parsed. */
export const PLPGSQL_PARSE_MODE = {
  /** A complete SQL statement (`DELETE FROM t`, `SELECT g(1)` for PERFORM). */
  statement: 0,
  /** An expression: the text of a SELECT without the `SELECT` keyword. */
  expression: 2,
  /** Assignments `target := expression` (1, 2 or 3 dotted name parts). */
  assign1: 3,
  assign2: 4,
  assign3: 5,
} as const;

export interface PlpgsqlVisitor {
  /** A SQL statement or expression of the body, with its parse mode. */
  expression(query: string, parseMode: number): void;
  /** The body executes a string as SQL (EXECUTE, FOR … IN EXECUTE, RETURN QUERY EXECUTE, OPEN … FOR EXECUTE). */
  dynamicSql(construct: string): void;
  /** COMMIT / ROLLBACK inside a procedure or DO block. */
  transactionControl(): void;
}

const DYNAMIC: Readonly<Record<string, string>> = {
  PLpgSQL_stmt_dynexecute: 'EXECUTE',
  PLpgSQL_stmt_dynfors: 'FOR … IN EXECUTE',
};

export function walkPlpgsqlFunction(fn: unknown, visitor: PlpgsqlVisitor): void {
  walk(fn, visitor);
}

function walk(value: unknown, visitor: PlpgsqlVisitor): void {
  if (Array.isArray(value)) {
    for (const item of value) walk(item, visitor);
    return;
  }
  if (!isObject(value)) return;
  for (const key in value) {
    const child = value[key];
    if (key === 'PLpgSQL_expr') {
      if (isObject(child)) visitor.expression(stringField(child, 'query') ?? '', numberField(child, 'parseMode'));
      continue;
    }
    if (Object.hasOwn(DYNAMIC, key)) visitor.dynamicSql(DYNAMIC[key] ?? key);
    else if (key.startsWith('PLpgSQL_stmt_dyn')) visitor.dynamicSql(key); // a future dynamic statement
    else if (key === 'dynquery') visitor.dynamicSql('a query given as a string');
    else if (key === 'PLpgSQL_stmt_commit' || key === 'PLpgSQL_stmt_rollback') visitor.transactionControl();
    if (typeof child === 'object' && child !== null) walk(child, visitor);
  }
}
