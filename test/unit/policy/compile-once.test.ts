/** Rule globs are compiled when the gate is built, never per decision. */
import { describe, expect, it, vi } from 'vitest';
import * as glob from '../../../src/policy/glob.js';
import { createGate } from '../../../src/policy/gate.js';
import { connection, identity, parsed, rule, sqlOp, statement, table } from './support.js';

vi.mock('../../../src/policy/glob.js', async (importOriginal) => {
  const original = await importOriginal<typeof glob>();
  return { ...original, compileQualifiedGlob: vi.fn(original.compileQualifiedGlob) };
});

describe('createGate', () => {
  it('compiles each rule\'s globs once, shared across connections, and none while deciding', () => {
    const compile = vi.mocked(glob.compileQualifiedGlob);
    compile.mockClear();
    const shared = rule('public-reads', 'allow', { sql: { tables: ['public.*', 'app.*'], functions: ['pg_catalog.*'] } });
    const deny = rule('no-secret', 'deny', { sql: { tables: ['secret.*'] } });
    const gate = createGate([connection({ name: 'a', rules: [shared, deny] }), connection({ name: 'b', rules: [shared] })]);
    expect(compile).toHaveBeenCalledTimes(4);
    const facts = parsed(statement({ tables: [table('public.orders'), table('app.items')] }));
    for (let i = 0; i < 1000; i++) {
      gate(identity(), sqlOp(facts, undefined, i % 2 === 0 ? 'a' : 'b'));
    }
    expect(compile).toHaveBeenCalledTimes(4);
    const regexp = vi.spyOn(globalThis, 'RegExp');
    gate(identity(), sqlOp(facts, undefined, 'a'));
    expect(regexp).not.toHaveBeenCalled();
    regexp.mockRestore();
  });
});
