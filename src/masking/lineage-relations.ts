/**
 * Masks on the columns of the catalog's relations: a table's from the policy's column
 * rules; a view's (and materialized view's) also through its definition, analysed like any
 * query (views over views recursively). Computed once per catalog and policy, on demand.
 */
import type { Catalog, CatalogRelation } from './catalog.js';
import { sourceFlow, stricterFlow, type Column, type Flow } from './lineage-flow.js';
import { LineageTooComplex, type AnalyzerEnv, type RelationColumns } from './lineage-expr.js';
import { QueryAnalyzer } from './lineage-query.js';
import { Findings } from './lineage-refusals.js';
import { Level } from './lineage-scope.js';
import type { ColumnMask, ColumnMaskLookup } from './plan.js';
import { nodeBody, parseSql } from '../inspect/sql/parser.js';

/**
 * pg_get_viewdef qualifies a name unless the session that loaded the catalog could see it
 * unqualified; PostgreSQL's default search path is the best guess at that session's.
 */
const VIEW_DEFINITION_SEARCH_PATH = ['$user', 'public'];

export class RelationMasks implements RelationColumns {
  private readonly done = new Map<number, readonly Column[]>();
  private readonly inProgress = new Set<number>();
  private names: ReadonlyMap<string, ColumnMask> | undefined;

  constructor(
    readonly catalog: Catalog,
    readonly columnMask: ColumnMaskLookup,
  ) {}

  columnsOf(relation: CatalogRelation): readonly Column[] {
    const cached = this.done.get(relation.oid);
    if (cached !== undefined) return cached;
    // Reached again while analysing its own definition: a cycle of views. Not cached: the
    // outer analysis finishes the relation.
    if (this.inProgress.has(relation.oid)) return failClosed(relation, 'its definition refers to itself through other views');
    this.inProgress.add(relation.oid);
    try {
      const columns = this.compute(relation);
      this.done.set(relation.oid, columns);
      return columns;
    } catch (error) {
      // The JS stack ran out: maybe the definition's depth, maybe the statement that reached
      // this view lazily. Fail closed now, without caching, so a later shallow call retries.
      if (error instanceof RangeError) return failClosed(relation, 'its definition is nested too deeply to analyse');
      throw error;
    } finally {
      this.inProgress.delete(relation.oid);
    }
  }

  /**
   * Lower-case names of every masked column of the catalog and of every relation with one:
   * what code the analysis cannot see into (DO, function bodies) must not mention. Each
   * maps to a mask that names the rule.
   */
  maskedNames(): ReadonlyMap<string, ColumnMask> {
    if (this.names !== undefined) return this.names;
    const names = new Map<string, ColumnMask>();
    for (const relation of this.catalog.relations) {
      for (const column of this.columnsOf(relation)) {
        if (column.flow === undefined) continue;
        if (!names.has(column.name.toLowerCase())) names.set(column.name.toLowerCase(), column.flow.mask);
        if (!names.has(relation.name.toLowerCase())) names.set(relation.name.toLowerCase(), column.flow.mask);
      }
    }
    this.names = names;
    return names;
  }

  hasMaskedColumns(): boolean {
    return this.maskedNames().size > 0;
  }

  private compute(relation: CatalogRelation): readonly Column[] {
    const { schema, name } = relation;
    const own = (column: string): Flow => sourceFlow(this.columnMask(schema, name, column), schema, name, column);
    const isView = relation.kind === 'view' || relation.kind === 'materialized-view';
    const throughDefinition = isView ? this.definitionFlows(relation) : [];
    if (typeof throughDefinition === 'string') return failClosed(relation, throughDefinition);
    return relation.columns.map((c, i) => ({
      name: c.name,
      // A rule may name a view's column too (a glob like *.*.*password*).
      flow: stricterFlow(throughDefinition[i], own(c.name)),
      typeOid: c.typeOid,
      hasOrigin: true,
    }));
  }

  /** Per column, what the view's definition gives it; or why it cannot be told. */
  private definitionFlows(view: CatalogRelation): Flow[] | string {
    if (view.definition === undefined) return 'the catalog has no definition for it';
    const parsed = parseSql(view.definition);
    if (!parsed.ok) return `its definition could not be parsed (${parsed.error.message})`;
    const select = parsed.statements.length === 1 ? nodeBody(parsed.statements[0]?.node, 'SelectStmt') : undefined;
    if (select === undefined) return 'its definition is not a single query';
    const env: AnalyzerEnv = {
      catalog: this.catalog,
      searchPath: VIEW_DEFINITION_SEARCH_PATH,
      columnMask: this.columnMask,
      relations: this,
    };
    let columns;
    try {
      // The view's own predicates and derivations are its owner's, not the agent's: findings are dropped.
      columns = new QueryAnalyzer(env, new Findings()).select(select, new Level(undefined, undefined));
    } catch (error) {
      if (error instanceof LineageTooComplex) return 'its definition is too complex to analyse';
      throw error;
    }
    if (columns.unknown !== undefined) return `the columns of ${columns.unknown.what} in its definition cannot be listed`;
    if (columns.known.length !== view.columns.length) {
      return `its definition has ${columns.known.length} columns where the catalog lists ${view.columns.length}`;
    }
    return columns.known.map((c) => c.flow);
  }
}

/** Every column of a relation whose lineage cannot be told is masked, derived, saying why. */
function failClosed(relation: CatalogRelation, why: string): readonly Column[] {
  const name = `${relation.schema}.${relation.name}`;
  const rule = `masking: every column of ${name} is masked because ${why}`;
  const mask: ColumnMask = { strategy: 'redact', label: 'MASKED', rule };
  return relation.columns.map((c) => ({
    name: c.name,
    flow: { mask, derived: true, source: `${name}.${c.name}` },
    typeOid: c.typeOid,
    hasOrigin: true,
  }));
}

/**
 * One RelationMasks per catalog snapshot and policy lookup, shared by every statement
 * planned against them (views are analysed once, not once per statement).
 */
const shared = new WeakMap<Catalog, WeakMap<ColumnMaskLookup, RelationMasks>>();

export function relationMasks(catalog: Catalog, columnMask: ColumnMaskLookup): RelationMasks {
  let byLookup = shared.get(catalog);
  if (byLookup === undefined) {
    byLookup = new WeakMap();
    shared.set(catalog, byLookup);
  }
  let masks = byLookup.get(columnMask);
  if (masks === undefined) {
    masks = new RelationMasks(catalog, columnMask);
    byLookup.set(columnMask, masks);
  }
  return masks;
}
