/**
 * The values the lineage analysis tracks: what masked data a value carries (a Flow), and
 * the columns a relation, subquery or query exposes (a ColumnSet), possibly only in part
 * when their names or number cannot be known from the text and the catalog.
 */
import type { ColumnMask, OutputMask } from './plan.js';
import { stricterStrategy } from './policy.js';

/** The masked data a value carries: the mask of its strictest masked source, or undefined. */
export type Flow = OutputMask | undefined;

/** The stricter of two flows; on a tie the first, so the first masked source is the one named. */
export function stricterFlow(a: Flow, b: Flow): Flow {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return stricterStrategy(a.mask.strategy, b.mask.strategy) === a.mask.strategy ? a : b;
}

/** A value computed from `inputs`: derived from the strictest masked one among them. */
export function derivedFrom(inputs: Iterable<Flow>): Flow {
  let found: Flow;
  for (const flow of inputs) found = stricterFlow(found, flow);
  return found === undefined || found.derived ? found : { ...found, derived: true };
}

/**
 * A value that is one of two (UNION branches, a merged JOIN USING column): the stricter,
 * and derived when either may be, since a derived value must never get a `partial` mask.
 */
export function eitherOf(a: Flow, b: Flow): Flow {
  const stricter = stricterFlow(a, b);
  if (stricter === undefined || stricter.derived) return stricter;
  return a?.derived === true || b?.derived === true ? { ...stricter, derived: true } : stricter;
}

/** The flow of a source column the policy masks itself (by its own name). */
export function sourceFlow(mask: ColumnMask | undefined, schema: string, table: string, column: string): Flow {
  return mask === undefined ? undefined : { mask, derived: false, source: `${schema}.${table}.${column}` };
}

export interface Column {
  readonly name: string;
  readonly flow: Flow;
  /** The type of a relation column's own value (possibly renamed); undefined for computed values. */
  readonly typeOid: number | undefined;
  /**
   * True when PostgreSQL's RowDescription reports the relation column the value comes from
   * (plain references, through subqueries and non-recursive CTEs), so the gateway's
   * origin-based masking catches it even where positions are unknown.
   */
  readonly hasOrigin: boolean;
}

export function computedColumn(name: string, flow: Flow): Column {
  return { name, flow, typeOid: undefined, hasOrigin: false };
}

/** Columns whose names or number cannot be known: relations outside the catalog, functions. */
export interface UnknownColumns {
  /** What they belong to, for messages: `relation public.t (not in the gateway's catalog)`. */
  readonly what: string;
  /** What an unlisted column of this name could carry. */
  byName(name: string): Flow;
  /** What any unlisted column could carry (whole-row references, `*`). */
  readonly any: Flow;
}

export interface ColumnSet {
  /** The columns known, in order; every column when `unknown` is undefined. */
  readonly known: readonly Column[];
  readonly unknown: UnknownColumns | undefined;
}

export const NO_COLUMNS: ColumnSet = { known: [], unknown: undefined };

export function completeColumns(known: readonly Column[]): ColumnSet {
  return { known, unknown: undefined };
}

/** Columns of something whose outputs are unknown but all carry `flow` (a table function of masked arguments). */
export function opaqueColumns(what: string, flow: Flow): ColumnSet {
  return { known: [], unknown: { what, byName: () => flow, any: flow } };
}

export function findColumn(set: ColumnSet, name: string): Column | undefined {
  return set.known.find((c) => c.name === name);
}

/** What a column of this name carries: a known column's flow, else what the unknown part could carry. */
export function flowByName(set: ColumnSet, name: string): Flow {
  const column = findColumn(set, name);
  return column !== undefined ? column.flow : set.unknown?.byName(name);
}

/** A whole-row value (`c`, `c.*` in an expression, `row_to_json(c)`): derived from every column. */
export function wholeRowFlow(set: ColumnSet): Flow {
  return derivedFrom([...set.known.map((c) => c.flow), set.unknown?.any]);
}

/** The first masked column's flow (for refusals of statements that copy a query's rows). */
export function firstMaskedFlow(set: ColumnSet): Flow {
  for (const column of set.known) if (column.flow !== undefined) return column.flow;
  return set.unknown?.any;
}

/** `AS alias(a, b)`: renames the first columns. Unknown positions make every renamed name fail closed. */
export function renameColumns(set: ColumnSet, names: readonly string[]): ColumnSet {
  if (names.length === 0) return set;
  if (set.unknown === undefined) {
    return completeColumns(set.known.map((c, i) => (i < names.length ? { ...c, name: names[i] ?? c.name } : c)));
  }
  const any = wholeRowFlow(set);
  return {
    known: [],
    unknown: { what: set.unknown.what, byName: (n) => (names.includes(n) ? any : flowByName(set, n)), any },
  };
}

/** Rows that come from either set, matched by position (UNION, VALUES rows); names from the first. */
export function unionColumns(a: ColumnSet, b: ColumnSet): ColumnSet {
  if (a.unknown === undefined && b.unknown === undefined) {
    return completeColumns(
      a.known.map((left, i) => {
        const right = b.known[i];
        const typeOid = right !== undefined && right.typeOid === left.typeOid ? left.typeOid : undefined;
        // Set operations report no origin in RowDescription.
        return { name: left.name, flow: eitherOf(left.flow, right?.flow), typeOid, hasOrigin: false };
      }),
    );
  }
  const any = eitherOf(wholeRowFlow(a), wholeRowFlow(b));
  const what = a.unknown?.what ?? b.unknown?.what ?? '';
  return { known: [], unknown: { what, byName: () => any, any } };
}

/** Two unknown parts side by side (the sides of a join). */
export function combineUnknown(a: UnknownColumns | undefined, b: UnknownColumns | undefined): UnknownColumns | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return {
    what: a.what,
    byName: (name) => stricterFlow(a.byName(name), b.byName(name)),
    any: stricterFlow(a.any, b.any),
  };
}

/** True when two flows mask the same way (for the fixpoint of recursive CTEs). */
function sameFlow(a: Flow, b: Flow): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.derived === b.derived && a.source === b.source && a.mask.strategy === b.mask.strategy && a.mask.rule === b.mask.rule;
}

export function sameColumns(a: ColumnSet, b: ColumnSet): boolean {
  if (a.known.length !== b.known.length || (a.unknown === undefined) !== (b.unknown === undefined)) return false;
  if (a.unknown !== undefined && b.unknown !== undefined && !sameFlow(a.unknown.any, b.unknown.any)) return false;
  return a.known.every((c, i) => {
    const d = b.known[i];
    return d !== undefined && c.name === d.name && sameFlow(c.flow, d.flow);
  });
}
