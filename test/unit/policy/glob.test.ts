import { describe, expect, it } from 'vitest';
import { compileQualifiedGlob, GlobError } from '../../../src/policy/glob.js';

const matches = (glob: string, schema: string, name: string): boolean => {
  const g = compileQualifiedGlob(glob);
  return g.schema.test(schema) && g.name.test(name);
};

describe('compileQualifiedGlob', () => {
  it('"*" matches any run of characters, including none', () => {
    expect(matches('public.*', 'public', 'orders')).toBe(true);
    expect(matches('public.*', 'public', '')).toBe(true);
    expect(matches('*.*', 'anything', 'at all')).toBe(true);
    expect(matches('pg_*.pg_*', 'pg_catalog', 'pg_class')).toBe(true);
    expect(matches('public.ord*s', 'public', 'ords')).toBe(true);
    expect(matches('public.ord*s', 'public', 'orders_archive')).toBe(false);
  });

  it('"?" matches exactly one character (a code point)', () => {
    expect(matches('app.t?', 'app', 't1')).toBe(true);
    expect(matches('app.t?', 'app', 't')).toBe(false);
    expect(matches('app.t?', 'app', 't12')).toBe(false);
    expect(matches('app.t?', 'app', 't😀')).toBe(true);
  });

  it('everything else is literal: regex syntax, case, unicode', () => {
    expect(matches('a+b.(x)|y$', 'a+b', '(x)|y$')).toBe(true);
    expect(matches('a+b.x', 'aab', 'x')).toBe(false);
    expect(matches('app.t-?', 'app', 't-1')).toBe(true);
    expect(matches('public.Orders', 'public', 'orders')).toBe(false);
    expect(matches('public.Orders', 'public', 'Orders')).toBe(true);
    expect(matches('ünï.cødé*', 'ünï', 'cødé_1')).toBe(true);
  });

  it('schema and name are separate: the dot never matches inside a name', () => {
    expect(matches('public.*', 'public.x', 'y')).toBe(false);
    expect(matches('secret.*', 'secret', 'a.b')).toBe(true);
  });

  it('keeps the text and refuses anything but "schema.name"', () => {
    expect(compileQualifiedGlob('public.*').text).toBe('public.*');
    for (const bad of ['orders', 'a.b.c', '.x', 'x.', '']) {
      expect(() => compileQualifiedGlob(bad), bad).toThrow(GlobError);
    }
  });
});
