/** Masking profiles compiled for an identity: column globs, the most restrictive rule, detectors and settings combined. */
import { describe, expect, it } from 'vitest';
import type { ColumnRuleConfig, MaskingProfileConfig } from '../../../src/config/types.js';
import { compileMaskingPolicy, MaskingPolicies, stricterStrategy } from '../../../src/masking/policy.js';
import { connection, identity } from '../policy/support.js';
import { maskingProfile } from '../../support/masking-profile.js';

const profile = (name: string, over: Partial<MaskingProfileConfig> = {}): MaskingProfileConfig => maskingProfile(name, { detectors: ['email'], ...over });

const col = (pattern: string, strategy: ColumnRuleConfig['strategy'], label = 'MASKED'): ColumnRuleConfig => ({ pattern, strategy, label });

describe('compileMaskingPolicy', () => {
  it('is undefined without profiles', () => {
    expect(compileMaskingPolicy([])).toBeUndefined();
  });

  it('matches schema.table.column globs part by part, and bare globs on the column name in any table', () => {
    const policy = compileMaskingPolicy([
      profile('pii', { columns: [col('public.customers.email', 'redact', 'EMAIL'), col('*password*', 'null'), col('*.*.ssn', 'hash')], hashKey: 'k'.repeat(16) }),
    ])!;
    expect(policy.columnMask('public', 'customers', 'email')).toEqual({ strategy: 'redact', label: 'EMAIL', rule: 'masking profile "pii", column rule "public.customers.email"' });
    expect(policy.columnMask('public', 'customers', 'emails')).toBeUndefined();
    expect(policy.columnMask('sales', 'customers', 'email')).toBeUndefined();
    expect(policy.columnMask('app', 'users', 'old_password_hash')?.strategy).toBe('null');
    expect(policy.columnMask('hr', 'staff', 'ssn')?.strategy).toBe('hash');
    // A name with a "." in it is one part: it never makes a glob match across parts.
    expect(policy.columnMask('public', 'customers.email', 'x')).toBeUndefined();
    expect(policy.hasColumnRules).toBe(true);
    expect(policy.hashKey?.toString()).toBe('k'.repeat(16));
  });

  it('gives a column the most restrictive rule of all that match: null > redact > hash > partial', () => {
    expect(stricterStrategy('partial', 'hash')).toBe('hash');
    expect(stricterStrategy('redact', 'hash')).toBe('redact');
    expect(stricterStrategy('redact', 'null')).toBe('null');
    const policy = compileMaskingPolicy([
      profile('a', { columns: [col('public.customers.card', 'partial')] }),
      profile('b', { columns: [col('*card*', 'redact', 'CARD')] }),
    ])!;
    expect(policy.columnMask('public', 'customers', 'card')).toMatchObject({ strategy: 'redact', label: 'CARD' });
  });

  it('combines detectors, strategies and strictness settings', () => {
    const policy = compileMaskingPolicy([
      profile('a', { detectors: ['email'], strategy: 'partial' }),
      profile('b', { detectors: ['email', 'iban'], strategy: 'redact', expressions: 'refuse', denyPredicates: true }),
    ])!;
    expect(policy.detectors.map((d) => d.name)).toEqual(['email', 'iban']);
    expect(policy.contentStrategy).toBe('redact');
    expect(policy.onDerived).toBe('refuse');
    expect(policy.denyPredicates).toBe(true);
    expect(policy.profiles).toEqual(['a', 'b']);
    expect(policy.hasColumnRules).toBe(false);
  });

  it('expands "default" to the default detector set', () => {
    const policy = compileMaskingPolicy([profile('a', { detectors: ['default'] })])!;
    expect(policy.detectors.map((d) => d.name)).toContain('card');
    expect(policy.detectors.map((d) => d.name)).not.toContain('ip');
  });
});

describe('MaskingPolicies', () => {
  const support = profile('support', { for: { groups: ['support'], subjects: undefined, clients: undefined }, columns: [col('*.*.card', 'partial')] });
  const agents = profile('agents', { for: { groups: ['agents'], subjects: undefined, clients: undefined }, columns: [col('*.*.card', 'redact')] });
  const conn = connection({ masking: [support, agents] });

  it('gives each identity the profiles whose "for" matches it', () => {
    const policies = new MaskingPolicies();
    expect(policies.forIdentity(conn, identity({ groups: ['support'] }))?.columnMask('public', 'c', 'card')?.strategy).toBe('partial');
    expect(policies.forIdentity(conn, identity({ groups: ['agents'] }))?.columnMask('public', 'c', 'card')?.strategy).toBe('redact');
    expect(policies.forIdentity(conn, identity({ groups: ['agents', 'support'] }))?.columnMask('public', 'c', 'card')?.strategy).toBe('redact');
    expect(policies.forIdentity(conn, identity({ groups: ['finance'] }))).toBeUndefined();
  });

  it('compiles each combination once', () => {
    const policies = new MaskingPolicies();
    const a = policies.forIdentity(conn, identity({ subject: 'one', groups: ['agents'] }));
    const b = policies.forIdentity(conn, identity({ subject: 'two', groups: ['agents'] }));
    expect(a).toBe(b);
  });
});
