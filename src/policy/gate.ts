/**
 * The policy gate: `(identity, operation) → decision`, pure — no I/O, no clock, no state
 * that could change an answer (rules and globs are compiled once here; the rules that apply
 * to an identity are remembered per identity object) — so the live gateway and
 * `portcullis policy check` run exactly the same code.
 *
 * Semantics
 * ---------
 * Session operations (opening a connection) are decided by the connection's `access` list
 * alone. A `sql` operation is first held to the same access list, then decided from its
 * inspector facts (`operation.facts`, filled by the caller, which also caches inspections;
 * without facts it is denied — fail closed):
 *
 * - Rules: a connection uses the rules named in its `rules` list. A rule matches a
 *   statement when every condition it gives holds (AND); a list holds when any entry does
 *   (OR). `identity` conditions: a group in common, the subject listed, the client id listed.
 *   `sql` conditions: class, kind, flags (any flag listed), tables, functions.
 * - Tables and functions are globs on `schema.name` (`*`, `?`, case-sensitive, on names as
 *   the parser resolved them). In an ALLOW rule EVERY table the statement touches must match
 *   some glob and there must be at least one table, so `allow tables: [public.*]` never admits
 *   a table-less `SELECT pg_read_file(…)` nor a join with `secret.t`; likewise every function
 *   called must match and there must be at least one. In a DENY or REVIEW rule ANY matching
 *   table (function) is enough. An unqualified table is resolved as PostgreSQL does (the
 *   gateway refuses search_path changes) for allow rules — `pg_catalog.<name>` when it starts
 *   with `pg_` (pg_catalog is searched first and holds only `pg_*` relations), else
 *   `public.<name>` — and matches in any schema for deny/review rules. An unqualified
 *   function is `pg_catalog.<name>` for allow rules and any schema for deny/review rules.
 * - Per statement, of all matching rules the most restrictive wins: deny > review > allow;
 *   on a tie the first in the connection's list is reported. No match → the connection's
 *   `default` (deny unless set), reported as rule `default`.
 * - Guards (fail closed), each with its own rule name and reason: a statement of class
 *   `unknown` (`unknown-statement`), with flag `dynamic_sql` (`dynamic-sql`) or
 *   `parse_relevant_setting` (`parse-relevant-setting`), and input the parser rejected
 *   (`unparseable-sql`) are denied — whatever the default — unless a matching ALLOW rule
 *   names the guard explicitly (`class: [unknown]`, `flags: [dynamic_sql]`,
 *   `flags: [parse_relevant_setting]`, `unparseable: true`). A generic `class: [read]` never
 *   lifts a guard, and a matching deny rule still wins over the explicit allow. When a guard
 *   and a deny rule both refuse a statement the guard is reported (its reason is the precise
 *   one). Unparseable input has no facts: only rules with `unparseable: true` match it.
 * - Review: the effect is `review` and the reason says which rule needs human approval and
 *   why; the front door holds the operation until an approver decides (src/approvals).
 * - An operation's decision is the most restrictive of its statements' (a multi-statement
 *   query is denied if any statement is), reporting the first such statement in
 *   `statementIndex` and `facts`. A query with no statement is allowed.
 *
 * SSH (decide-shell.ts). A `shell` operation is a command line; the shell inspector reports
 * every program it runs (through wrappers, `sh -c`, substitutions…), and each program is
 * decided like a statement: rules with `shell` conditions (or none of sql/shell/ssh) match
 * it; the most restrictive verdict of all programs decides the line. In an allow rule a bare
 * program name admits only a program run by name or from a system directory, EVERY argument
 * must match `args` (arguments with expansions, braces or `..`-reaching globs never do; `..`
 * is resolved first) and every file written must match `writes` (without `writes`, an allow
 * rule admits no redirection to a file other than /dev/null); in a deny or review rule ANY
 * matching part is enough. A line the inspector flags (eval, `$CMD` as a command name,
 * `curl … | sh`…) is never allowed: a deny rule naming the flag denies it, else a review rule
 * naming it (or a review verdict for one of its programs) sends it to review, else the
 * built-in `uncertain-command` denies it. An unparseable line is denied by
 * `unparseable-command` unless a review rule with `unparseable: true` matches. An `ssh`
 * operation (shell, sftp, port_forward, agent_forward, x11) is matched by rules listing the
 * action and by rules without protocol conditions; forwarding is only allowed by a rule
 * naming it (built-in `forwarding`), whatever the default. A `file` operation (one SFTP
 * request; paths absolute and normalized by the front door) is matched by rules with `files`
 * conditions (action, path globs: in an allow rule every path named — both ends of a rename —
 * must match; in deny/review any) and by rules without protocol conditions.
 *
 * Reasons are written for the agent (often an LLM): the statement (quoted, cut to ~200
 * characters), the rule, and what it can do next.
 */
import type { ConnectionConfig, RuleConfig } from '../config/types.js';
import type { Identity } from '../identity/identity.js';
import { isGrantedAccess } from './access.js';
import { BUILTIN_RULE } from './builtin.js';
import { decideShell, decideSshAction } from './decide-shell.js';
import { decideFile } from './file-rules.js';
import { decideSql, type CompiledConnection } from './evaluate.js';
import type { Decision, Gate, Operation } from './operation.js';
import { compileRule, type CompiledRule } from './rules.js';

const DEFAULT_SEARCH_PATH: readonly string[] = ['public'];

function notInspected(what: string): Decision {
  return {
    effect: 'deny',
    rule: BUILTIN_RULE.notInspected,
    reason:
      `Refused: the ${what} reached the policy gate without being inspected, so it cannot be decided. ` +
      'This is a Portcullis bug; report it to a Portcullis administrator.',
  };
}

/** Builds the gate for a set of connections, compiling every rule (globs included) once. */
export function createGate(connections: readonly ConnectionConfig[]): Gate {
  const compiledRules = new Map<RuleConfig, CompiledRule>();
  const compile = (rule: RuleConfig): CompiledRule => {
    let compiled = compiledRules.get(rule);
    if (compiled === undefined) {
      compiled = compileRule(rule);
      compiledRules.set(rule, compiled);
    }
    return compiled;
  };
  const byName = new Map<string, { config: ConnectionConfig; compiled: CompiledConnection }>(
    connections.map((c) => [
      c.name,
      { config: c, compiled: { name: c.name, rules: c.rules.map(compile), defaultEffect: c.defaultEffect } },
    ]),
  );

  return (identity: Identity, operation: Operation): Decision => {
    const connection = byName.get(operation.connection.name);
    if (!connection) {
      return {
        effect: 'deny',
        rule: BUILTIN_RULE.unknownConnection,
        reason: `connection "${operation.connection.name}" does not exist`,
      };
    }
    if (!isGrantedAccess(identity, connection.config.access)) {
      return {
        effect: 'deny',
        rule: BUILTIN_RULE.access,
        reason:
          `identity "${identity.subject}" is not in the access list of connection "${connection.config.name}" ` +
          '(by group, subject or client id); ask a Portcullis administrator to grant access',
      };
    }
    if (operation.kind === 'session') {
      return { effect: 'allow', rule: BUILTIN_RULE.access, reason: 'identity is in the connection access list' };
    }
    if (operation.kind === 'ssh') {
      if (operation.action === undefined) return notInspected('SSH request');
      return decideSshAction(connection.compiled, identity, operation.action, operation.text);
    }
    if (operation.kind === 'file') {
      if (operation.file === undefined) return notInspected('file request');
      return decideFile(connection.compiled, identity, operation.file);
    }
    if (operation.kind === 'shell') {
      if (operation.shell === undefined) return notInspected('command');
      return decideShell(connection.compiled, identity, operation.text, operation.shell);
    }
    if (operation.facts === undefined) return notInspected('statement');
    return decideSql(connection.compiled, identity, operation.text, operation.facts, operation.searchPath ?? DEFAULT_SEARCH_PATH);
  };
}
