/**
 * Decides one `sql` operation from its inspector facts: a verdict per statement, the most
 * restrictive one for the operation, and a reason written for the agent. Pure; see gate.ts
 * for the semantics.
 */
import type { Identity } from '../identity/identity.js';
import type { SqlInspection, StatementFacts } from '../inspect/sql/facts.js';
import { BUILTIN_RULE } from './builtin.js';
import type { Decision, Effect } from './operation.js';
import { guardsOf, matchesIdentity, matchesStatement, matchesUnparseable, type CompiledRule, type Guard } from './rules.js';

export interface CompiledConnection {
  readonly name: string;
  /** In the connection's list order: on a tie, the first matching rule is the one reported. */
  readonly rules: readonly CompiledRule[];
  readonly defaultEffect: 'allow' | 'deny';
}

type Verdict =
  | { readonly effect: Effect; readonly by: 'rule'; readonly rule: CompiledRule }
  | { readonly effect: 'deny'; readonly by: 'guard'; readonly guard: Guard }
  | { readonly effect: 'allow' | 'deny'; readonly by: 'default' };

export const SEVERITY: Record<Effect, number> = { allow: 0, review: 1, deny: 2 };

/** Statement text quoted in reasons is cut to about this many characters. */
export const MAX_QUOTED_CHARS = 200;

const UNPARSEABLE_GUARDS: readonly Guard[] = [BUILTIN_RULE.unparseable];

/** The connection's rules that apply to this identity, remembered per identity object (sessions reuse theirs). */
const applicableCache = new WeakMap<CompiledConnection, WeakMap<Identity, readonly CompiledRule[]>>();

export function applicableRules(connection: CompiledConnection, identity: Identity): readonly CompiledRule[] {
  let byIdentity = applicableCache.get(connection);
  if (byIdentity === undefined) {
    byIdentity = new WeakMap();
    applicableCache.set(connection, byIdentity);
  }
  let rules = byIdentity.get(identity);
  if (rules === undefined) {
    rules = connection.rules.filter((rule) => matchesIdentity(rule, identity));
    byIdentity.set(identity, rules);
  }
  return rules;
}

export function decideSql(
  connection: CompiledConnection,
  identity: Identity,
  text: string,
  facts: SqlInspection,
  searchPath: readonly string[],
): Decision {
  const rules = applicableRules(connection, identity);
  if (!facts.ok) {
    const verdict = verdictOf(rules, undefined, UNPARSEABLE_GUARDS, 'deny', searchPath);
    return { effect: verdict.effect, rule: ruleName(verdict), reason: unparseableReason(verdict, text, facts) };
  }
  const { statements } = facts;
  if (statements.length === 0) {
    return { effect: 'allow', rule: BUILTIN_RULE.empty, reason: 'Allowed: the query contains no statement.' };
  }
  let worst: Verdict | undefined;
  let worstIndex = 0;
  for (let index = 0; index < statements.length; index++) {
    const statement = statements[index] as StatementFacts;
    const verdict = verdictOf(rules, statement, guardsOf(statement), connection.defaultEffect, searchPath);
    if (worst === undefined || SEVERITY[verdict.effect] > SEVERITY[worst.effect]) {
      worst = verdict;
      worstIndex = index;
    }
    if (worst.effect === 'deny') break; // nothing is more restrictive, and ties go to the first
  }
  const statement = statements[worstIndex] as StatementFacts;
  const verdict = worst as Verdict;
  return {
    effect: verdict.effect,
    rule: ruleName(verdict),
    reason: statementReason(verdict, connection, statement, worstIndex, statements.length),
    statementIndex: worstIndex,
    facts: statement,
  };
}

/**
 * Deny: a guard not lifted by a matching allow rule that names it, or a matching deny rule
 * (nothing lifts those). When both apply the guard is reported: its reason is the precise
 * one ("dynamic SQL" rather than a generic "no admin statements"). Then review, then allow,
 * then the connection's default.
 */
function verdictOf(
  rules: readonly CompiledRule[],
  /** Undefined for input the parser rejected. */
  statement: StatementFacts | undefined,
  guards: readonly Guard[],
  defaultEffect: 'allow' | 'deny',
  searchPath: readonly string[],
): Verdict {
  let deny: CompiledRule | undefined;
  let review: CompiledRule | undefined;
  let allow: CompiledRule | undefined;
  let lifted: Set<Guard> | undefined;
  for (const rule of rules) {
    if (!(statement === undefined ? matchesUnparseable(rule) : matchesStatement(rule, statement, searchPath))) continue;
    if (rule.effect === 'deny') deny ??= rule;
    else if (rule.effect === 'review') review ??= rule;
    else {
      allow ??= rule;
      for (const guard of rule.lifts) (lifted ??= new Set()).add(guard);
    }
  }
  for (const guard of guards) {
    if (lifted?.has(guard) !== true) return { effect: 'deny', by: 'guard', guard };
  }
  if (deny !== undefined) return { effect: 'deny', by: 'rule', rule: deny };
  if (review !== undefined) return { effect: 'review', by: 'rule', rule: review };
  if (allow !== undefined) return { effect: 'allow', by: 'rule', rule: allow };
  return { effect: defaultEffect, by: 'default' };
}

function ruleName(verdict: Verdict): string {
  if (verdict.by === 'rule') return verdict.rule.name;
  if (verdict.by === 'guard') return verdict.guard;
  return BUILTIN_RULE.default;
}

// ------------------------------------------------------------------ reasons

/** One line, at most MAX_QUOTED_CHARS characters, in double quotes. */
export function quoteSql(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  if (flat.length <= MAX_QUOTED_CHARS) return JSON.stringify(flat);
  let cut = flat.slice(0, MAX_QUOTED_CHARS - 1);
  // Never end on half a surrogate pair.
  if (/[\uD800-\uDBFF]$/.test(cut)) cut = cut.slice(0, -1);
  return JSON.stringify(`${cut}…`);
}

function capitalized(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function withStop(text: string): string {
  return /[.!?…]$/.test(text.trimEnd()) ? text.trimEnd() : `${text.trimEnd()}.`;
}

/**
 * `what` names the statement: its quoted text, and its position in a multi-statement query.
 * Allowed statements are the hot path and nobody needs their text repeated, so an allow
 * reason does not quote it.
 */
/** No rule matched: the connection's default decides; `refusal` says what was refused and what to do instead. */
export function defaultDecision(connection: CompiledConnection, refusal: () => string): Decision {
  if (connection.defaultEffect === 'allow') {
    return { effect: 'allow', rule: BUILTIN_RULE.default, reason: `Allowed: no rule matched and connection "${connection.name}" allows by default.` };
  }
  return { effect: 'deny', rule: BUILTIN_RULE.default, reason: refusal() };
}

export function ruleReason(effect: Effect, rule: CompiledRule, what: () => string): string {
  if (effect === 'allow') return `Allowed by rule "${rule.name}".`;
  const why = withStop(rule.reason ?? 'no reason was configured');
  if (effect === 'deny') return `Refused ${what()} by rule "${rule.name}": ${why}`;
  return `${capitalized(what())} needs human approval under rule "${rule.name}": ${why}`;
}

function statementReason(verdict: Verdict, connection: CompiledConnection, statement: StatementFacts, index: number, count: number): string {
  const reason = statementReasonText(verdict, connection, statement, index, count);
  return verdict.effect === 'allow' ? reason : `${reason}${inspectorNotes(statement)}`;
}

/** The inspector's own account of what makes the statement what it is ("calls pg_read_file: …"). */
function inspectorNotes(statement: StatementFacts): string {
  const notes = statement.notes ?? [];
  if (notes.length === 0) return '';
  const shown = notes.slice(0, MAX_NOTES).join('; ');
  return ` (Found: ${shown}${notes.length > MAX_NOTES ? '; …' : ''}.)`;
}

const MAX_NOTES = 3;

function statementReasonText(verdict: Verdict, connection: CompiledConnection, statement: StatementFacts, index: number, count: number): string {
  const what = (): string =>
    count > 1 ? `statement ${index + 1} of ${count}, ${quoteSql(statement.text)},` : quoteSql(statement.text);
  switch (verdict.by) {
    case 'rule':
      return ruleReason(verdict.effect, verdict.rule, what);
    case 'guard':
      return `Refused ${what()} by built-in rule "${verdict.guard}": ${guardReason(verdict.guard, statement)}`;
    case 'default':
      if (verdict.effect === 'allow') return `Allowed: no rule matched and connection "${connection.name}" allows by default.`;
      return (
        `Refused ${what()}: no rule of connection "${connection.name}" allows ${describeStatement(statement)}, and the ` +
        'connection refuses by default. Run only statements its policy allows, or ask a Portcullis administrator ' +
        'for a rule that allows this one.'
      );
  }
}

function guardReason(guard: Guard, statement: StatementFacts): string {
  switch (guard) {
    case BUILTIN_RULE.unknownStatement:
      return (
        `Portcullis cannot tell what this statement (kind "${statement.kind}") would do, so it refuses it rather ` +
        'than guess. Use a statement of a known kind, or ask a Portcullis administrator to allow this kind explicitly.'
      );
    case BUILTIN_RULE.dynamicSql:
      return (
        'it executes SQL text built at run time (PL/pgSQL EXECUTE, dblink, query_to_xml and the like), which cannot ' +
        'be inspected before it runs. Send the SQL you want to run as a statement of its own instead.'
      );
    case BUILTIN_RULE.parseRelevantSetting:
      return (
        'it changes a setting that alters how later statements are parsed or which role runs them ' +
        '(standard_conforming_strings, backslash_quote, client_encoding, role, session_authorization, RESET ALL, ' +
        'DISCARD ALL…). Leave these settings as they are: the gateway\'s inspection depends on them.'
      );
    case BUILTIN_RULE.unparseable:
      return 'PostgreSQL\'s parser rejected it.';
  }
}

function unparseableReason(verdict: Verdict, text: string, facts: Extract<SqlInspection, { ok: false }>): string {
  // 1-based, as PostgreSQL itself reports it.
  const where = facts.position === undefined ? '' : ` at character ${facts.position + 1}`;
  const problem = `PostgreSQL's parser rejected it (${facts.error}${where})`;
  if (verdict.by === 'guard') {
    return (
      `Refused ${quoteSql(text)} by built-in rule "${BUILTIN_RULE.unparseable}": ${problem}, so Portcullis cannot ` +
      'tell what it would do. Fix the syntax and send it again.'
    );
  }
  if (verdict.by === 'rule' && verdict.effect !== 'allow') return ruleReason(verdict.effect, verdict.rule, () => quoteSql(text));
  return `Allowed by rule "${ruleName(verdict)}" although ${problem}.`;
}

/** "a delete statement (class write) on public.orders", for default refusals. */
function describeStatement(statement: StatementFacts): string {
  const tables = statement.tables.map((t) => (t.schema === undefined ? t.name : `${t.schema}.${t.name}`));
  const on = tables.length === 0 ? '' : ` on ${[...new Set(tables)].slice(0, 5).join(', ')}${tables.length > 5 ? ', …' : ''}`;
  const article = /^[aeiou]/.test(statement.kind) ? 'an' : 'a';
  return `${article} ${statement.kind} statement (class ${statement.class})${on}`;
}
