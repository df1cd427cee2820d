/**
 * Globs on schema-qualified names ("public.*", "app.order_?", "*.secrets"), compiled once
 * when the gate is built. Schema and name are matched separately, so a name that itself
 * contains a "." (a quoted identifier) can never make a glob match across the boundary.
 * `*` matches any run of characters (none included), `?` exactly one; everything else is
 * literal and case-sensitive — names are compared as PostgreSQL resolved them.
 */

export interface NameMatcher {
  test(name: string): boolean;
}

export interface QualifiedGlob {
  /** As written in the config. */
  readonly text: string;
  readonly schema: NameMatcher;
  readonly name: NameMatcher;
}

export class GlobError extends Error {
  override readonly name = 'GlobError';
}

const ANY: NameMatcher = { test: () => true };

/** Compiles "schema.name"; throws `GlobError` for anything else (the config schema has already refused those). */
export function compileQualifiedGlob(text: string): QualifiedGlob {
  const parts = text.split('.');
  if (parts.length !== 2 || parts[0] === '' || parts[1] === '') {
    throw new GlobError(`invalid glob ${JSON.stringify(text)}: expected "schema.name", e.g. "public.*"`);
  }
  return { text, schema: compileNameGlob(parts[0] ?? ''), name: compileNameGlob(parts[1] ?? '') };
}

/** One name glob (no schema part): `*password*`, `order_?`, or a literal name. */
export function compileNameGlob(glob: string): NameMatcher {
  if (glob === '*') return ANY;
  if (!/[*?]/.test(glob)) return { test: (name) => name === glob };
  let source = '';
  for (const char of glob) {
    if (char === '*') source += '[^]*';
    else if (char === '?') source += '[^]';
    // Only regex syntax characters may be escaped in unicode mode.
    else source += char.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&');
  }
  return new RegExp(`^${source}$`, 'u');
}
