/**
 * Decides `shell` operations (SSH command lines) from the shell inspector's facts, and `ssh`
 * operations (a shell, SFTP, forwarding). Pure; the semantics are documented in gate.ts.
 */
import type { SshAction } from '../config/types.js';
import type { Identity } from '../identity/identity.js';
import type { ShellCommand, ShellInspection } from '../inspect/shell/facts.js';
import { BUILTIN_RULE } from './builtin.js';
import { applicableRules, defaultDecision, quoteSql, ruleReason, SEVERITY, type CompiledConnection } from './evaluate.js';
import type { Decision, Effect } from './operation.js';
import type { CompiledRule } from './rules.js';
import { matchesCommand, matchesFlags } from './shell-rules.js';

type Verdict = { readonly effect: Effect; readonly rule: CompiledRule | undefined };

/** A rule with SQL or SSH-action conditions is not about command lines. */
function aboutCommands(rule: CompiledRule): boolean {
  return rule.sql === undefined && rule.ssh === undefined && rule.files === undefined;
}

function commandVerdict(rules: readonly CompiledRule[], command: ShellCommand, defaultEffect: 'allow' | 'deny'): Verdict {
  let review: CompiledRule | undefined;
  let allow: CompiledRule | undefined;
  for (const rule of rules) {
    if (!aboutCommands(rule)) continue;
    const permissive = rule.effect === 'allow';
    if (rule.shell !== undefined && !matchesCommand(rule.shell, command, permissive)) continue;
    if (rule.effect === 'deny') return { effect: 'deny', rule };
    if (rule.effect === 'review') review ??= rule;
    else allow ??= rule;
  }
  if (review !== undefined) return { effect: 'review', rule: review };
  if (allow !== undefined) return { effect: 'allow', rule: allow };
  return { effect: defaultEffect, rule: undefined };
}

export function decideShell(connection: CompiledConnection, identity: Identity, text: string, facts: ShellInspection): Decision {
  const rules = applicableRules(connection, identity);
  const quoted = (): string => `command ${quoteSql(text)}`;
  if (!facts.ok) {
    const matching = rules.filter((r) => r.shell?.unparseable === true);
    const rule = matching.find((r) => r.effect === 'deny') ?? matching.find((r) => r.effect === 'review');
    const problem = `the shell inspector could not parse it (${facts.error}${facts.position === undefined ? '' : ` at character ${facts.position + 1}`})`;
    if (rule !== undefined) return { effect: rule.effect, rule: rule.name, reason: ruleReason(rule.effect, rule, quoted) };
    return {
      effect: 'deny',
      rule: BUILTIN_RULE.unparseableCommand,
      reason: `Refused ${quoted()} by built-in rule "${BUILTIN_RULE.unparseableCommand}": ${problem}, so Portcullis cannot tell what it would run. Fix the syntax and send it again.`,
    };
  }
  let worst: Verdict | undefined;
  let worstCommand: ShellCommand | undefined;
  for (const command of facts.commands) {
    const verdict = commandVerdict(rules, command, connection.defaultEffect);
    // On a tie a rule's verdict beats the default's: it says more precisely why.
    const worse = worst === undefined || SEVERITY[verdict.effect] > SEVERITY[worst.effect];
    if (worse || (SEVERITY[verdict.effect] === SEVERITY[worst!.effect] && worst!.rule === undefined && verdict.rule !== undefined)) {
      worst = verdict;
      worstCommand = command;
    }
    if (worst!.effect === 'deny' && worst!.rule !== undefined) break;
  }
  const found = facts.notes.length === 0 ? '' : ` (Found: ${facts.notes.slice(0, 3).join('; ')}${facts.notes.length > 3 ? '; …' : ''}.)`;
  // A deny rule for one of its programs is the most precise answer; otherwise a flagged line is about the flags.
  if (facts.flags.length > 0 && !(worst?.effect === 'deny' && worst.rule !== undefined)) {
    // Not known with confidence: a human may still look at it (review), but it is never simply allowed.
    const flagRules = rules.filter((r) => r.shell !== undefined && matchesFlags(r.shell, facts.flags));
    const flagDeny = flagRules.find((r) => r.effect === 'deny');
    if (flagDeny !== undefined) return { effect: 'deny', rule: flagDeny.name, reason: `${ruleReason('deny', flagDeny, quoted)}${found}` };
    const review = worst?.effect === 'deny' ? undefined : (flagRules.find((r) => r.effect === 'review') ?? (worst?.effect === 'review' ? worst.rule : undefined));
    if (review !== undefined) {
      return { effect: 'review', rule: review.name, reason: `${ruleReason('review', review, quoted)}${found}`, ...(worstCommand ? { command: worstCommand } : {}) };
    }
    return {
      effect: 'deny',
      rule: BUILTIN_RULE.uncertainCommand,
      reason:
        `Refused ${quoted()} by built-in rule "${BUILTIN_RULE.uncertainCommand}": Portcullis cannot tell with confidence what it would run` +
        `${found} Write the command out literally (no eval, no variables or substitutions as command names, no scripts piped into a shell).`,
    };
  }
  if (worst === undefined || worstCommand === undefined) {
    return { effect: 'allow', rule: BUILTIN_RULE.emptyCommand, reason: 'Allowed: the command line runs no program.' };
  }
  const what = (): string => `${quoted()}${facts.commands.length > 1 ? ` (its ${describeCommand(worstCommand)})` : ''}`;
  if (worst.rule !== undefined) {
    return { effect: worst.effect, rule: worst.rule.name, reason: ruleReason(worst.effect, worst.rule, what), command: worstCommand };
  }
  if (worst.effect === 'allow') {
    return { effect: 'allow', rule: BUILTIN_RULE.default, reason: `Allowed: no rule matched and connection "${connection.name}" allows by default.`, command: worstCommand };
  }
  return {
    effect: 'deny',
    rule: BUILTIN_RULE.default,
    reason:
      `Refused ${what()}: no rule of connection "${connection.name}" allows running ${describeCommand(worstCommand)}, and the connection ` +
      'refuses by default. Run only commands its policy allows, or ask a Portcullis administrator for a rule that allows this one.',
    command: worstCommand,
  };
}

/** `program "rm" with arguments -rf /tmp/x`, cut short. */
function describeCommand(command: ShellCommand): string {
  const args = command.args.join(' ');
  const shown = args.length > 80 ? `${args.slice(0, 79)}…` : args;
  const via = command.wrappers.length === 0 ? '' : ` (run through ${command.wrappers.join(', ')})`;
  return `program "${command.path}"${shown === '' ? '' : ` with arguments ${JSON.stringify(shown)}`}${via}`;
}

const FORWARDING: ReadonlySet<SshAction> = new Set(['port_forward', 'agent_forward', 'x11']);

const ACTION_WORDS: Record<SshAction, string> = {
  shell: 'an interactive shell',
  sftp: 'the SFTP subsystem (SFTP and scp)',
  port_forward: 'port forwarding',
  agent_forward: 'SSH agent forwarding',
  x11: 'X11 forwarding',
};

/**
 * An SSH session action. Rules listing the action match it; rules with no protocol condition
 * match it too, except that forwarding is only ever allowed by a rule that names it.
 */
export function decideSshAction(connection: CompiledConnection, identity: Identity, action: SshAction, text: string): Decision {
  const rules = applicableRules(connection, identity);
  const forwarding = FORWARDING.has(action);
  let review: CompiledRule | undefined;
  let allow: CompiledRule | undefined;
  for (const rule of rules) {
    const named = rule.ssh?.actions.has(action) === true;
    const generic = rule.sql === undefined && rule.shell === undefined && rule.ssh === undefined && rule.files === undefined;
    if (!named && !generic) continue;
    if (rule.effect === 'deny') return { effect: 'deny', rule: rule.name, reason: ruleReason('deny', rule, () => whatAction(action, text)) };
    if (rule.effect === 'review') review ??= rule;
    else if (named || !forwarding) allow ??= rule;
  }
  if (review !== undefined) return { effect: 'review', rule: review.name, reason: ruleReason('review', review, () => whatAction(action, text)) };
  if (allow !== undefined) return { effect: 'allow', rule: allow.name, reason: ruleReason('allow', allow, () => whatAction(action, text)) };
  if (forwarding) {
    return {
      effect: 'deny',
      rule: BUILTIN_RULE.forwarding,
      reason:
        `Refused ${whatAction(action, text)} by built-in rule "${BUILTIN_RULE.forwarding}": forwarding through Portcullis is refused unless ` +
        `a rule of connection "${connection.name}" allows "${action}" by name. Ask a Portcullis administrator if you need it.`,
    };
  }
  return defaultDecision(
    connection,
    () =>
      `Refused ${whatAction(action, text)}: no rule of connection "${connection.name}" allows ${ACTION_WORDS[action]}, and the connection ` +
      'refuses by default. Run single commands instead (ssh HOST \'command\'), or ask a Portcullis administrator for a rule that allows it.',
  );
}

function whatAction(action: SshAction, text: string): string {
  return `${ACTION_WORDS[action]}${text === '' ? '' : ` (${quoteSql(text)})`}`;
}
