/**
 * Name resolution for the lineage analysis, following PostgreSQL's parse analysis: which
 * FROM item (at which query level) a column reference names, CTE visibility, whole-row
 * references and attribute notation.
 */
import {
  derivedFrom,
  findColumn,
  stricterFlow,
  wholeRowFlow,
  type Column,
  type ColumnSet,
  type Flow,
} from './lineage-flow.js';

/** One FROM item as the query sees it. */
export interface RangeEntry {
  /** The name qualified references use (alias, else relation name); undefined when it has none. */
  readonly refname: string | undefined;
  /** Schemas a `schema.table.column` reference may name it by (none once aliased). */
  readonly schemas: readonly string[];
  readonly columns: ColumnSet;
}

/** WITH queries visible at a point, innermost first. `columns` settles over passes for WITH RECURSIVE. */
export interface CteScope {
  readonly name: string;
  columns: ColumnSet;
  readonly parent: CteScope | undefined;
}

export function findCte(scope: CteScope | undefined, name: string): CteScope | undefined {
  for (let s = scope; s !== undefined; s = s.parent) if (s.name === name) return s;
  return undefined;
}

/** One query level: its FROM items, and the level it is nested in (for correlated references). */
export class Level {
  /** FROM items addressable by name (a join's members stay addressable unless the join is aliased). */
  readonly relations: RangeEntry[] = [];
  /** FROM items searched for unqualified column names (a join as a whole, with its merged columns). */
  readonly sources: RangeEntry[] = [];
  /** Named windows (`WINDOW w AS (…)`) and what their PARTITION BY / ORDER BY carry. */
  readonly windows = new Map<string, Flow>();

  constructor(
    readonly parent: Level | undefined,
    readonly ctes: CteScope | undefined,
  ) {}

  findWindow(name: string): Flow {
    for (let l: Level | undefined = this; l !== undefined; l = l.parent) {
      if (l.windows.has(name)) return l.windows.get(name);
    }
    return undefined;
  }
}

/** What a column reference names. */
export type Reference =
  /** A column's own value (possibly renamed on the way). */
  | { readonly kind: 'column'; readonly column: Column }
  /** A whole row (`c`, `c.*`). */
  | { readonly kind: 'row'; readonly entry: RangeEntry }
  /** A value computed from columns (a composite's field, attribute notation) or an unknown column. */
  | { readonly kind: 'value'; readonly flow: Flow }
  /** Nothing: PostgreSQL will reject the reference. */
  | { readonly kind: 'none' };

export function referenceFlow(ref: Reference): Flow {
  switch (ref.kind) {
    case 'column':
      return ref.column.flow;
    case 'row':
      return wholeRowFlow(ref.entry.columns);
    case 'value':
      return ref.flow;
    case 'none':
      return undefined;
  }
}

/** A field of `ref` (a composite's field): computed from it. */
function fieldOf(ref: Reference): Reference {
  return { kind: 'value', flow: derivedFrom([referenceFlow(ref)]) };
}

export function findRelation(level: Level, schema: string | undefined, name: string): RangeEntry | undefined {
  for (let l: Level | undefined = level; l !== undefined; l = l.parent) {
    for (const entry of l.relations) {
      if (entry.refname === name && (schema === undefined || entry.schemas.includes(schema))) return entry;
    }
  }
  return undefined;
}

/** `rel.name`: the column, or — when `rel` has no such column — attribute notation `name(rel)` over the whole row. */
export function columnOfEntry(entry: RangeEntry, name: string): Reference {
  const column = findColumn(entry.columns, name);
  if (column !== undefined) return { kind: 'column', column };
  if (entry.columns.unknown !== undefined) return { kind: 'value', flow: entry.columns.unknown.byName(name) };
  return { kind: 'value', flow: wholeRowFlow(entry.columns) };
}

/**
 * An unqualified name: the column of that name in the innermost level that has one; else a
 * whole-row reference to a FROM item of that name. A FROM item whose columns are unknown
 * may or may not have the column, so what it could carry joins the answer from further out.
 */
function unqualified(level: Level, name: string): Reference {
  let maybe: Flow;
  let sawUnknown = false;
  for (let l: Level | undefined = level; l !== undefined; l = l.parent) {
    const found: Column[] = [];
    for (const entry of l.sources) {
      const column = findColumn(entry.columns, name);
      if (column !== undefined) found.push(column);
      else if (entry.columns.unknown !== undefined) {
        sawUnknown = true;
        maybe = stricterFlow(maybe, entry.columns.unknown.byName(name));
      }
    }
    const [first] = found;
    if (first !== undefined) {
      // Several matches are an ambiguity PostgreSQL rejects; answer with the strictest anyway.
      const flow = found.map((c) => c.flow).reduce(stricterFlow, maybe);
      return found.length === 1 && !sawUnknown ? { kind: 'column', column: first } : { kind: 'value', flow };
    }
  }
  if (sawUnknown) return { kind: 'value', flow: maybe };
  const entry = findRelation(level, undefined, name);
  return entry !== undefined ? { kind: 'row', entry } : { kind: 'none' };
}

function qualified(level: Level, schema: string | undefined, rel: string, column: string, fields: number): Reference | undefined {
  const entry = findRelation(level, schema, rel);
  if (entry === undefined) return undefined;
  const ref = columnOfEntry(entry, column);
  return fields > 0 ? fieldOf(ref) : ref;
}

/**
 * Resolves a ColumnRef's names (`a`, `t.a`, `s.t.a`, `db.s.t.a`, or a composite column's
 * field `c.f`), with `star` for a trailing `.*`.
 */
export function resolveColumnRef(level: Level, names: readonly string[], star: boolean): Reference {
  const [n0, n1, n2, n3] = names;
  if (star) {
    if (n0 === undefined) return { kind: 'value', flow: everyColumn(level) };
    const [schema, rel] = names.length === 1 ? [undefined, n0] : names.slice(-2);
    const entry = findRelation(level, schema, rel ?? n0);
    return entry !== undefined ? { kind: 'row', entry } : fieldOf(resolveColumnRef(level, names, false));
  }
  if (n0 === undefined) return { kind: 'none' };
  if (n1 === undefined) return unqualified(level, n0);
  if (n2 === undefined) return qualified(level, undefined, n0, n1, 0) ?? fieldOf(unqualified(level, n0));
  const field = (): Reference => fieldOf(unqualified(level, n0));
  if (n3 === undefined) return qualified(level, n0, n1, n2, 0) ?? qualified(level, undefined, n0, n1, 1) ?? field();
  return qualified(level, n1, n2, n3, 0) ?? qualified(level, n0, n1, n2, 1) ?? field();
}

/** A bare `*` inside an expression: every column of the innermost FROM list. */
function everyColumn(level: Level): Flow {
  return derivedFrom(level.sources.map((e) => wholeRowFlow(e.columns)));
}
