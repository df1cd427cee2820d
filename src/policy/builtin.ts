/**
 * Names of the decisions the gate makes by itself rather than through a configured rule.
 * Reserved: a configured rule cannot take one, so a decision's `rule` is never ambiguous.
 */
export const BUILTIN_RULE = {
  /** The identity is not in the connection's access list. */
  access: 'access',
  /** The operation names a connection that does not exist. */
  unknownConnection: 'unknown-connection',
  /** No rule matched; the connection's `default` decided. */
  default: 'default',
  /** A query with no statements (empty, or only comments). */
  empty: 'empty-query',
  /** A `sql` operation arrived without inspector facts: fail closed. */
  notInspected: 'not-inspected',
  /** Guards: denied unless an allow rule names them explicitly. */
  unparseable: 'unparseable-sql',
  unknownStatement: 'unknown-statement',
  dynamicSql: 'dynamic-sql',
  parseRelevantSetting: 'parse-relevant-setting',
  /** An SSH command line the shell inspector could not parse: never allowed. */
  unparseableCommand: 'unparseable-command',
  /** An SSH command line the inspector could not know with confidence (eval, `$CMD`…): review or deny, never allow. */
  uncertainCommand: 'uncertain-command',
  /** SSH port, agent or X11 forwarding: refused unless an allow rule names the action. */
  forwarding: 'forwarding',
  /** An SSH command line with no program in it (only assignments or comments). */
  emptyCommand: 'empty-command',
  /**
   * Not a gate decision: the rule an access request (src/approvals) is recorded under, for
   * opening a connection with `access.require_approval`. Reserved like the others, so an
   * approval's `rule` never names a configured rule.
   */
  accessRequest: 'access-request',
} as const;

export type BuiltinRule = (typeof BUILTIN_RULE)[keyof typeof BUILTIN_RULE];

export const BUILTIN_RULE_NAMES: readonly string[] = Object.values(BUILTIN_RULE);
