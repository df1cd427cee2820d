/**
 * FROM items in the lineage analysis: relations (catalog tables and views, CTEs, relations
 * outside the catalog), subqueries, functions, XMLTABLE / JSON_TABLE and joins, each as
 * the columns it exposes and the names it can be referenced by.
 */
import {
  combineUnknown,
  completeColumns,
  computedColumn,
  derivedFrom,
  eitherOf,
  findColumn,
  flowByName,
  opaqueColumns,
  renameColumns,
  sourceFlow,
  stricterFlow,
  type Column,
  type ColumnSet,
  type Flow,
} from './lineage-flow.js';
import { ExpressionAnalyzer } from './lineage-expr.js';
import { findCte, Level, type RangeEntry } from './lineage-scope.js';
import { asArray, boolField, field, nameList, nodeBody, nodeType, stringField, type PgObject } from '../inspect/sql/parser.js';

export abstract class FromAnalyzer extends ExpressionAnalyzer {
  protected fromItem(node: unknown, level: Level): RangeEntry {
    this.tick();
    const type = nodeType(node) ?? '';
    const body = nodeBody(node, type) ?? {};
    switch (type) {
      case 'RangeVar':
        return this.relationEntry(body, level, true);
      case 'RangeSubselect':
        return this.subqueryEntry(body, level);
      case 'RangeFunction':
        return this.functionEntry(body, level);
      case 'JoinExpr':
        return this.joinEntry(body, level);
      case 'RangeTableSample': {
        const entry = this.fromItem(body['relation'], level);
        this.predicate('TABLESAMPLE', [body['args'], body['repeatable']], level);
        return entry;
      }
      case 'RangeTableFunc': // XMLTABLE
      case 'JsonTable':
        return this.tableFunctionEntry(type, body, level);
      default: {
        // A FROM item this analysis does not know: its columns carry whatever flows into it.
        const columns = opaqueColumns(`a ${type} in FROM`, derivedFrom([this.expr(node, level)]));
        return register(level, { refname: aliasName(body), schemas: [], columns });
      }
    }
  }

  /** A relation by name: a CTE (unless `allowCte` is false), a catalog relation, or an unknown one. */
  relationEntry(rangeVar: PgObject, level: Level, allowCte: boolean): RangeEntry {
    const name = stringField(rangeVar, 'relname') ?? '';
    const schema = stringField(rangeVar, 'schemaname');
    const alias = field(rangeVar, 'alias');
    const cte = allowCte && schema === undefined ? findCte(level.ctes, name) : undefined;
    let columns: ColumnSet;
    let schemas: readonly string[];
    if (cte !== undefined) {
      columns = cte.columns;
      schemas = [];
    } else {
      const relation = this.env.catalog.resolve(schema, name, this.env.searchPath);
      if (relation !== undefined) {
        columns = completeColumns(this.env.relations.columnsOf(relation));
        schemas = [relation.schema];
      } else {
        schemas = schema !== undefined ? [schema] : this.pathSchemas();
        columns = this.unknownRelation(schemas, schema, name);
      }
    }
    return register(level, {
      refname: alias === undefined ? name : stringField(alias, 'aliasname'),
      schemas: alias === undefined ? schemas : [],
      columns: renameColumns(columns, aliasColumns(alias)),
    });
  }

  /**
   * A relation not in the catalog: its columns are unknown, but the policy's column rules
   * still apply to the names the text uses (in any schema of the search path, for an
   * unqualified name). Its `*` and whole row stay unknown: see the notes in lineage.ts.
   */
  private unknownRelation(schemas: readonly string[], schema: string | undefined, name: string): ColumnSet {
    const what = `the relation ${schema === undefined ? '' : `${schema}.`}${name}, which is not in the gateway's catalog,`;
    const byName = (column: string): Flow => {
      let flow: Flow;
      for (const s of schemas) flow = stricterFlow(flow, sourceFlow(this.env.columnMask(s, name, column), s, name, column));
      return flow;
    };
    return { known: [], unknown: { what, byName, any: undefined } };
  }

  private pathSchemas(): string[] {
    const schemas = this.env.searchPath.map((s) => (s === '$user' ? this.env.catalog.user : s));
    return [...new Set(schemas)];
  }

  private subqueryEntry(body: PgObject, level: Level): RangeEntry {
    // A subquery sees the FROM items before it only when LATERAL.
    const outer = boolField(body, 'lateral') ? level : new Level(level.parent, level.ctes);
    const alias = field(body, 'alias');
    const columns = renameColumns(this.query(body['subquery'], outer), aliasColumns(alias));
    return register(level, { refname: aliasName(body), schemas: [], columns });
  }

  /** Functions in FROM (always LATERAL): their outputs carry whatever their arguments do. */
  private functionEntry(body: PgObject, level: Level): RangeEntry {
    const flows: Flow[] = [];
    const names: string[] = [];
    let complete = true;
    let functionName: string | undefined;
    const functions = asArray(body['functions']);
    for (const item of functions) {
      const [call, definitions] = asArray(nodeBody(item, 'List')?.['items']);
      flows.push(this.expr(call, level));
      functionName ??= nameList(nodeBody(call, 'FuncCall')?.['funcname'])?.at(-1);
      const defined = columnDefinitions(nodeBody(definitions, 'List')?.['items']);
      if (defined.length > 0) names.push(...defined);
      else complete = false;
    }
    const coldeflist = columnDefinitions(body['coldeflist']); // `f() AS t(a int, b text)`
    if (coldeflist.length > 0) {
      names.push(...coldeflist);
      complete = true;
    }
    if (boolField(body, 'ordinality')) names.push('ordinality');
    const flow = derivedFrom(flows);
    const columns = complete ? namedColumns(names, flow) : opaqueColumns(`the function ${functionName ?? ''}`, flow);
    const refname = aliasName(body) ?? (functions.length === 1 ? functionName : undefined);
    return register(level, { refname, schemas: [], columns: renameColumns(columns, aliasColumns(field(body, 'alias'))) });
  }

  /** XMLTABLE / JSON_TABLE: named columns, all computed from the document and paths. */
  private tableFunctionEntry(type: string, body: PgObject, level: Level): RangeEntry {
    const flow = derivedFrom([this.expr({ [type]: body }, level)]);
    const names: string[] = [];
    let complete = true;
    for (const column of asArray(body['columns'])) {
      const def = nodeBody(column, 'RangeTableFuncCol') ?? nodeBody(column, 'JsonTableColumn') ?? {};
      const name = stringField(def, 'colname') ?? stringField(def, 'name');
      if (name === undefined || def['columns'] !== undefined) complete = false; // JSON_TABLE NESTED columns
      else names.push(name);
    }
    const columns = complete ? namedColumns(names, flow) : opaqueColumns(type === 'JsonTable' ? 'JSON_TABLE' : 'XMLTABLE', flow);
    const refname = aliasName(body);
    return register(level, { refname, schemas: [], columns: renameColumns(columns, aliasColumns(field(body, 'alias'))) });
  }

  /**
   * A join: its members stay addressable by name (unless the join is aliased), and its
   * columns — USING columns merged first, then the rest of each side — answer unqualified names.
   */
  private joinEntry(body: PgObject, level: Level): RangeEntry {
    const before = level.relations.length;
    const left = this.fromItem(body['larg'], level);
    level.sources.push(left); // visible to a LATERAL right side
    const right = this.fromItem(body['rarg'], level);
    level.sources.pop();
    let using = nameList(body['usingClause']) ?? [];
    if (boolField(body, 'isNatural')) {
      using = left.columns.known.map((c) => c.name).filter((n) => findColumn(right.columns, n) !== undefined);
    }
    const full = stringField(body, 'jointype') === 'JOIN_FULL';
    const merged = using.map((name): Column => {
      const l = findColumn(left.columns, name);
      const r = findColumn(right.columns, name);
      const flow = eitherOf(flowByName(left.columns, name), flowByName(right.columns, name));
      this.inClause('JOIN USING', () => this.reference(flow));
      const typeOid = l !== undefined && l.typeOid === r?.typeOid ? l.typeOid : undefined;
      // FULL JOIN merges with COALESCE: no origin. Otherwise the value is the left side's.
      return { name, flow, typeOid, hasOrigin: !full && l?.hasOrigin === true };
    });
    const rest = (set: ColumnSet): Column[] => set.known.filter((c) => !using.includes(c.name));
    const columns: ColumnSet = {
      known: [...merged, ...rest(left.columns), ...rest(right.columns)],
      unknown: combineUnknown(left.columns.unknown, right.columns.unknown),
    };
    const joined: RangeEntry = { refname: undefined, schemas: [], columns };
    if (body['quals'] !== undefined) {
      level.sources.push(joined);
      this.predicate('JOIN ON', body['quals'], level);
      level.sources.pop();
    }
    const usingAlias = stringField(field(body, 'join_using_alias') ?? {}, 'aliasname');
    const alias = field(body, 'alias');
    if (alias !== undefined) {
      level.relations.length = before; // an aliased join hides its members
      const refname = stringField(alias, 'aliasname');
      return register(level, { refname, schemas: [], columns: renameColumns(columns, aliasColumns(alias)) });
    }
    if (usingAlias !== undefined) register(level, { refname: usingAlias, schemas: [], columns: completeColumns(merged) });
    return joined;
  }
}

export function register(level: Level, entry: RangeEntry): RangeEntry {
  if (entry.refname !== undefined) level.relations.push(entry);
  return entry;
}

function aliasName(body: PgObject): string | undefined {
  const alias = field(body, 'alias');
  return alias === undefined ? undefined : stringField(alias, 'aliasname');
}

function aliasColumns(alias: PgObject | undefined): string[] {
  return alias === undefined ? [] : (nameList(alias['colnames']) ?? []);
}

/** Columns known by name only, all carrying `flow`. */
function namedColumns(names: readonly string[], flow: Flow): ColumnSet {
  return completeColumns(names.map((n) => computedColumn(n, flow)));
}

function columnDefinitions(value: unknown): string[] {
  const names: string[] = [];
  for (const item of asArray(value)) {
    const name = stringField(nodeBody(item, 'ColumnDef') ?? {}, 'colname');
    if (name !== undefined) names.push(name);
  }
  return names;
}
