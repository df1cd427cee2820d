/**
 * Queries in the lineage analysis: which masked data each output column of a SELECT,
 * VALUES, set operation or RETURNING list carries, through FROM items (relations, views,
 * subqueries, functions, joins), CTEs (recursive and data-modifying) and star expansion.
 * Writes that would copy masked values into tables are recorded as refusals here.
 */
import {
  combineUnknown,
  completeColumns,
  computedColumn,
  derivedFrom,
  findColumn,
  firstMaskedFlow,
  flowByName,
  NO_COLUMNS,
  opaqueColumns,
  renameColumns,
  sameColumns,
  unionColumns,
  type Column,
  type ColumnSet,
  type Flow,
} from './lineage-flow.js';
import { LineageTooComplex, sortKey } from './lineage-expr.js';
import { FromAnalyzer, register } from './lineage-from.js';
import { launderingRefusal } from './lineage-refusals.js';
import { Level, type CteScope, type RangeEntry } from './lineage-scope.js';
import { outputName, relationName } from './lineage-names.js';
import {
  asArray,
  boolField,
  constantValue,
  field,
  nameList,
  nodeBody,
  nodeType,
  stringField,
  stringNodeValue,
  type PgObject,
} from '../inspect/sql/parser.js';
import type { OutputMask } from './plan.js';

const DML = new Set(['InsertStmt', 'UpdateStmt', 'DeleteStmt', 'MergeStmt']);

/** Passes over a WITH RECURSIVE list before its masks must have settled (they only grow). */
const MAX_RECURSIVE_PASSES = 8;

export class QueryAnalyzer extends FromAnalyzer {
  query(node: unknown, outer: Level): ColumnSet {
    const type = nodeType(node);
    const body = type === undefined ? undefined : nodeBody(node, type);
    if (body === undefined || type === undefined) return NO_COLUMNS;
    if (type === 'SelectStmt') return this.select(body, outer);
    if (DML.has(type)) return this.dml(type, body, outer);
    return opaqueColumns(`a ${type}`, undefined);
  }

  select(body: PgObject, outer: Level): ColumnSet {
    this.tick();
    const ctes = this.withClause(field(body, 'withClause'), outer);
    const level = new Level(outer, ctes);
    if ((stringField(body, 'op') ?? 'SETOP_NONE') !== 'SETOP_NONE') {
      const left = this.select(field(body, 'larg') ?? {}, level);
      const right = this.select(field(body, 'rarg') ?? {}, level);
      return this.resultClauses(body, level, unionColumns(left, right));
    }
    if (Array.isArray(body['valuesLists'])) return this.resultClauses(body, level, this.values(body['valuesLists'], level));
    for (const item of asArray(body['fromClause'])) level.sources.push(this.fromItem(item, level));
    this.predicate('WHERE', body['whereClause'], level);
    for (const item of asArray(body['windowClause'])) {
      const def = nodeBody(item, 'WindowDef');
      const name = def === undefined ? undefined : stringField(def, 'name');
      if (def !== undefined && name !== undefined) level.windows.set(name, this.window({ ...def, name: undefined }, level));
    }
    const targets = asArray(body['targetList']);
    // An EXISTS discards its outputs: they are no predicate (its clauses still are).
    const outputs =
      body === this.existsQuery ? this.inClause(undefined, () => this.targetList(targets, level)) : this.targetList(targets, level);
    this.outputClauses(body, level, outputs);
    return outputs;
  }

  private values(rows: readonly unknown[], level: Level): ColumnSet {
    let result: ColumnSet | undefined;
    for (const row of rows) {
      const items = asArray(nodeBody(row, 'List')?.['items']);
      const columns = completeColumns(items.map((item, i) => computedColumn(`column${i + 1}`, this.expr(item, level))));
      result = result === undefined ? columns : unionColumns(result, columns);
    }
    return result ?? NO_COLUMNS;
  }

  /** ORDER BY / LIMIT of a set operation or VALUES (at `level`, which has no FROM items): they see the result's columns only. */
  private resultClauses(body: PgObject, level: Level, result: ColumnSet): ColumnSet {
    level.sources.push({ refname: undefined, schemas: [], columns: result });
    this.outputClauses(body, level, result);
    return result;
  }

  /** Clauses that may name output columns (by position or name) besides input expressions. */
  private outputClauses(body: PgObject, level: Level, outputs: ColumnSet): void {
    const byOutput = (clause: string, items: readonly unknown[]): void => {
      for (const item of items) {
        const node = sortKey(item);
        const set = nodeBody(node, 'GroupingSet');
        if (set !== undefined) {
          byOutput(clause, asArray(set['content']));
          continue;
        }
        this.inClause(clause, () => {
          this.reference(outputReference(node, outputs));
          this.expr(node, level);
        });
      }
    };
    byOutput('GROUP BY', asArray(body['groupClause']));
    this.predicate('HAVING', body['havingClause'], level);
    byOutput('DISTINCT ON', asArray(body['distinctClause']));
    byOutput('ORDER BY', asArray(body['sortClause']));
    this.predicate('LIMIT', body['limitCount'], level);
    this.predicate('OFFSET', body['limitOffset'], level);
  }

  // -------------------------------------------------------------------------------------
  // Target lists

  private targetList(items: readonly unknown[], level: Level): ColumnSet {
    const known: Column[] = [];
    let unknown: ColumnSet['unknown'];
    for (const item of items) {
      const target = nodeBody(item, 'ResTarget');
      if (target === undefined) continue;
      const value = target['val'];
      const expanded = this.starExpansion(value, level);
      if (expanded !== undefined) {
        for (const column of expanded.known) this.reference(column.flow);
        this.reference(expanded.unknown?.any);
        known.push(...expanded.known);
        unknown = combineUnknown(unknown, expanded.unknown);
        continue;
      }
      const name = stringField(target, 'name') ?? outputName(value);
      const plain = this.plainColumn(value, level);
      known.push(plain !== undefined ? { ...plain, name } : computedColumn(name, this.expr(value, level)));
    }
    return { known, unknown };
  }

  /** `*`, `t.*`, `(c).*` in a target list: the columns they stand for; undefined for other targets. */
  private starExpansion(value: unknown, level: Level): ColumnSet | undefined {
    const ref = nodeBody(value, 'ColumnRef');
    const indirection = nodeBody(value, 'A_Indirection');
    let row: unknown;
    if (ref !== undefined) {
      const fields = asArray(ref['fields']);
      if (nodeType(fields[fields.length - 1]) !== 'A_Star') return undefined;
      if (fields.length === 1) return everySource(level);
      row = value;
    } else if (indirection !== undefined) {
      const path = asArray(indirection['indirection']);
      if (nodeType(path[path.length - 1]) !== 'A_Star') return undefined;
      row = path.length === 1 ? indirection['arg'] : undefined;
    } else {
      return undefined;
    }
    const target = this.columnReference(row, level);
    if (target?.kind === 'row') return target.entry.columns;
    // The fields of a composite value: unknown names, all computed from it.
    return opaqueColumns('a composite value', derivedFrom([this.expr(value, level)]));
  }

  // -------------------------------------------------------------------------------------
  // WITH

  private withClause(withClause: PgObject | undefined, outer: Level): CteScope | undefined {
    let scope = outer.ctes;
    if (withClause === undefined) return scope;
    const ctes: PgObject[] = [];
    for (const item of asArray(withClause['ctes'])) {
      const cte = nodeBody(item, 'CommonTableExpr');
      if (cte !== undefined) ctes.push(cte);
    }
    if (!boolField(withClause, 'recursive')) {
      for (const cte of ctes) {
        const columns = this.cteColumns(cte, new Level(outer, scope));
        scope = { name: stringField(cte, 'ctename') ?? '', columns, parent: scope };
      }
      return scope;
    }
    // WITH RECURSIVE: a CTE may read itself and any other of the list. Start from "nothing
    // masked" and re-analyse until the masks settle; they only grow, so this is the least
    // fixpoint, and findings of earlier passes are a subset of the last one's.
    const nodes: CteScope[] = [];
    for (const cte of ctes) {
      scope = { name: stringField(cte, 'ctename') ?? '', columns: opaqueColumns('a recursive query', undefined), parent: scope };
      nodes.push(scope);
    }
    for (let pass = 0, changed = true; changed; pass++) {
      if (pass === MAX_RECURSIVE_PASSES) throw new LineageTooComplex('recursive CTE masks did not settle');
      changed = false;
      ctes.forEach((cte, i) => {
        const node = nodes[i] as CteScope;
        // PostgreSQL reports no origin through a recursive query.
        const next = this.cteColumns(cte, new Level(outer, scope));
        const columns: ColumnSet = { known: next.known.map((c) => ({ ...c, hasOrigin: false })), unknown: next.unknown };
        if (!sameColumns(node.columns, columns)) changed = true;
        node.columns = columns;
      });
    }
    return scope;
  }

  private cteColumns(cte: PgObject, outer: Level): ColumnSet {
    const columns = renameColumns(this.query(cte['ctequery'], outer), nameList(cte['aliascolnames']) ?? []);
    const extra: Column[] = [];
    const search = field(cte, 'search_clause');
    if (search !== undefined) {
      const flow = derivedFrom((nameList(search['search_col_list']) ?? []).map((n) => flowByName(columns, n)));
      extra.push(computedColumn(stringField(search, 'search_seq_column') ?? '', flow));
    }
    const cycle = field(cte, 'cycle_clause');
    if (cycle !== undefined) {
      const flow = derivedFrom((nameList(cycle['cycle_col_list']) ?? []).map((n) => flowByName(columns, n)));
      extra.push(computedColumn(stringField(cycle, 'cycle_mark_column') ?? '', flow));
      extra.push(computedColumn(stringField(cycle, 'cycle_path_column') ?? '', flow));
    }
    return extra.length === 0 ? columns : { known: [...columns.known, ...extra], unknown: columns.unknown };
  }

  // -------------------------------------------------------------------------------------
  // INSERT / UPDATE / DELETE / MERGE

  /** A data-modifying statement: refuses copies of masked values; returns its RETURNING columns. */
  dml(type: string, body: PgObject, outer: Level): ColumnSet {
    this.tick();
    const ctes = this.withClause(field(body, 'withClause'), outer);
    const level = new Level(outer, ctes);
    const relation = field(body, 'relation') ?? {};
    const targetName = relationName(relation);
    // The target of a write is never a CTE.
    const target = this.relationEntry(relation, level, false);
    if (type === 'InsertStmt') {
      // The rows to insert do not see the target.
      const rows = this.query(body['selectStmt'], new Level(outer, ctes));
      const flow = firstMaskedFlow(rows);
      if (flow !== undefined) this.launder(`INSERT INTO ${targetName}`, `into ${targetName}`, flow);
    }
    level.sources.push(target);
    for (const key of ['fromClause', 'usingClause']) {
      for (const item of asArray(body[key])) level.sources.push(this.fromItem(item, level));
    }
    if (type === 'MergeStmt') {
      level.sources.push(this.fromItem(body['sourceRelation'], level));
      this.predicate('MERGE … ON', body['joinCondition'], level);
    }
    const conflict = field(body, 'onConflictClause');
    if (conflict !== undefined) {
      // `excluded` holds the rows being inserted, which carry nothing masked (or were refused above).
      const excluded = target.columns.known.map((c) => computedColumn(c.name, undefined));
      register(level, { refname: 'excluded', schemas: [], columns: completeColumns(excluded) });
      this.assignments(asArray(conflict['targetList']), level, targetName);
      this.predicate('WHERE', conflict['whereClause'], level);
    }
    this.assignments(asArray(body['targetList']), level, targetName);
    this.predicate('WHERE', body['whereClause'], level);
    for (const item of asArray(body['mergeWhenClauses'])) {
      const when = nodeBody(item, 'MergeWhenClause') ?? {};
      this.predicate('MERGE … WHEN', when['condition'], level);
      if (stringField(when, 'commandType') === 'CMD_UPDATE') this.assignments(asArray(when['targetList']), level, targetName);
      for (const value of asArray(when['values'])) {
        const flow = this.expr(value, level);
        if (flow !== undefined) this.launder(`MERGE INTO ${targetName} … INSERT`, `into ${targetName}`, flow);
      }
    }
    return this.returning(body, level, target);
  }

  /** `SET col = value`: a value computed from masked data would be stored unmasked. */
  private assignments(targets: readonly unknown[], level: Level, targetName: string): void {
    for (const item of targets) {
      const target = nodeBody(item, 'ResTarget');
      if (target === undefined) continue;
      const column = stringField(target, 'name') ?? '?';
      const flow = derivedFrom([this.expr(target['val'], level), this.expr(target['indirection'], level)]);
      if (flow !== undefined) this.launder(`SET ${column} = …`, `into column ${column} of ${targetName}`, flow);
    }
  }

  private launder(action: string, destination: string, flow: OutputMask): void {
    this.findings.add('laundering', launderingRefusal(action, destination, flow));
  }

  private returning(body: PgObject, level: Level, target: RangeEntry): ColumnSet {
    const clause = field(body, 'returningClause');
    const items = asArray(clause?.['exprs'] ?? body['returningList']);
    if (items.length === 0) return NO_COLUMNS;
    // `old` and `new` (PostgreSQL 18), possibly renamed by `RETURNING WITH (OLD AS o)`.
    const names = { RETURNING_OPTION_OLD: 'old', RETURNING_OPTION_NEW: 'new' } as Record<string, string>;
    for (const option of asArray(clause?.['options'])) {
      const o = nodeBody(option, 'ReturningOption') ?? {};
      const value = stringField(o, 'value');
      if (value !== undefined) names[stringField(o, 'option') ?? ''] = value;
    }
    for (const name of [names['RETURNING_OPTION_OLD'], names['RETURNING_OPTION_NEW']]) {
      register(level, { refname: name, schemas: [], columns: target.columns });
    }
    return this.targetList(items, level);
  }

  /** The columns `COPY relation [(columns)]` copies. */
  copiedColumns(relation: PgObject, attlist: readonly string[]): ColumnSet {
    const entry = this.relationEntry(relation, new Level(undefined, undefined), false);
    if (attlist.length === 0) return entry.columns;
    return completeColumns(
      attlist.map((name): Column => findColumn(entry.columns, name) ?? computedColumn(name, flowByName(entry.columns, name))),
    );
  }
}

/** `*`: every column of the FROM list, in order. */
function everySource(level: Level): ColumnSet {
  let known: Column[] = [];
  let unknown: ColumnSet['unknown'];
  for (const entry of level.sources) {
    known = known.concat(entry.columns.known);
    unknown = combineUnknown(unknown, entry.columns.unknown);
  }
  return { known, unknown };
}

/** ORDER BY 2 / ORDER BY alias: the output column named (PostgreSQL prefers outputs there). */
function outputReference(node: unknown, outputs: ColumnSet): Flow {
  const constant = constantValue(node);
  if (constant?.type === 'integer') {
    if (outputs.unknown !== undefined) return derivedFrom([outputs.unknown.any, ...outputs.known.map((c) => c.flow)]);
    return outputs.known[constant.value - 1]?.flow;
  }
  const fields = asArray(nodeBody(node, 'ColumnRef')?.['fields']);
  const name = fields.length === 1 ? stringNodeValue(fields[0]) : undefined;
  return name === undefined ? undefined : findColumn(outputs, name)?.flow;
}
