import type { Identity } from '../identity/identity.js';
import type { SqlInspection, StatementFacts } from '../inspect/sql/facts.js';

/** Protocol-neutral description of one attempted action (see DESIGN.md). */
export type OperationKind = 'session' | 'sql';

export interface ConnectionRef {
  /** Connection name from config. */
  readonly name: string;
  /** Connection type (`postgres`, …). */
  readonly type: string;
}

export interface Operation {
  readonly kind: OperationKind;
  readonly connection: ConnectionRef;
  /** The raw text of the operation (SQL text for `sql`). Empty for `session`. */
  readonly text: string;
  /** Protocol-specific origin, e.g. `simple-query`, `parse`. */
  readonly via: string;
  /**
   * What the inspector found in `text` (`sql` operations). The caller inspects (and caches
   * inspections); the gate only reads them. A `sql` operation without facts is denied.
   */
  readonly facts?: SqlInspection;
  /**
   * The schemas an unqualified table name can resolve to on this connection, in search
   * order, as the target reported them (`current_schemas(false)`: existing schemas only,
   * pg_catalog and pg_temp left out). Default `['public']`.
   */
  readonly searchPath?: readonly string[];
}

export type Effect = 'allow' | 'deny' | 'review';

export interface Decision {
  readonly effect: Effect;
  /** Name of the rule that decided, or a built-in one such as `default` (see policy/builtin.ts). */
  readonly rule: string;
  /** For the agent (often an LLM): what was refused, by which rule, and what it can do next. */
  readonly reason: string;
  /** For `sql` operations: which statement (0-based) decided — the most restrictive one. */
  readonly statementIndex?: number;
  /** The facts of that statement. */
  readonly facts?: StatementFacts;
}

/** The gate is pure: the same code answers the live gateway and offline checks. */
export type Gate = (identity: Identity, operation: Operation) => Decision;
