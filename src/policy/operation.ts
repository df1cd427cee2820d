import type { Identity } from '../identity/identity.js';

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
}

export type Effect = 'allow' | 'deny' | 'review';

export interface Decision {
  readonly effect: Effect;
  /** Name of the rule that decided, or a built-in reason such as `default`. */
  readonly rule: string;
  /** Human/agent-readable explanation: what was refused and what to do next. */
  readonly reason: string;
}

/** The gate is pure: the same code answers the live gateway and offline checks. */
export type Gate = (identity: Identity, operation: Operation) => Decision;
