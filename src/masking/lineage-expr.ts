/**
 * Expressions in the lineage analysis: what masked data each expression carries, and which
 * masked columns the predicate clauses (WHERE, JOIN ON, GROUP BY, window, FILTER…) use.
 *
 * Any expression that takes a masked value as input carries it, derived — whatever the
 * function or operator — except `count(…)` and EXISTS, which reveal no value. Node types
 * with no handler here are walked generically, so a construct this file does not know
 * (a new JSON or XML expression) still carries whatever flows into it: fail closed.
 */
import type { Catalog, CatalogRelation } from './catalog.js';
import { derivedFrom, type Column, type ColumnSet, type Flow, wholeRowFlow } from './lineage-flow.js';
import { launderingRefusal, queryRunnerRefusal, type Findings } from './lineage-refusals.js';
import { columnOfEntry, referenceFlow, resolveColumnRef, type Level, type Reference } from './lineage-scope.js';
import type { ColumnMaskLookup } from './plan.js';
import {
  asArray,
  field,
  isObject,
  nameList,
  nodeBody,
  nodeType,
  stringField,
  stringNodeValue,
  type PgObject,
} from '../inspect/sql/parser.js';

/** The columns of a catalog relation, with the flows lineage gives them (views through their definitions). */
export interface RelationColumns {
  columnsOf(relation: CatalogRelation): readonly Column[];
  /** True when any column of the catalog is masked. */
  hasMaskedColumns(): boolean;
}

export interface AnalyzerEnv {
  readonly catalog: Catalog;
  readonly searchPath: readonly string[];
  readonly columnMask: ColumnMaskLookup;
  readonly relations: RelationColumns;
}

/** The analysis gave up: too much work for one statement (huge texts, recursive CTEs nested in each other). */
export class LineageTooComplex extends Error {
  override readonly name = 'LineageTooComplex';
}

/** Nodes visited per statement before giving up (a statement of several MB stays well under). */
const MAX_WORK = 2_000_000;

/**
 * Functions that send or store their arguments outside the query result: a masked value
 * passed to them would reach the client (a setting read back, a notification, a large
 * object, another server) without passing the masker.
 */
const SIDE_CHANNELS: ReadonlyMap<string, string> = new Map([
  ['set_config', 'into a session setting (readable with SHOW or current_setting)'],
  ['pg_notify', 'into a notification payload'],
  ['lo_from_bytea', 'into a large object'],
  ['lo_put', 'into a large object'],
  ['lowrite', 'into a large object'],
  ['dblink', 'to another server'],
  ['dblink_exec', 'to another server'],
  ['dblink_send_query', 'to another server'],
  ['pg_file_write', 'into a file on the database server'],
  ['pg_logical_emit_message', 'into the write-ahead log'],
]);

/**
 * Built-in functions that run SQL given as text, or read a table, schema or database named
 * at run time: what they return has no lineage this analysis can follow.
 */
const RUNS_QUERIES = new Set([
  'query_to_xml',
  'query_to_xml_and_xmlschema',
  'cursor_to_xml',
  'table_to_xml',
  'table_to_xml_and_xmlschema',
  'schema_to_xml',
  'schema_to_xml_and_xmlschema',
  'database_to_xml',
  'database_to_xml_and_xmlschema',
  'ts_stat',
  'ts_rewrite',
  'crosstab',
  'crosstab2',
  'crosstab3',
  'crosstab4',
  'connectby',
  'xpath_table',
  'dblink',
  'dblink_fetch',
  'dblink_get_result',
]);

export abstract class ExpressionAnalyzer {
  /** The predicate clause being analysed, if any: masked columns referenced in it are recorded. */
  private clause: string | undefined;
  /** The query of an EXISTS being analysed: its outputs are discarded, so they are no predicate. */
  protected existsQuery: PgObject | undefined;
  private work = 0;

  constructor(
    protected readonly env: AnalyzerEnv,
    protected readonly findings: Findings,
  ) {}

  /** The rows of a nested query (`SelectStmt`, or DML with RETURNING) seen from `outer`. */
  abstract query(node: unknown, outer: Level): ColumnSet;

  protected tick(): void {
    if (++this.work > MAX_WORK) throw new LineageTooComplex('statement too complex for the lineage analysis');
  }

  protected inClause<T>(clause: string | undefined, run: () => T): T {
    const saved = this.clause;
    this.clause = clause;
    try {
      return run();
    } finally {
      this.clause = saved;
    }
  }

  /** A masked value was referenced: a predicate if inside a predicate clause. */
  protected reference(flow: Flow): void {
    if (this.clause !== undefined) this.findings.predicate(this.clause, flow);
  }

  /** Analyses a predicate clause (at any nesting level, every masked column it references counts). */
  protected predicate(clause: string, node: unknown, level: Level): void {
    if (node === undefined) return;
    this.inClause(clause, () => this.expr(node, level));
  }

  expr(node: unknown, level: Level): Flow {
    this.tick();
    const type = nodeType(node);
    if (type === undefined) return this.children(node, level);
    const body = (node as PgObject)[type] as PgObject;
    switch (type) {
      case 'ColumnRef':
        return this.columnRef(body, level);
      case 'A_Const':
      case 'ParamRef':
      case 'String':
      case 'Integer':
      case 'Float':
      case 'Boolean':
      case 'BitString':
        return undefined;
      case 'CollateClause':
        return this.expr(body['arg'], level); // the same value, compared differently
      case 'FuncCall':
        return this.funcCall(body, level);
      case 'SubLink':
        return this.subLink(body, level);
      case 'A_Indirection':
        return this.indirection(body, level);
      case 'SelectStmt':
        return wholeRowFlow(this.query(node, level));
      default:
        return this.children(body, level);
    }
  }

  /** Everything inside a node of no particular meaning here: derived from every expression in it. */
  private children(value: unknown, level: Level): Flow {
    const flows: Flow[] = [];
    const visit = (v: unknown): void => {
      if (Array.isArray(v)) {
        for (const item of v) visit(item);
      } else if (nodeType(v) !== undefined) {
        flows.push(this.expr(v, level));
      } else if (isObject(v)) {
        // A bare struct: a set operation's branch is a query; anything else holds expressions.
        if (typeof v['op'] === 'string' && v['op'].startsWith('SETOP_')) flows.push(this.expr({ SelectStmt: v }, level));
        else for (const key in v) if (typeof v[key] === 'object') visit(v[key]);
      }
    };
    if (isObject(value)) for (const key in value) visit(value[key]);
    else visit(value);
    return derivedFrom(flows);
  }

  /** What a ColumnRef names, or undefined when `node` is not one. */
  protected columnReference(node: unknown, level: Level): Reference | undefined {
    const body = nodeBody(node, 'ColumnRef');
    if (body === undefined) return undefined;
    const fields = asArray(body['fields']);
    const star = nodeType(fields[fields.length - 1]) === 'A_Star';
    const names: string[] = [];
    for (const f of star ? fields.slice(0, -1) : fields) {
      const name = stringNodeValue(f);
      if (name === undefined) return { kind: 'none' };
      names.push(name);
    }
    return resolveColumnRef(level, names, star);
  }

  private columnRef(body: PgObject, level: Level): Flow {
    const flow = referenceFlow(this.columnReference({ ColumnRef: body }, level) ?? { kind: 'none' });
    this.reference(flow);
    return flow;
  }

  /**
   * The column a plain reference names (`email`, `c.email`, `(c).email`), its own value;
   * undefined for anything computed.
   */
  protected plainColumn(node: unknown, level: Level): Column | undefined {
    let ref = this.columnReference(node, level);
    const indirection = nodeBody(node, 'A_Indirection');
    if (indirection !== undefined) ref = this.fieldOfRow(indirection, level);
    if (ref?.kind !== 'column') return undefined;
    this.reference(ref.column.flow);
    return ref.column;
  }

  /** `(c).email`: a field of a whole-row reference is that column. */
  private fieldOfRow(body: PgObject, level: Level): Reference | undefined {
    const indirection = asArray(body['indirection']);
    const name = indirection.length === 1 ? stringNodeValue(indirection[0]) : undefined;
    const row = this.columnReference(body['arg'], level);
    if (name === undefined || row?.kind !== 'row') return undefined;
    return columnOfEntry(row.entry, name);
  }

  private indirection(body: PgObject, level: Level): Flow {
    const field = this.fieldOfRow(body, level);
    if (field !== undefined) {
      const flow = referenceFlow(field);
      this.reference(flow);
      return flow;
    }
    return this.children(body, level); // subscripts, fields of computed values: derived
  }

  private funcCall(body: PgObject, level: Level): Flow {
    const names = nameList(body['funcname']) ?? [];
    const name = names[names.length - 1] ?? '';
    const args = asArray(body['args']).map((arg) => this.expr(arg, level));
    const inputs = [...args];
    if (RUNS_QUERIES.has(name) && this.env.relations.hasMaskedColumns()) {
      this.findings.add('opaque', queryRunnerRefusal(name));
    }
    const sink = SIDE_CHANNELS.get(name);
    const argFlow = derivedFrom(args);
    if (sink !== undefined && argFlow !== undefined) {
      this.findings.add('laundering', launderingRefusal(`Calling ${name}(…)`, sink, argFlow));
    }
    this.inClause('aggregate ORDER BY', () => {
      for (const sort of asArray(body['agg_order'])) inputs.push(this.expr(sortKey(sort), level));
    });
    if (body['agg_filter'] !== undefined) inputs.push(this.inClause('FILTER', () => this.expr(body['agg_filter'], level)));
    const over = field(body, 'over');
    if (over !== undefined) inputs.push(this.window(over, level));
    // count(x) and count(*) say how many rows there are, not what a value is.
    if (name === 'count' && (names.length === 1 || names[0] === 'pg_catalog')) return undefined;
    return derivedFrom(inputs);
  }

  /** A window definition: PARTITION BY and ORDER BY are predicates, and shape the function's value. */
  protected window(def: PgObject, level: Level): Flow {
    const flows: Flow[] = [];
    for (const key of ['name', 'refname']) {
      const named = stringField(def, key);
      if (named !== undefined) flows.push(level.findWindow(named));
    }
    this.inClause('window PARTITION BY', () => {
      for (const item of asArray(def['partitionClause'])) flows.push(this.expr(item, level));
    });
    this.inClause('window ORDER BY', () => {
      for (const sort of asArray(def['orderClause'])) flows.push(this.expr(sortKey(sort), level));
    });
    this.inClause('window frame', () => {
      flows.push(this.expr(def['startOffset'], level), this.expr(def['endOffset'], level));
    });
    return derivedFrom(flows);
  }

  private subLink(body: PgObject, level: Level): Flow {
    const kind = stringField(body, 'subLinkType');
    const test = this.expr(body['testexpr'], level);
    if (kind === 'EXISTS_SUBLINK') {
      // Only whether a row exists comes out.
      const saved = this.existsQuery;
      this.existsQuery = nodeBody(body['subselect'], 'SelectStmt');
      try {
        this.query(body['subselect'], level);
      } finally {
        this.existsQuery = saved;
      }
      return undefined;
    }
    const rows = this.query(body['subselect'], level);
    const first = rows.unknown === undefined ? rows.known[0]?.flow : wholeRowFlow(rows);
    switch (kind) {
      case 'EXPR_SUBLINK':
        return first; // `(SELECT email …)` is email's own value
      case 'ARRAY_SUBLINK':
        return derivedFrom([first]);
      default: // ANY, ALL, row comparison, UPDATE's multiple assignment
        return derivedFrom([test, wholeRowFlow(rows)]);
    }
  }
}

/** The expression of a `SortBy` (ORDER BY items), or the node itself. */
export function sortKey(node: unknown): unknown {
  const sort = nodeBody(node, 'SortBy');
  return sort === undefined ? node : sort['node'];
}
