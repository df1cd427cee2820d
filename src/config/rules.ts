/**
 * Builds the policy part of the config: rules (with the checks the schema cannot express),
 * the dangerous-functions extension, and each connection's rule list resolved from names to
 * rules. Semantics of rules are documented in src/policy/gate.ts.
 */
import { BUILTIN_RULE_NAMES } from '../policy/builtin.js';
import { formatPath, suggest, type ConfigPath, type IssueList } from './issues.js';
import { DEFAULTS, type RawDangerousFunction, type RawRule } from './schema.js';
import type { DangerousFunctionConfig, ReviewConfig, ReviewGrant, RuleConfig, SqlCondition } from './types.js';

/** Longest a statement may be held for approval: a PostgreSQL client waits on it. */
export const MAX_REVIEW_TIMEOUT_MS = 24 * 3_600_000;

/** Longest an approval stays usable (a `grant` window, or a `once` grant's `grant_ttl`): approvals are just in time, not standing access. */
export const MAX_GRANT_MS = 24 * 3_600_000;

export interface RuleBuildHelpers {
  readonly issues: IssueList;
  duration(value: string | number, path: ConfigPath, bounds: { positive?: boolean; max?: number }): number;
}

export function buildRules(raw: readonly RawRule[], h: RuleBuildHelpers): RuleConfig[] {
  const rules = raw.map((rule, i) => buildRule(rule, ['rules', i], h));
  const first = new Map<string, number>();
  rules.forEach((rule, i) => {
    const earlier = first.get(rule.name);
    if (earlier === undefined) first.set(rule.name, i);
    else h.issues.add(['rules', i, 'name'], `duplicate rule name "${rule.name}" (already used at ${formatPath(['rules', earlier, 'name'])})`);
  });
  return rules;
}

function buildRule(raw: RawRule, path: ConfigPath, h: RuleBuildHelpers): RuleConfig {
  const { issues } = h;
  if (BUILTIN_RULE_NAMES.includes(raw.name)) {
    issues.add(
      [...path, 'name'],
      `"${raw.name}" is reserved for a built-in decision (${BUILTIN_RULE_NAMES.join(', ')}); choose another name`,
    );
  }
  if (raw.effect !== 'allow' && raw.reason === undefined) {
    issues.add(
      [...path, 'reason'],
      `rule "${raw.name}" has effect "${raw.effect}" but no reason: the reason is what the agent is told when this rule ` +
        'refuses a statement; say why, and what it can do instead',
    );
  }
  let review: ReviewConfig | undefined;
  if (raw.effect === 'review') {
    if (raw.review === undefined) {
      issues.add([...path, 'review'], `rule "${raw.name}" has effect "review" but no review settings: add review: { approvers: [GROUP] }`);
    } else {
      const r = raw.review;
      review = {
        approvers: r.approvers,
        minApprovals: r.min_approvals ?? DEFAULTS.minApprovals,
        timeoutMs: h.duration(r.timeout ?? DEFAULTS.reviewTimeout, [...path, 'review', 'timeout'], {
          positive: true,
          max: MAX_REVIEW_TIMEOUT_MS,
        }),
        grant: reviewGrant(r, [...path, 'review'], h),
      };
    }
  } else if (raw.review !== undefined) {
    issues.add(
      [...path, 'review'],
      `review settings only apply to effect "review", but rule "${raw.name}" has effect "${raw.effect}": remove review or set effect: review`,
    );
  }
  const sql = raw.when.sql;
  if (sql?.unparseable === true) {
    const others = Object.keys(sql).filter((key) => key !== 'unparseable');
    if (others.length > 0) {
      issues.add(
        [...path, 'when', 'sql', 'unparseable'],
        `unparseable: true cannot be combined with ${others.join(', ')}: input the parser rejects has no facts to match; ` +
          'write a separate rule for it',
      );
    }
  }
  const shell = raw.when.shell;
  if (shell !== undefined) checkShellCondition(raw, shell, [...path, 'when', 'shell'], issues);
  const ssh = raw.when.ssh;
  const files = raw.when.files;
  const path_ = path;
  files?.paths?.forEach((glob, i) => {
    if (!glob.startsWith('/') && !glob.startsWith('*')) {
      issues.add([...path_, 'when', 'files', 'paths', i], `file path globs are absolute ("/var/log/*"): the gateway resolves every requested path before matching; got ${JSON.stringify(glob)}`);
    }
  });
  const protocols = (['sql', 'shell', 'ssh', 'files'] as const).filter((key) => raw.when[key] !== undefined);
  if (protocols.length > 1) {
    issues.add(
      [...path, 'when', protocols[1] ?? 'ssh'],
      `rule "${raw.name}" has ${protocols.join(' and ')} conditions, but an operation is either a SQL statement, an SSH command line, ` +
        'an SSH request or a file request, so the rule could never match: split it into one rule per kind',
    );
  }
  const identity = raw.when.identity;
  return {
    name: raw.name,
    when: {
      identity:
        identity === undefined
          ? undefined
          : { groups: identity.groups, subjects: identity.subjects, clients: identity.clients },
      sql: sql === undefined ? undefined : sqlCondition(sql),
      ...(shell === undefined
        ? {}
        : { shell: { programs: shell.programs, args: shell.args, writes: shell.writes, flags: shell.flags, unparseable: shell.unparseable === true } }),
      ...(ssh === undefined ? {} : { ssh: { actions: ssh.actions } }),
      ...(files === undefined ? {} : { files: { actions: files.actions, paths: files.paths } }),
    },
    effect: raw.effect,
    reason: raw.reason,
    review,
  };
}

/**
 * Command lines the inspector could not know with confidence are never allowed (issue 7: they
 * fall to review or deny), so an allow rule naming them would be a promise the gate breaks.
 */
function checkShellCondition(raw: RawRule, shell: NonNullable<RawRule['when']['shell']>, path: ConfigPath, issues: IssueList): void {
  if (raw.effect === 'allow' && shell.flags !== undefined) {
    issues.add(
      [...path, 'flags'],
      `rule "${raw.name}" allows flagged command lines, but a command line Portcullis cannot know with confidence (eval, a variable ` +
        'as the command name…) is never allowed: use effect review (a human decides) or deny',
    );
  }
  if (shell.unparseable === true) {
    if (raw.effect === 'allow') {
      issues.add([...path, 'unparseable'], `rule "${raw.name}" allows command lines the inspector cannot parse, which are never allowed: use effect review or deny`);
    }
    const others = Object.keys(shell).filter((key) => key !== 'unparseable');
    if (others.length > 0) {
      issues.add(
        [...path, 'unparseable'],
        `unparseable: true cannot be combined with ${others.join(', ')}: a command line the inspector cannot parse has no facts to match; write a separate rule for it`,
      );
    }
  }
}

/** `grant: once` (with `grant_ttl`) or `grant: <duration>`; `grant_ttl` only means something for `once`. */
function reviewGrant(r: NonNullable<RawRule['review']>, path: ConfigPath, h: RuleBuildHelpers): ReviewGrant {
  const grant = r.grant ?? DEFAULTS.reviewGrant;
  if (grant === 'once') {
    return { kind: 'once', ttlMs: h.duration(r.grant_ttl ?? DEFAULTS.grantTtl, [...path, 'grant_ttl'], { positive: true, max: MAX_GRANT_MS }) };
  }
  if (r.grant_ttl !== undefined) {
    h.issues.add(
      [...path, 'grant_ttl'],
      `grant_ttl only applies to grant: once (how long an approved statement can still run on a new connection); ` +
        `a grant of ${JSON.stringify(grant)} is usable for that long after approval: remove grant_ttl`,
    );
  }
  return { kind: 'window', durationMs: h.duration(grant, [...path, 'grant'], { positive: true, max: MAX_GRANT_MS }) };
}

function sqlCondition(sql: NonNullable<RawRule['when']['sql']>): SqlCondition {
  return {
    classes: sql.class,
    kinds: sql.kind,
    tables: sql.tables,
    functions: sql.functions,
    flags: sql.flags,
    unparseable: sql.unparseable === true,
  };
}

/** A connection's `rules: [names]` → the rules, in list order; an unknown name is an issue at its list entry. */
export function resolveRuleNames(
  names: readonly string[],
  path: ConfigPath,
  byName: ReadonlyMap<string, RuleConfig>,
  issues: IssueList,
): RuleConfig[] {
  const resolved: RuleConfig[] = [];
  names.forEach((name, j) => {
    const rule = byName.get(name);
    if (rule !== undefined) {
      resolved.push(rule);
      return;
    }
    const known = [...byName.keys()];
    const guess = suggest(name, known);
    const hint =
      guess !== undefined ? ` (did you mean "${guess}"?)` : known.length === 0 ? '; no rules are defined (add them under the top-level "rules")' : `; defined rules: ${known.join(', ')}`;
    issues.add([...path, j], `unknown rule "${name}"${hint}`);
  });
  return resolved;
}

export function buildDangerousFunctions(raw: readonly RawDangerousFunction[], issues: IssueList): DangerousFunctionConfig[] {
  const first = new Map<string, number>();
  raw.forEach((fn, i) => {
    // The inspector matches names case-insensitively, so "F" and "f" are the same function.
    const key = fn.name.toLowerCase();
    const earlier = first.get(key);
    if (earlier === undefined) first.set(key, i);
    else {
      const at = ['sql', 'extra_dangerous_functions', i, 'name'];
      issues.add(at, `duplicate function "${fn.name}" (already listed at ${formatPath(['sql', 'extra_dangerous_functions', earlier, 'name'])})`);
    }
  });
  return raw.map((fn) => ({ name: fn.name, class: fn.class, reason: fn.reason, dynamicSql: fn.dynamic_sql ?? false }));
}
