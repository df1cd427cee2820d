/**
 * A connection's masking profiles, compiled for one identity: which source columns are
 * masked and how, which content detectors run, and the strictness settings. Pure; built
 * once per distinct combination of profiles and reused by every session it applies to.
 */
import type { ColumnRuleConfig, ConnectionConfig, MaskingProfileConfig } from '../config/types.js';
import type { Identity } from '../identity/identity.js';
import { compileNameGlob, type NameMatcher } from '../policy/glob.js';
import { compileIdentityCondition, matchesIdentityCondition, type CompiledIdentity } from '../policy/rules.js';
import type { Detector } from './detector.js';
import { detectorsForProfile } from './profile-detectors.js';
import type { ColumnMask, ColumnMaskLookup, MaskStrategy } from './plan.js';

export interface MaskingPolicy {
  /** The profiles combined, in the connection's order (for messages and `policy check`). */
  readonly profiles: readonly string[];
  readonly columnMask: ColumnMaskLookup;
  /** True when any column rule exists (error DETAIL templates then have their values masked). */
  readonly hasColumnRules: boolean;
  readonly detectors: readonly Detector[];
  /** How content findings are masked: the most restrictive of the profiles'. */
  readonly contentStrategy: MaskStrategy;
  readonly hashKey: Buffer | undefined;
  readonly denyPredicates: boolean;
  readonly onDerived: 'mask' | 'refuse';
}

/**
 * A policy that masks nothing. A session without masking uses it when its connection records
 * result rows: the same machinery then tells which columns (and formats) rows have.
 */
export const NO_MASKING: MaskingPolicy = Object.freeze({
  profiles: [],
  columnMask: () => undefined,
  hasColumnRules: false,
  detectors: [],
  contentStrategy: 'redact',
  hashKey: undefined,
  denyPredicates: false,
  onDerived: 'mask',
});

/** Most restrictive first: when several rules apply to one value, the first of these wins. */
const RESTRICTIVENESS: readonly MaskStrategy[] = ['null', 'redact', 'hash', 'partial'];

export function stricterStrategy(a: MaskStrategy, b: MaskStrategy): MaskStrategy {
  return RESTRICTIVENESS.indexOf(a) <= RESTRICTIVENESS.indexOf(b) ? a : b;
}

interface CompiledColumnRule {
  readonly schema: NameMatcher;
  readonly table: NameMatcher;
  readonly column: NameMatcher;
  readonly mask: ColumnMask;
}

const ANY: NameMatcher = { test: () => true };

function compileColumnRule(profile: string, rule: ColumnRuleConfig): CompiledColumnRule {
  const parts = rule.pattern.split('.');
  const mask: ColumnMask = { strategy: rule.strategy, label: rule.label, rule: `masking profile "${profile}", column rule "${rule.pattern}"` };
  if (parts.length === 1) return { schema: ANY, table: ANY, column: compileNameGlob(rule.pattern), mask };
  const [schema = '', table = '', column = ''] = parts;
  return { schema: compileNameGlob(schema), table: compileNameGlob(table), column: compileNameGlob(column), mask };
}

/** Combines profiles (all of which apply): undefined when there are none. */
export function compileMaskingPolicy(profiles: readonly MaskingProfileConfig[]): MaskingPolicy | undefined {
  if (profiles.length === 0) return undefined;
  const rules = profiles.flatMap((p) => p.columns.map((c) => compileColumnRule(p.name, c)));
  const byColumn = new Map<string, ColumnMask | null>();
  const columnMask: ColumnMaskLookup = (schema, table, column) => {
    const key = `${schema}\u0000${table}\u0000${column}`;
    const cached = byColumn.get(key);
    if (cached !== undefined) return cached ?? undefined;
    let found: ColumnMask | undefined;
    for (const r of rules) {
      if (!r.column.test(column) || !r.table.test(table) || !r.schema.test(schema)) continue;
      if (found === undefined || stricterStrategy(r.mask.strategy, found.strategy) !== found.strategy) found = r.mask;
    }
    // Bounded by the catalog's column count plus names seen in statements.
    if (byColumn.size < 100_000) byColumn.set(key, found ?? null);
    return found;
  };
  const detectors = new Map<string, Detector>();
  for (const p of profiles) for (const d of detectorsForProfile(p)) if (!detectors.has(d.name)) detectors.set(d.name, d);
  const hashKey = profiles.find((p) => p.hashKey !== undefined)?.hashKey;
  return {
    profiles: profiles.map((p) => p.name),
    columnMask,
    hasColumnRules: rules.length > 0,
    detectors: [...detectors.values()],
    contentStrategy: profiles.map((p) => p.strategy).reduce(stricterStrategy),
    hashKey: hashKey === undefined ? undefined : Buffer.from(hashKey, 'utf8'),
    denyPredicates: profiles.some((p) => p.denyPredicates),
    onDerived: profiles.some((p) => p.expressions === 'refuse') ? 'refuse' : 'mask',
  };
}

/**
 * The masking policy each identity gets on each connection: the connection's profiles whose
 * `for` matches, combined. Compiled once per combination.
 */
export class MaskingPolicies {
  private readonly conditions = new Map<MaskingProfileConfig, CompiledIdentity | undefined>();
  private readonly compiled = new Map<string, MaskingPolicy | undefined>();

  forIdentity(connection: ConnectionConfig, identity: Identity): MaskingPolicy | undefined {
    const applicable = connection.masking.filter((p) => matchesIdentityCondition(this.condition(p), identity));
    const key = applicable.map((p) => p.name).join('\u0000');
    if (!this.compiled.has(key)) this.compiled.set(key, compileMaskingPolicy(applicable));
    return this.compiled.get(key);
  }

  private condition(profile: MaskingProfileConfig): CompiledIdentity | undefined {
    if (!this.conditions.has(profile)) this.conditions.set(profile, compileIdentityCondition(profile.for));
    return this.conditions.get(profile);
  }
}
