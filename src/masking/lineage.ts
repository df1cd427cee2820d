/**
 * Column lineage for masking: from a statement's parse tree and the catalog, which source
 * columns flow into each output column, so that reshaping a query (renaming, subqueries,
 * CTEs, views, functions, aggregates, JSON/row constructors…) cannot sidestep a column
 * rule; and which statements must be refused because they would copy masked values where
 * the gateway cannot mask them. Pure: the parse tree and a catalog snapshot in, plans out.
 *
 * Guarantees: a plain reference keeps its column's mask (`derived: false`); anything
 * computed from a masked value is masked whole (`derived: true`, the strictest mask that
 * flows in) or refused (`onDerived: 'refuse'`); constructs this analysis does not know
 * carry whatever flows into them. It fails closed where it cannot tell.
 *
 * What remains possible — document it to operators, and close what policy can close:
 * - Inference through predicates: `WHERE ssn LIKE '1%'`, joins, ORDER BY, GROUP BY counts,
 *   LIMIT bisection, and the row counts of UPDATE/DELETE … WHERE reveal masked values bit
 *   by bit. `denyPredicates` refuses masked columns in those clauses; without it they pass.
 *   Timing (`CASE WHEN ssn LIKE '1%' THEN pg_sleep(1) END`) leaks even though the output
 *   itself is masked.
 * - Code that reads masked columns internally: SQL or PL/pgSQL functions, security-definer
 *   functions, views missing from the catalog snapshot. Their outputs have no lineage to
 *   the masked column; only the content detectors catch such values. (Built-in functions
 *   that run SQL text or read a relation named at run time — query_to_xml, table_to_xml,
 *   ts_stat, crosstab, dblink… — are refused while any column is masked.)
 * - User-defined functions given masked values may store or emit them (an INSERT inside,
 *   RAISE NOTICE). Only well-known built-in side channels are refused (set_config,
 *   pg_notify, large objects, dblink, pg_file_write, logical messages). Deny CREATE
 *   FUNCTION and restrict EXECUTE for agents.
 * - Error messages: a cast or function failing on a masked value may quote it
 *   (`invalid input syntax for type integer: "…"`), and unique violations confirm guesses.
 *   Error and notice fields are masked by content detectors only.
 * - DO blocks and function bodies are checked by the words they contain: a body that
 *   builds names dynamically (`'em' || 'ail'`, EXECUTE format(…)) is not seen. Deny DO
 *   and CREATE FUNCTION for agents (the SQL inspector flags them as dynamic SQL).
 * - Relations not in the catalog (created after the snapshot, temporary tables): column
 *   rules apply to the column names the text uses, in every schema of the search path;
 *   their `*` and whole-row references stay unknown (outputs undefined, or a refusal when
 *   masked data of known columns shares the result), so the gateway falls back to
 *   RowDescription origins and content detection there.
 * - Catalog statistics (pg_stats.most_common_vals, histogram_bounds) hold sampled values of
 *   masked columns: deny reading them, or mask them by column rules.
 * - Partitions and inheritance children read directly are other relations: a rule on the
 *   parent does not name them unless its glob does.
 * - Within one text, `SET search_path TO …` with literal schemas is followed; RESET and
 *   set_config changes are not.
 * - A SQL-level EXECUTE of a statement prepared through the extended protocol (one
 *   namespace) returns rows this analysis cannot pair (outputs undefined); the session
 *   must pair them with the plan made at Parse.
 */
import type { Catalog } from './catalog.js';
import type { AnalyzerEnv } from './lineage-expr.js';
import { relationMasks } from './lineage-relations.js';
import { unanalysableRefusal } from './lineage-refusals.js';
import { StatementPlanner } from './lineage-statements.js';
import type { ColumnMaskLookup, OutputMask, StatementMaskPlan } from './plan.js';
import { asArray, constantValue, nodeBody, parseSql, stringField, type PgObject } from '../inspect/sql/parser.js';

export interface LineageContext {
  readonly catalog: Catalog;
  readonly searchPath: readonly string[];
  /** Masks on base columns by (schema, table, column) — also called for view columns (a glob like `*.*.*password*` may name them). */
  readonly columnMask: ColumnMaskLookup;
  /** Refuse statements whose WHERE/JOIN/GROUP BY/HAVING/ORDER BY/DISTINCT ON/window/FILTER clauses reference masked columns. */
  readonly denyPredicates: boolean;
  /** What to do when a masked column flows into an expression in the output: mask the whole output value, or refuse the statement. */
  readonly onDerived: 'mask' | 'refuse';
}

/** One plan per statement in `text`, in order. Unparseable text → a single plan with a refusal. */
export function planStatements(text: string, ctx: LineageContext): StatementMaskPlan[] {
  const parsed = parseSql(text);
  if (!parsed.ok) {
    const refusal = unanalysableRefusal(`The SQL text could not be parsed (${parsed.error.message})`);
    return [{ returnsRows: false, outputs: undefined, refusal }];
  }
  const relations = relationMasks(ctx.catalog, ctx.columnMask);
  let searchPath = ctx.searchPath;
  return parsed.statements.map((statement) => {
    const env: AnalyzerEnv = { catalog: ctx.catalog, searchPath, columnMask: ctx.columnMask, relations };
    const plan = new StatementPlanner(env, relations, ctx).plan(statement.node);
    searchPath = searchPathAfter(statement.node, searchPath);
    return plan;
  });
}

/**
 * Masks per relation column (relation oid → attnum → mask): base tables via `columnMask`,
 * views and materialized views through their definitions (recursively; cycles and
 * unparseable definitions → every column of that view masked, with a rule saying why).
 *
 * A view column computed from a masked column is reported `derived: true` whatever the
 * policy's `onDerived`: refusing is a decision about a statement, which planStatements
 * makes; rows arriving without a plan (FETCH, EXECUTE) can only be masked. The parameter
 * is accepted for symmetry with LineageContext and does not change the result.
 */
export function maskedRelationColumns(
  catalog: Catalog,
  columnMask: ColumnMaskLookup,
  _onDerived?: 'mask' | 'refuse',
): ReadonlyMap<number, ReadonlyMap<number, OutputMask>> {
  const masks = relationMasks(catalog, columnMask);
  const result = new Map<number, Map<number, OutputMask>>();
  for (const relation of catalog.relations) {
    const columns = masks.columnsOf(relation);
    relation.columns.forEach((column, i) => {
      const flow = columns[i]?.flow;
      if (flow === undefined) return;
      let byAttnum = result.get(relation.oid);
      if (byAttnum === undefined) {
        byAttnum = new Map();
        result.set(relation.oid, byAttnum);
      }
      byAttnum.set(column.attnum, flow);
    });
  }
  return result;
}

/** `SET [LOCAL] search_path TO a, b` changes how later statements of the same text resolve names. */
function searchPathAfter(node: PgObject, current: readonly string[]): readonly string[] {
  const set = nodeBody(node, 'VariableSetStmt');
  if (set === undefined || stringField(set, 'name') !== 'search_path') return current;
  if (stringField(set, 'kind') !== 'VAR_SET_VALUE') return current;
  const schemas: string[] = [];
  for (const arg of asArray(set['args'])) {
    const value = constantValue(arg);
    if (value?.type !== 'string') return current;
    schemas.push(value.value);
  }
  return schemas;
}
