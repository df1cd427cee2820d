/**
 * The shapes masking decisions take between the policy (which columns are masked, how),
 * the lineage analysis (which output columns carry masked data) and the wire maskers.
 */

/**
 * - `redact`: `[LABEL]` in place of the value (NULL for a non-text column).
 * - `partial`: the value's shape with its last 4 letters/digits (values, not expressions).
 * - `hash`: a deterministic keyed token, so equal values stay equal (joins, grouping).
 * - `null`: SQL NULL.
 */
export type MaskStrategy = 'redact' | 'partial' | 'hash' | 'null';
export const MASK_STRATEGIES: readonly MaskStrategy[] = ['redact', 'partial', 'hash', 'null'];

/** How one masked source column is masked, and which configured rule says so. */
export interface ColumnMask {
  readonly strategy: MaskStrategy;
  /** Upper-case word for `redact`: `[EMAIL]`, `[MASKED]`. */
  readonly label: string;
  /** For messages and recordings: `profile "pii", column rule "public.customers.email"`. */
  readonly rule: string;
}

/** The mask (if any) the connection's profiles put on a source column. */
export type ColumnMaskLookup = (schema: string, table: string, column: string) => ColumnMask | undefined;

/** Why an output column is masked. */
export interface OutputMask {
  readonly mask: ColumnMask;
  /**
   * False when the output is the masked column's value itself (possibly renamed); true when
   * it is computed from it (`lower(email)`, `row_to_json(c)`), where `partial` would leak
   * and is applied as `redact`.
   */
  readonly derived: boolean;
  /** The masked source column, `schema.table.column` (the first, when several flow in). */
  readonly source: string;
}

/** A statement the masking policy refuses, and why, in words for the agent. */
export interface MaskRefusal {
  readonly reason: string;
  readonly rule: string;
}

/** What masking must do for one statement's results. */
export interface StatementMaskPlan {
  /**
   * True when the statement sends rows (SELECT, VALUES, … RETURNING, SHOW, EXPLAIN,
   * FETCH, EXECUTE, COPY … TO STDOUT): pairs a simple query's RowDescriptions with statements.
   */
  readonly returnsRows: boolean;
  /**
   * Per output column, by position: the mask from lineage, or undefined (the column's
   * RowDescription origin and the content detectors still apply). Undefined as a whole
   * when the outputs cannot be known from the text (e.g. FETCH, EXECUTE).
   */
  readonly outputs: ReadonlyArray<OutputMask | undefined> | undefined;
  /** COPY … TO STDOUT: the format the rows will come in. */
  readonly copy?: CopyFormat;
  /** Set when the statement must not run under this masking policy. */
  readonly refusal?: MaskRefusal;
}

/** The options of a `COPY … TO STDOUT`, as PostgreSQL defaults them. */
export interface CopyFormat {
  readonly format: 'text' | 'csv' | 'binary';
  readonly delimiter: string;
  readonly nullString: string;
  readonly quote: string;
  readonly escape: string;
  /** CSV HEADER: the first row holds column names. */
  readonly header: boolean;
  /** Per copied column, its type when it is a plain table column; undefined for expressions. */
  readonly typeOids: ReadonlyArray<number | undefined>;
}
