/**
 * What the SQL inspector extracts from one statement: the facts policy rules match on.
 * Names are as PostgreSQL resolved them (quoting and U& escapes applied, unquoted
 * identifiers folded to lower case), never raw text.
 */

/** Coarse class a rule can match. `unknown` is never allowed by a class rule. */
export type SqlClass = 'read' | 'write' | 'ddl' | 'admin' | 'transaction' | 'session' | 'unknown';

export interface TableAccess {
  /** Schema as written; undefined when unqualified (resolved by search_path at run time). */
  readonly schema: string | undefined;
  readonly name: string;
  readonly access: 'read' | 'write';
}

export interface FunctionCall {
  /** Schema as written; undefined when unqualified (pg_catalog is searched first). */
  readonly schema: string | undefined;
  readonly name: string;
}

/** Flags a rule can match, e.g. `update_without_where`. */
export type SqlFlag =
  | 'update_without_where'
  | 'delete_without_where'
  /** A statement string is executed dynamically (PL/pgSQL EXECUTE, dblink, query_to_xml…). */
  | 'dynamic_sql'
  /** Calls a function on the known-dangerous list (side effects or privileged reach). */
  | 'dangerous_function'
  /** Changes a setting that affects how later statements are parsed or who runs them. */
  | 'parse_relevant_setting'
  /** COPY to/from a server file or program. */
  | 'copy_server_side'
  /** EXPLAIN ANALYZE: the explained statement really runs. */
  | 'explain_analyze';

export interface StatementFacts {
  /** Parser node kind in snake case without the `Stmt` suffix, e.g. `select`, `insert`, `create_table_as`, `do`. */
  readonly kind: string;
  readonly class: SqlClass;
  /**
   * Every table touched, in order of first appearance. A table both read and written
   * appears twice (once per access) so a rule on either access matches. CTE names are
   * not tables; in DDL, every relation the statement names counts as written.
   */
  readonly tables: readonly TableAccess[];
  readonly functions: readonly FunctionCall[];
  readonly flags: readonly SqlFlag[];
  /** Byte-free text of just this statement (for messages and approvals). */
  readonly text: string;
  /**
   * Set when the statement runs a prepared statement (`EXECUTE p`, also inside
   * `EXPLAIN` or `CREATE TABLE … AS EXECUTE p`). The inspector cannot see what `p` is, so
   * `class` is `unknown` until the session substitutes the facts remembered from
   * `PREPARE p` (see `withPreparedFacts`).
   */
  readonly preparedName?: string;
  /** `PREPARE name AS …`: the statement's facts are what `name` will run. */
  readonly preparesName?: string;
  /** `DEALLOCATE name`; `*` for DEALLOCATE ALL. */
  readonly deallocatesName?: string;
  /** With `preparedName`: the class of everything else in the statement (e.g. its parameters). */
  readonly classWithoutPrepared?: SqlClass;
  /**
   * Why the class and flags are what they are, in words for a refusal message (e.g.
   * "calls pg_read_file: reads or lists files on the database server").
   */
  readonly notes?: readonly string[];
}

export type SqlInspection =
  | { readonly ok: true; readonly statements: readonly StatementFacts[] }
  /** The parser rejected the input: fail closed. */
  | { readonly ok: false; readonly error: string; readonly position: number | undefined };
