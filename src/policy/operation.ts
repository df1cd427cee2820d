import type { Identity } from '../identity/identity.js';
import type { FileAction, SshAction } from '../config/types.js';
import type { ShellCommand, ShellInspection } from '../inspect/shell/facts.js';
import type { SqlInspection, StatementFacts } from '../inspect/sql/facts.js';

/**
 * Protocol-neutral description of one attempted action (see DESIGN.md): `shell` is a
 * command line (an SSH exec, or a line typed in an SSH shell); `ssh` is something an SSH
 * session asks for besides a command (a shell, SFTP, forwarding); `file` is one SFTP request.
 */
export type OperationKind = 'session' | 'sql' | 'shell' | 'ssh' | 'file';

/** An SFTP request, as the gate sees it: paths absolute and normalized by the front door. */
export interface FileRequest {
  readonly action: FileAction;
  readonly path: string;
  /** The new path, for `rename` and `symlink`. */
  readonly target?: string;
}

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
  /** What the shell inspector found in `text` (`shell` operations; without it the line is denied). */
  readonly shell?: ShellInspection;
  /** What an `ssh` operation asks for; `text` then describes it (e.g. `127.0.0.1:5432` for a forward). */
  readonly action?: SshAction;
  /** What a `file` operation does (`text` then describes it, e.g. `write /tmp/x`). */
  readonly file?: FileRequest;
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
  /** For `shell` operations: the command that decided (the most restrictive one), when one did. */
  readonly command?: ShellCommand;
}

/** The gate is pure: the same code answers the live gateway and offline checks. */
export type Gate = (identity: Identity, operation: Operation) => Decision;
