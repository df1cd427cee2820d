/**
 * The policy the benchmarks run under: the example policy (examples/portcullis.yaml,
 * connection `demo`) with its read allow rules narrowed to the pgbench tables.
 *
 * It is derived from the example file rather than copied, so the benchmark keeps measuring
 * what we ship as the read-only-for-agents policy: reads (and transaction control) allowed
 * for group `agents`, dangerous functions, writes, DDL, admin and session changes denied
 * with their reasons, default deny. The derivation checks that shape and fails loudly when
 * the example no longer has it.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';

/** A rule in config-file syntax (what goes under the YAML `rules:`). */
export interface PolicyRule {
  readonly name: string;
  readonly when: {
    readonly identity?: { readonly groups?: readonly string[]; readonly subjects?: readonly string[]; readonly clients?: readonly string[] };
    readonly sql?: {
      readonly class?: readonly string[];
      readonly kind?: readonly string[];
      readonly tables?: readonly string[];
      readonly functions?: readonly string[];
      readonly flags?: readonly string[];
      readonly unparseable?: true;
    };
  };
  readonly effect: 'allow' | 'deny' | 'review';
  readonly reason?: string;
  /** For review rules: the `review:` settings in file syntax (approvers, timeout…). */
  readonly review?: Readonly<Record<string, unknown>>;
}

export interface BenchPolicy {
  /** Where it came from, for the report. */
  readonly source: string;
  /** Rules in the order the connection lists them. */
  readonly rules: readonly PolicyRule[];
  readonly defaultEffect: 'allow' | 'deny';
  /** The table globs the read allow rules were narrowed to. */
  readonly tables: readonly string[];
  /** The example's `sql:` section (extra dangerous functions), in file syntax. */
  readonly sql: Record<string, unknown> | undefined;
}

export const EXAMPLE_CONFIG = path.join('examples', 'portcullis.yaml');
const EXAMPLE_CONNECTION = 'demo';
export const BENCH_TABLES = ['public.pgbench_*'] as const;
/** Classes the example policy must deny for every caller. */
const MUST_DENY = ['write', 'ddl', 'admin', 'session'] as const;

/**
 * Reads the example policy from `root/examples/portcullis.yaml` and narrows every allow
 * rule that allows class `read` to `tables` (pgbench's). Throws when the example no longer
 * is a read-only-for-`group` policy with default deny.
 */
export function benchPolicy(root: string, group: string, tables: readonly string[] = BENCH_TABLES): BenchPolicy {
  const file = path.join(root, EXAMPLE_CONFIG);
  const doc = parse(readFileSync(file, 'utf8')) as {
    connections?: Array<{ name?: string; rules?: string[]; default?: 'allow' | 'deny' }>;
    rules?: PolicyRule[];
    sql?: Record<string, unknown>;
  };
  const fail = (message: string): never => {
    throw new Error(`${EXAMPLE_CONFIG}: ${message} — the benchmark runs under the example's read-only policy; update bench/support/policy.ts`);
  };
  const connection = doc.connections?.find((c) => c.name === EXAMPLE_CONNECTION) ?? fail(`no connection "${EXAMPLE_CONNECTION}"`);
  const names = connection.rules ?? fail(`connection "${EXAMPLE_CONNECTION}" names no rules`);
  const defined = new Map((doc.rules ?? []).map((r) => [r.name, r]));
  const rules = names.map((name) => {
    const rule = defined.get(name) ?? fail(`connection "${EXAMPLE_CONNECTION}" names undefined rule "${name}"`);
    if (rule.effect !== 'allow' || !rule.when.sql?.class?.includes('read')) return rule;
    if (rule.when.sql.tables !== undefined) return rule; // already narrowed
    return { ...rule, when: { ...rule.when, sql: { ...rule.when.sql, tables: [...tables] } } };
  });
  const defaultEffect = connection.default ?? 'deny';

  // The shape the benchmark claims: default deny; reads allowed to the group; the rest denied to everyone.
  if (defaultEffect !== 'deny') fail(`connection "${EXAMPLE_CONNECTION}" has default ${defaultEffect}, not deny`);
  const readAllow = rules.find((r) => r.effect === 'allow' && r.when.sql?.class?.includes('read'));
  if (!readAllow) fail('no allow rule for class read');
  if (readAllow!.when.identity?.groups && !readAllow!.when.identity.groups.includes(group)) {
    fail(`the read allow rule "${readAllow!.name}" is not for group "${group}"`);
  }
  for (const cls of MUST_DENY) {
    const denies = rules.some(
      (r) => r.effect === 'deny' && r.when.identity === undefined && r.when.sql?.class?.includes(cls) && r.when.sql.tables === undefined,
    );
    if (!denies) fail(`no deny rule for class ${cls} (for every caller, every table)`);
  }
  for (const r of rules) if (r.effect === 'allow' && r.when.sql?.class?.some((c) => (MUST_DENY as readonly string[]).includes(c))) {
    fail(`allow rule "${r.name}" allows a class the policy must deny`);
  }
  return { source: `${EXAMPLE_CONFIG}, connection ${EXAMPLE_CONNECTION}`, rules, defaultEffect, tables, sql: doc.sql ?? undefined };
}

export interface BenchMasking {
  /** Where it came from, for the report. */
  readonly source: string;
  /** The profiles the example connection lists, in config-file syntax (what goes under the YAML `masking:`). */
  readonly profiles: readonly Record<string, unknown>[];
}

/** The masking profile the example attaches to its agents' connection; the benchmark measures with it on. */
export const EXAMPLE_MASKING_PROFILE = 'pii-for-agents';

/**
 * Reads the masking profiles the example's connection `demo` lists from
 * `root/examples/portcullis.yaml`, unchanged: its column rules may name tables the benchmark
 * does not have (they then simply never match), its content detectors run on every text value.
 * Throws when the connection no longer lists `pii-for-agents`, lists an undefined profile, or
 * a profile's `for` would exclude `group` (masking would then be off for the agent).
 */
export function benchMasking(root: string, group: string): BenchMasking {
  const doc = parse(readFileSync(path.join(root, EXAMPLE_CONFIG), 'utf8')) as {
    connections?: Array<{ name?: string; masking?: string[] }>;
    masking?: Array<Record<string, unknown>>;
  };
  const fail = (message: string): never => {
    throw new Error(`${EXAMPLE_CONFIG}: ${message} — the benchmark runs with the example's masking on; update bench/support/policy.ts`);
  };
  const connection = doc.connections?.find((c) => c.name === EXAMPLE_CONNECTION) ?? fail(`no connection "${EXAMPLE_CONNECTION}"`);
  const names = connection.masking ?? [];
  if (!names.includes(EXAMPLE_MASKING_PROFILE)) fail(`connection "${EXAMPLE_CONNECTION}" does not list masking profile "${EXAMPLE_MASKING_PROFILE}"`);
  const profiles = names.map((name) => {
    const profile = doc.masking?.find((m) => m['name'] === name) ?? fail(`connection "${EXAMPLE_CONNECTION}" names undefined masking profile "${name}"`);
    const groups = (profile['for'] as { groups?: unknown } | undefined)?.groups;
    if (Array.isArray(groups) && !groups.includes(group)) fail(`masking profile "${name}" is not for group "${group}"`);
    return profile;
  });
  return { source: `${EXAMPLE_CONFIG}, connection ${EXAMPLE_CONNECTION}: ${names.join(', ')}`, profiles };
}

/** The example's deny rule for writes, which the TPC-B connection leaves out. */
const NO_WRITES = 'no-writes';
/** Prefix of the TPC-B connection's copies of the example rules: rule names are unique in a config. */
export const TPCB_RULE_PREFIX = 'tpcb-';
/** Statement kinds pgbench's TPC-B-like script writes with (UPDATE accounts/tellers/branches, INSERT history). */
const TPCB_WRITE_KINDS = ['update', 'insert'] as const;

/**
 * The rules for a connection that runs pgbench's default TPC-B-like script: the benchmark
 * policy without `no-writes` (it denies every write, and the most restrictive matching rule
 * wins, so no allow rule could lift it), plus one allow rule for UPDATE and INSERT on the
 * pgbench tables for `group`. Every other rule keeps its effect — dangerous functions, DDL,
 * admin and session changes stay denied, and win over the new allow — and anything else
 * (DELETE, TRUNCATE, writes to other tables) still falls to the default, deny. Rules are
 * renamed with TPCB_RULE_PREFIX so both connections fit in one config.
 */
export function tpcbPolicy(base: BenchPolicy, group: string, tables: readonly string[] = BENCH_TABLES): BenchPolicy {
  const noWrites = base.rules.find((r) => r.name === NO_WRITES);
  if (noWrites === undefined || noWrites.effect !== 'deny' || !noWrites.when.sql?.class?.includes('write')) {
    throw new Error(`the benchmark policy has no deny rule "${NO_WRITES}" for class write; update tpcbPolicy in bench/support/policy.ts`);
  }
  const kept = base.rules.filter((r) => r !== noWrites).map((r) => ({ ...r, name: `${TPCB_RULE_PREFIX}${r.name}` }));
  const writes: PolicyRule = {
    name: `${TPCB_RULE_PREFIX}pgbench-writes`,
    when: { identity: { groups: [group] }, sql: { class: ['write'], kind: [...TPCB_WRITE_KINDS], tables: [...tables] } },
    effect: 'allow',
  };
  return { ...base, source: `${base.source}, without ${NO_WRITES}, plus ${writes.name}`, rules: [...kept, writes] };
}

/** One line per rule, for reports: `name: effect <conditions>`. */
export function describeRule(rule: PolicyRule): string {
  const parts: string[] = [];
  const id = rule.when.identity;
  if (id?.groups) parts.push(`groups ${id.groups.join(', ')}`);
  if (id?.subjects) parts.push(`subjects ${id.subjects.join(', ')}`);
  if (id?.clients) parts.push(`clients ${id.clients.join(', ')}`);
  const sql = rule.when.sql;
  if (sql?.class) parts.push(`class ${sql.class.join(', ')}`);
  if (sql?.kind) parts.push(`kind ${sql.kind.join(', ')}`);
  if (sql?.tables) parts.push(`tables ${sql.tables.join(', ')}`);
  if (sql?.functions) parts.push(`functions ${sql.functions.join(', ')}`);
  if (sql?.flags) parts.push(`flags ${sql.flags.join(', ')}`);
  if (sql?.unparseable) parts.push('unparseable');
  return parts.length > 0 ? parts.join('; ') : 'every statement';
}
