/**
 * Rules compiled for matching: lists become sets, globs become matchers — once, when the
 * gate is built, so deciding a statement allocates no regular expressions. Matching is pure.
 * The semantics are documented in gate.ts.
 */
import type { IdentityCondition, RuleConfig, RuleEffect } from '../config/types.js';
import type { Identity } from '../identity/identity.js';
import type { FunctionCall, SqlClass, SqlFlag, StatementFacts, TableAccess } from '../inspect/sql/facts.js';
import { BUILTIN_RULE } from './builtin.js';
import { compileQualifiedGlob, type QualifiedGlob } from './glob.js';
import { compileFilesCondition, type CompiledFiles } from './file-rules.js';
import { compileShellCondition, compileSshCondition, type CompiledShell, type CompiledSsh } from './shell-rules.js';

/** The built-in guards a statement can trip; each is lifted only by an allow rule that names it. */
export type Guard =
  | typeof BUILTIN_RULE.unparseable
  | typeof BUILTIN_RULE.unknownStatement
  | typeof BUILTIN_RULE.dynamicSql
  | typeof BUILTIN_RULE.parseRelevantSetting;

export interface CompiledRule {
  readonly name: string;
  readonly effect: RuleEffect;
  readonly reason: string | undefined;
  readonly identity: CompiledIdentity | undefined;
  readonly sql: CompiledSql | undefined;
  readonly shell: CompiledShell | undefined;
  readonly ssh: CompiledSsh | undefined;
  readonly files: CompiledFiles | undefined;
  /** Guards this rule lifts when it is an allow rule and matches. */
  readonly lifts: ReadonlySet<Guard>;
}

export interface CompiledIdentity {
  readonly groups: ReadonlySet<string> | undefined;
  readonly subjects: ReadonlySet<string> | undefined;
  readonly clients: ReadonlySet<string> | undefined;
}

interface CompiledSql {
  readonly classes: ReadonlySet<SqlClass> | undefined;
  readonly kinds: ReadonlySet<string> | undefined;
  readonly tables: readonly QualifiedGlob[] | undefined;
  readonly functions: readonly QualifiedGlob[] | undefined;
  readonly flags: ReadonlySet<SqlFlag> | undefined;
  readonly unparseable: boolean;
}

const setOf = <T>(list: readonly T[] | undefined): ReadonlySet<T> | undefined => (list === undefined ? undefined : new Set(list));

export function compileRule(rule: RuleConfig): CompiledRule {
  const { identity, sql, shell, ssh, files } = rule.when;
  const lifts = new Set<Guard>();
  if (rule.effect === 'allow' && sql !== undefined) {
    if (sql.unparseable) lifts.add(BUILTIN_RULE.unparseable);
    if (sql.classes?.includes('unknown') === true) lifts.add(BUILTIN_RULE.unknownStatement);
    if (sql.flags?.includes('dynamic_sql') === true) lifts.add(BUILTIN_RULE.dynamicSql);
    if (sql.flags?.includes('parse_relevant_setting') === true) lifts.add(BUILTIN_RULE.parseRelevantSetting);
  }
  return {
    name: rule.name,
    effect: rule.effect,
    reason: rule.reason,
    identity: compileIdentityCondition(identity),
    sql:
      sql === undefined
        ? undefined
        : {
            classes: setOf(sql.classes),
            kinds: setOf(sql.kinds),
            tables: sql.tables?.map(compileQualifiedGlob),
            functions: sql.functions?.map(compileQualifiedGlob),
            flags: setOf(sql.flags),
            unparseable: sql.unparseable,
          },
    shell: shell === undefined ? undefined : compileShellCondition(shell),
    ssh: ssh === undefined ? undefined : compileSshCondition(ssh),
    files: files === undefined ? undefined : compileFilesCondition(files),
    lifts,
  };
}

export function compileIdentityCondition(c: IdentityCondition | undefined): CompiledIdentity | undefined {
  return c === undefined ? undefined : { groups: setOf(c.groups), subjects: setOf(c.subjects), clients: setOf(c.clients) };
}

export function matchesIdentity(rule: CompiledRule, identity: Identity): boolean {
  return matchesIdentityCondition(rule.identity, identity);
}

/** Every identity condition given holds: a group in common, the subject listed, the client id listed. */
export function matchesIdentityCondition(c: CompiledIdentity | undefined, identity: Identity): boolean {
  if (c === undefined) return true;
  if (c.groups !== undefined && !identity.groups.some((group) => c.groups?.has(group) === true)) return false;
  if (c.subjects !== undefined && !c.subjects.has(identity.subject)) return false;
  if (c.clients !== undefined && (identity.clientId === undefined || !c.clients.has(identity.clientId))) return false;
  return true;
}

/** Input the parser rejected is matched only by rules with `unparseable: true`: it has no facts to match. */
export function matchesUnparseable(rule: CompiledRule): boolean {
  return rule.sql?.unparseable === true;
}

/** A rule with shell or SSH conditions is about SSH operations: it never matches a statement. */
function forOtherProtocol(rule: CompiledRule): boolean {
  return rule.shell !== undefined || rule.ssh !== undefined || rule.files !== undefined;
}

/** Every sql condition given holds for this statement (the identity was checked before). */
export function matchesStatement(rule: CompiledRule, statement: StatementFacts, searchPath: readonly string[]): boolean {
  const c = rule.sql;
  if (c === undefined) return !forOtherProtocol(rule);
  if (c.unparseable) return false;
  if (c.classes !== undefined && !c.classes.has(statement.class)) return false;
  if (c.kinds !== undefined && !c.kinds.has(statement.kind)) return false;
  if (c.flags !== undefined && !statement.flags.some((flag) => c.flags?.has(flag) === true)) return false;
  const permissive = rule.effect === 'allow';
  if (c.tables !== undefined) {
    const ok = permissive
      ? everyMatches(c.tables, statement.tables, (t) => allowTableSchemas(t, searchPath))
      : someMatches(c.tables, statement.tables);
    if (!ok) return false;
  }
  if (c.functions !== undefined) {
    const ok = permissive
      ? everyMatches(c.functions, statement.functions, allowFunctionSchemas)
      : someMatches(c.functions, statement.functions);
    if (!ok) return false;
  }
  return true;
}

type Named = TableAccess | FunctionCall;

/**
 * Where PostgreSQL may find an unqualified table, for allow rules (the gateway refuses
 * changes to search_path): a `pg_*` name is taken as pg_catalog's (searched first); any
 * other name as EVERY schema on the connection's search path — without the catalog the
 * gate cannot know which one holds it, so each must be allowed (e.g. a `"$user"` schema
 * shadowing public).
 */
function allowTableSchemas(name: Named, searchPath: readonly string[]): readonly string[] {
  if (name.schema !== undefined) return [name.schema];
  return name.name.startsWith('pg_') ? PG_CATALOG : searchPath;
}

const PG_CATALOG: readonly string[] = ['pg_catalog'];

/** An unqualified function is taken as the built-in one (pg_catalog is searched first). */
function allowFunctionSchemas(name: Named): readonly string[] {
  return name.schema !== undefined ? [name.schema] : PG_CATALOG;
}

/** Allow: at least one name, and every one matches some glob in every schema it may be in. */
function everyMatches(
  globs: readonly QualifiedGlob[],
  names: readonly Named[],
  schemasOf: (name: Named) => readonly string[],
): boolean {
  if (names.length === 0) return false;
  return names.every((n) => {
    const schemas = schemasOf(n);
    return schemas.length > 0 && schemas.every((schema) => globs.some((glob) => glob.schema.test(schema) && glob.name.test(n.name)));
  });
}

/** Deny/review: any name matches some glob; an unqualified name matches in any schema. */
function someMatches(globs: readonly QualifiedGlob[], names: readonly Named[]): boolean {
  return names.some((n) => globs.some((glob) => (n.schema === undefined || glob.schema.test(n.schema)) && glob.name.test(n.name)));
}

const NO_GUARDS: readonly Guard[] = [];

/** The guards a parsed statement trips, in the order they are reported. */
export function guardsOf(statement: StatementFacts): readonly Guard[] {
  if (statement.class !== 'unknown' && statement.flags.length === 0) return NO_GUARDS;
  const guards: Guard[] = [];
  if (statement.class === 'unknown') guards.push(BUILTIN_RULE.unknownStatement);
  if (statement.flags.includes('dynamic_sql')) guards.push(BUILTIN_RULE.dynamicSql);
  if (statement.flags.includes('parse_relevant_setting')) guards.push(BUILTIN_RULE.parseRelevantSetting);
  return guards;
}
