/**
 * What the lineage analysis finds wrong with a statement, and the refusals it turns into,
 * worded for the agent: what was refused, by which rule, and what it can do instead.
 */
import type { Flow } from './lineage-flow.js';
import type { MaskRefusal, OutputMask } from './plan.js';

/** The rule named when no column rule is the cause (unparseable or unanalysable text). */
export const LINEAGE_RULE = 'masking: column lineage analysis';

export type RefusalKind =
  /** The text cannot be analysed at all. */
  | 'unanalysable'
  /** Masked values would be copied somewhere the gateway cannot mask them. */
  | 'laundering'
  /** Code or statements the analysis cannot see into mention masked columns. */
  | 'opaque'
  /** SQL-level PREPARE / DECLARE CURSOR of a query with masked outputs. */
  | 'sql-level-query'
  /** A predicate uses a masked column (only refused with denyPredicates). */
  | 'predicate'
  /** An output is computed from a masked column (only refused with onDerived 'refuse'). */
  | 'derived'
  /** Masked data in outputs whose positions cannot be known. */
  | 'unknown-outputs'
  /** Binary COPY of masked columns. */
  | 'binary-copy';

/** When several apply, the refusal of the earliest kind here is the one reported. */
const PRIORITY: readonly RefusalKind[] = [
  'unanalysable',
  'laundering',
  'opaque',
  'sql-level-query',
  'predicate',
  'derived',
  'unknown-outputs',
  'binary-copy',
];

/** What one statement's analysis found: the first refusal of each kind. */
export class Findings {
  private readonly found = new Map<RefusalKind, MaskRefusal>();

  add(kind: RefusalKind, refusal: MaskRefusal): void {
    if (!this.found.has(kind)) this.found.set(kind, refusal);
  }

  /** A masked column used by a predicate clause (refused only when the policy denies predicates). */
  predicate(clause: string, flow: Flow): void {
    if (flow !== undefined && !this.found.has('predicate')) this.found.set('predicate', predicateRefusal(clause, flow));
  }

  refusal(denyPredicates: boolean): MaskRefusal | undefined {
    for (const kind of PRIORITY) {
      if (kind === 'predicate' && !denyPredicates) continue;
      const refusal = this.found.get(kind);
      if (refusal !== undefined) return refusal;
    }
    return undefined;
  }
}

function column(flow: OutputMask): string {
  return flow.source.slice(flow.source.lastIndexOf('.') + 1);
}

function predicateRefusal(clause: string, flow: OutputMask): MaskRefusal {
  return {
    reason:
      `The ${clause} clause uses the masked column ${flow.source}: predicates on masked columns are not allowed ` +
      `for this identity, because they reveal masked values by probing them. Filter, join, group and sort on ` +
      `unmasked columns instead.`,
    rule: flow.mask.rule,
  };
}

export function launderingRefusal(action: string, destination: string, flow: OutputMask): MaskRefusal {
  return {
    reason:
      `${action} would copy values of the masked column ${flow.source} ${destination}, where the gateway can no ` +
      `longer mask them. Select the column in a query instead to see it masked.`,
    rule: flow.mask.rule,
  };
}

export function derivedRefusal(position: number, name: string, flow: OutputMask): MaskRefusal {
  return {
    reason:
      `Output column ${position} ("${name}") is computed from the masked column ${flow.source}, and this masking ` +
      `policy refuses computed values of masked columns. Select the column itself (${column(flow)}) to get it ` +
      `masked, or leave it out.`,
    rule: flow.mask.rule,
  };
}

export function unknownOutputsRefusal(what: string, flow: OutputMask): MaskRefusal {
  return {
    reason:
      `The output columns of ${what} cannot be listed, and the result carries data of the masked column ` +
      `${flow.source}, so which output column holds it cannot be told. Name the output columns explicitly ` +
      `instead of using *.`,
    rule: flow.mask.rule,
  };
}

export function binaryCopyRefusal(position: number, name: string, flow: OutputMask): MaskRefusal {
  return {
    reason:
      `COPY in binary format cannot be masked, and copied column ${position} ("${name}") carries the masked ` +
      `column ${flow.source}. Use FORMAT text or csv, where masked values are replaced.`,
    rule: flow.mask.rule,
  };
}

export function sqlLevelQueryRefusal(statement: string, later: string, flow: OutputMask): MaskRefusal {
  return {
    reason:
      `${statement} names a query with an output carrying the masked column ${flow.source}; the rows a later ` +
      `${later} returns cannot be paired with their columns, so they could not be masked. Run the SELECT ` +
      `directly, or prepare it through the extended query protocol, where results are masked.`,
    rule: flow.mask.rule,
  };
}

export function opaqueRefusal(what: string, name: string, rule: string): MaskRefusal {
  return {
    reason:
      `${what} mentions "${name}", a masked column or a relation with masked columns, and what it does with ` +
      `them cannot be analysed: it could copy or reveal masked values. Run plain SQL statements instead, ` +
      `whose results are masked.`,
    rule,
  };
}

export function queryRunnerRefusal(name: string): MaskRefusal {
  return {
    reason:
      `${name}(…) runs SQL or reads relations chosen by its arguments, so what it returns cannot be traced to ` +
      `the masked columns of this policy; it is refused under the masking policy. Query the relations directly, ` +
      `where results are masked.`,
    rule: LINEAGE_RULE,
  };
}

export function unanalysableRefusal(why: string): MaskRefusal {
  return {
    reason: `${why}, so which masked columns it reveals cannot be told; it is refused under the masking policy.`,
    rule: LINEAGE_RULE,
  };
}
