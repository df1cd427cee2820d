import { describe, expect, it } from 'vitest';
import type { RuleConfig } from '../../../src/config/types.js';
import type { SqlInspection } from '../../../src/inspect/sql/facts.js';
import { isGrantedAccess } from '../../../src/policy/access.js';
import { createGate } from '../../../src/policy/gate.js';
import type { Decision } from '../../../src/policy/operation.js';
import { connection, fn, identity, parsed, rule, sessionOp, sqlOp, statement, table } from './support.js';

/** Decides one operation on connection "prod" with these rules. */
function decide(
  rules: RuleConfig[],
  facts: SqlInspection | undefined,
  options: { defaultEffect?: 'allow' | 'deny'; who?: Parameters<typeof identity>[0]; text?: string } = {},
): Decision {
  const gate = createGate([connection({ rules, defaultEffect: options.defaultEffect ?? 'deny' })]);
  return gate(identity(options.who), sqlOp(facts, options.text));
}

const one = (over: Parameters<typeof statement>[0] = {}): SqlInspection => parsed(statement(over));

describe('isGrantedAccess', () => {
  const access = (over: { groups?: string[]; subjects?: string[]; clients?: string[] }) => ({ groups: [], subjects: [], clients: [], ...over });

  it('grants by group, subject or client id', () => {
    expect(isGrantedAccess(identity(), access({ groups: ['agents'] }))).toBe(true);
    expect(isGrantedAccess(identity({ groups: [] }), access({ subjects: ['agent-1'] }))).toBe(true);
    expect(isGrantedAccess(identity({ groups: [] }), access({ clients: ['client-1'] }))).toBe(true);
  });

  it('refuses when nothing matches, including a missing client id', () => {
    expect(isGrantedAccess(identity(), access({ groups: ['dba'] }))).toBe(false);
    expect(isGrantedAccess(identity({ clientId: undefined, groups: [] }), access({ clients: ['client-1'] }))).toBe(false);
    expect(isGrantedAccess(identity({ groups: ['Agents'] }), access({ groups: ['agents'] }))).toBe(false);
  });
});

describe('gate: sessions and the access list', () => {
  const gate = createGate([connection({ defaultEffect: 'allow' })]);

  it('allows opening a connection the identity is granted', () => {
    expect(gate(identity(), sessionOp())).toMatchObject({ effect: 'allow', rule: 'access' });
  });

  it('denies opening with a reason that says what to do', () => {
    const d = gate(identity({ groups: ['contractors'] }), sessionOp());
    expect(d.effect).toBe('deny');
    expect(d.rule).toBe('access');
    expect(d.reason).toMatch(/not in the access list of connection "prod".*ask a Portcullis administrator/);
  });

  it('denies an unknown connection (fail closed)', () => {
    expect(gate(identity(), sessionOp('other'))).toMatchObject({ effect: 'deny', rule: 'unknown-connection' });
    expect(gate(identity(), sqlOp(one(), undefined, 'other'))).toMatchObject({ effect: 'deny', rule: 'unknown-connection' });
  });

  it('holds statements to the access list too, before any rule', () => {
    expect(gate(identity(), sqlOp(one())).effect).toBe('allow');
    expect(gate(identity({ groups: [] }), sqlOp(one()))).toMatchObject({ effect: 'deny', rule: 'access' });
  });

  it('denies a statement that arrives without facts (fail closed), even with default allow', () => {
    const d = gate(identity(), sqlOp(undefined, 'SELECT 1'));
    expect(d).toMatchObject({ effect: 'deny', rule: 'not-inspected' });
    expect(d.reason).toMatch(/without being inspected/);
  });
});

describe('gate: rules, effects and the default', () => {
  it('falls to the default, deny unless set, naming the connection and the statement', () => {
    const d = decide([], one({ kind: 'delete', class: 'write', tables: [table('public.orders', 'write')], text: 'DELETE FROM public.orders' }));
    expect(d).toMatchObject({ effect: 'deny', rule: 'default', statementIndex: 0 });
    expect(d.reason).toBe(
      'Refused "DELETE FROM public.orders": no rule of connection "prod" allows a delete statement (class write) on ' +
        'public.orders, and the connection refuses by default. Run only statements its policy allows, or ask a ' +
        'Portcullis administrator for a rule that allows this one.',
    );
    expect(decide([], one(), { defaultEffect: 'allow' })).toMatchObject({ effect: 'allow', rule: 'default' });
  });

  it('a matching allow rule allows, and says which', () => {
    const d = decide([rule('reads-ok', 'allow', { sql: { classes: ['read'] } })], one());
    expect(d).toMatchObject({ effect: 'allow', rule: 'reads-ok', statementIndex: 0 });
    expect(d.reason).toBe('Allowed by rule "reads-ok".');
    expect(d.facts).toEqual(statement());
  });

  it('the most restrictive matching rule wins, whatever the order', () => {
    const allow = rule('allow-all', 'allow', {});
    const review = rule('review-orders', 'review', { sql: { tables: ['public.orders'] } });
    const deny = rule('deny-reads', 'deny', { sql: { classes: ['read'] } });
    expect(decide([allow, deny], one()).rule).toBe('deny-reads');
    expect(decide([deny, allow], one()).rule).toBe('deny-reads');
    expect(decide([allow, review], one())).toMatchObject({ effect: 'review', rule: 'review-orders' });
    expect(decide([review, deny, allow], one())).toMatchObject({ effect: 'deny', rule: 'deny-reads' });
    // A default allow never beats a matching deny, and a deny default never beats an allow.
    expect(decide([deny], one(), { defaultEffect: 'allow' }).effect).toBe('deny');
  });

  it('on a tie the first rule in the connection\'s list is reported', () => {
    const a = rule('deny-a', 'deny', { sql: { classes: ['read'] } });
    const b = rule('deny-b', 'deny', { sql: { kinds: ['select'] } });
    expect(decide([a, b], one()).rule).toBe('deny-a');
    expect(decide([b, a], one()).rule).toBe('deny-b');
  });

  it('a deny reason quotes the statement and names the rule', () => {
    const d = decide([rule('no-writes', 'deny', { sql: { classes: ['write'] }, reason: 'This connection is read-only' })], one({ class: 'write', text: 'DELETE FROM t' }));
    expect(d.reason).toBe('Refused "DELETE FROM t" by rule "no-writes": This connection is read-only.');
  });

  it('refusals end with the inspector\'s notes, when it has any (at most three)', () => {
    const notes = ['calls pg_read_file: reads files', 'calls lo_import: reads files', 'calls dblink: connects out', 'calls x: y'];
    const deny = rule('no-fns', 'deny', { sql: { flags: ['dangerous_function'] }, reason: 'No dangerous functions.' });
    const facts = one({ flags: ['dangerous_function'], notes: notes.slice(0, 1), text: 'SELECT f()' });
    expect(decide([deny], facts).reason).toBe(
      'Refused "SELECT f()" by rule "no-fns": No dangerous functions. (Found: calls pg_read_file: reads files.)',
    );
    expect(decide([], one({ notes, text: 'SELECT f()' })).reason).toMatch(/\(Found: calls pg_read_file: reads files; calls lo_import: reads files; calls dblink: connects out; …\.\)$/);
    expect(decide([rule('ok', 'allow', {})], one({ notes })).reason).toBe('Allowed by rule "ok".');
  });

  it('quoted statements are one line and cut to about 200 characters', () => {
    const long = `SELECT\n\t${'x, '.repeat(150)}1`;
    const d = decide([], one({ text: long }));
    const quoted = /^Refused "([^"]*)"/.exec(d.reason)?.[1] ?? '';
    expect(quoted).not.toMatch(/[\n\t]/);
    expect([...quoted]).toHaveLength(200);
    expect(quoted.startsWith('SELECT x, x,')).toBe(true);
    expect(quoted.endsWith('…')).toBe(true);
  });

  it('class, kind and flags conditions (lists are any-of, conditions are all-of)', () => {
    const r = rule('r', 'allow', { sql: { classes: ['read', 'transaction'], kinds: ['select'], flags: ['explain_analyze', 'update_without_where'] } });
    expect(decide([r], one({ flags: ['explain_analyze'] })).rule).toBe('r');
    expect(decide([r], one({ flags: [] })).rule).toBe('default');
    expect(decide([r], one({ kind: 'insert', flags: ['explain_analyze'] })).rule).toBe('default');
    expect(decide([r], one({ class: 'write', flags: ['explain_analyze'] })).rule).toBe('default');
  });
});

describe('gate: identity conditions', () => {
  const r = rule('ci-agents', 'allow', { identity: { groups: ['bots', 'agents'], clients: ['ci'] } });

  it('every identity key given must match; within a list any entry', () => {
    expect(decide([r], one(), { who: { groups: ['staff', 'agents'], clientId: 'ci' } }).rule).toBe('ci-agents');
    expect(decide([r], one(), { who: { groups: ['agents'], subject: 'x', clientId: 'ci' } }).rule).toBe('ci-agents');
    const staffOnly = rule('staff', 'allow', { identity: { groups: ['staff'] } });
    expect(decide([staffOnly], one()).rule).toBe('default');
    expect(decide([r], one(), { who: { groups: ['agents'], clientId: 'other' } }).rule).toBe('default');
    expect(decide([r], one(), { who: { groups: ['agents'], clientId: undefined } }).rule).toBe('default');
  });

  it('subjects', () => {
    const bySubject = rule('alice', 'deny', { identity: { subjects: ['alice'] } });
    expect(decide([bySubject], one(), { who: { subject: 'alice' }, defaultEffect: 'allow' }).rule).toBe('alice');
    expect(decide([bySubject], one(), { who: { subject: 'bob' }, defaultEffect: 'allow' }).rule).toBe('default');
  });

  it('a rule for other identities does not apply at all (not even its deny)', () => {
    const contractors = rule('contractors-no', 'deny', { identity: { groups: ['contractors'] } });
    expect(decide([contractors], one(), { defaultEffect: 'allow' }).effect).toBe('allow');
    expect(decide([contractors], one(), { defaultEffect: 'allow', who: { groups: ['agents', 'contractors'] } }).effect).toBe('deny');
  });
});

describe('gate: table globs', () => {
  const allowPublic = rule('public-reads', 'allow', { sql: { classes: ['read'], tables: ['public.*'] } });
  const denySecret = rule('no-secret', 'deny', { sql: { tables: ['secret.*'] } });

  it('allow: every table touched must match', () => {
    expect(decide([allowPublic], one({ tables: [table('public.orders'), table('public.items')] })).rule).toBe('public-reads');
    expect(decide([allowPublic], one({ tables: [table('public.orders'), table('secret.keys')] })).rule).toBe('default');
  });

  it('allow: a statement touching no table never matches a tables condition', () => {
    const d = decide([allowPublic], one({ tables: [], functions: [fn('pg_read_file')], text: "SELECT pg_read_file('/etc/passwd')" }));
    expect(d).toMatchObject({ effect: 'deny', rule: 'default' });
  });

  it('allow: an unqualified table is public.<name>, or pg_catalog.<name> when it starts with pg_', () => {
    expect(decide([allowPublic], one({ tables: [table('orders')] })).rule).toBe('public-reads');
    expect(decide([allowPublic], one({ tables: [table('pg_authid')] })).rule).toBe('default');
    const catalog = rule('catalog', 'allow', { sql: { tables: ['pg_catalog.pg_*'] } });
    expect(decide([catalog], one({ tables: [table('pg_class')] })).rule).toBe('catalog');
    expect(decide([catalog], one({ tables: [table('orders')] })).rule).toBe('default');
  });

  it('deny: any table matching is enough, and an unqualified name matches in any schema', () => {
    expect(decide([allowPublic, denySecret], one({ tables: [table('public.orders'), table('secret.keys')] })).rule).toBe('no-secret');
    expect(decide([allowPublic, denySecret], one({ tables: [table('public.orders')] })).rule).toBe('public-reads');
    const denyKeys = rule('no-keys', 'deny', { sql: { tables: ['secret.keys'] } });
    expect(decide([allowPublic, denyKeys], one({ tables: [table('keys')] })).rule).toBe('no-keys');
    expect(decide([allowPublic, denyKeys], one({ tables: [table('other.keys')] })).rule).toBe('default');
    // A table-less statement never matches a deny tables condition either.
    expect(decide([denySecret], one({ tables: [] }), { defaultEffect: 'allow' }).rule).toBe('default');
  });

  it('review rules use the deny (any-table) semantics', () => {
    const review = rule('orders-review', 'review', { sql: { tables: ['*.orders'] } });
    expect(decide([allowPublic, review], one({ tables: [table('public.items'), table('orders')] })).effect).toBe('review');
  });

  it('globs: * and ? within one side, case-sensitive, exact schema/name boundary', () => {
    const r = rule('r', 'allow', { sql: { tables: ['app.order_?', 'a*.log*'] } });
    expect(decide([r], one({ tables: [table('app.order_1')] })).rule).toBe('r');
    expect(decide([r], one({ tables: [table('app.order_12')] })).rule).toBe('default');
    expect(decide([r], one({ tables: [table('analytics.logs_2024')] })).rule).toBe('r');
    expect(decide([r], one({ tables: [table('App.order_1')] })).rule).toBe('default');
    // A quoted name containing a dot cannot shift the boundary.
    const deny = rule('d', 'deny', { sql: { tables: ['secret.*'] } });
    expect(decide([deny], one({ tables: [{ schema: 'secret', name: 'a.b', access: 'read' }] }), { defaultEffect: 'allow' }).rule).toBe('d');
    expect(decide([r], one({ tables: [{ schema: 'app.order_1', name: 'x', access: 'read' }] })).rule).toBe('default');
  });
});

describe('gate: function globs', () => {
  const allowCatalogFns = rule('catalog-fns', 'allow', { sql: { classes: ['read'], functions: ['pg_catalog.*'] } });
  const denyRead = rule('no-read-file', 'deny', { sql: { functions: ['*.pg_read_file'] } });

  it('allow: every function called must match, and at least one must be called; unqualified is pg_catalog', () => {
    expect(decide([allowCatalogFns], one({ functions: [fn('count'), fn('pg_catalog.now')] })).rule).toBe('catalog-fns');
    expect(decide([allowCatalogFns], one({ functions: [fn('count'), fn('public.evil')] })).rule).toBe('default');
    expect(decide([allowCatalogFns], one({ functions: [] })).rule).toBe('default');
  });

  it('deny: any function matching, in any schema when unqualified', () => {
    expect(decide([allowCatalogFns, denyRead], one({ functions: [fn('count'), fn('pg_read_file')] })).rule).toBe('no-read-file');
    expect(decide([allowCatalogFns, denyRead], one({ functions: [fn('pg_catalog.pg_read_file')] })).rule).toBe('no-read-file');
    const qualifiedDeny = rule('no-app-fn', 'deny', { sql: { functions: ['app.purge'] } });
    expect(decide([qualifiedDeny], one({ functions: [fn('purge')] }), { defaultEffect: 'allow' }).rule).toBe('no-app-fn');
    expect(decide([qualifiedDeny], one({ functions: [fn('other.purge')] }), { defaultEffect: 'allow' }).rule).toBe('default');
  });
});

describe('gate: fail-closed guards', () => {
  const allowAll = rule('allow-all', 'allow', {});
  const reads = rule('reads-ok', 'allow', { sql: { classes: ['read'] } });

  it('unknown statement class: denied even by default allow and a catch-all allow', () => {
    const facts = one({ kind: 'frobnicate', class: 'unknown', tables: [], text: 'FROBNICATE' });
    const d = decide([allowAll], facts, { defaultEffect: 'allow' });
    expect(d).toMatchObject({ effect: 'deny', rule: 'unknown-statement' });
    expect(d.reason).toBe(
      'Refused "FROBNICATE" by built-in rule "unknown-statement": Portcullis cannot tell what this statement (kind ' +
        '"frobnicate") would do, so it refuses it rather than guess. Use a statement of a known kind, or ask a ' +
        'Portcullis administrator to allow this kind explicitly.',
    );
    expect(decide([rule('unknown-ok', 'allow', { sql: { classes: ['unknown'] } })], facts)).toMatchObject({ effect: 'allow', rule: 'unknown-ok' });
  });

  it('dynamic SQL: a generic read allow cannot lift it; an explicit flags allow can; a deny still wins', () => {
    const facts = one({ flags: ['dynamic_sql'], functions: [fn('query_to_xml')], text: "SELECT query_to_xml('DELETE FROM t', true, true, '')" });
    const d = decide([reads, allowAll], facts);
    expect(d).toMatchObject({ effect: 'deny', rule: 'dynamic-sql' });
    expect(d.reason).toMatch(/^Refused "SELECT query_to_xml\(.*\)" by built-in rule "dynamic-sql": it executes SQL text built at run time/);
    const lift = rule('dyn-ok', 'allow', { sql: { flags: ['dynamic_sql'] } });
    expect(decide([lift], facts)).toMatchObject({ effect: 'allow', rule: 'dyn-ok' });
    const deny = rule('no-xml', 'deny', { sql: { functions: ['*.query_to_xml'] } });
    expect(decide([lift, deny], facts)).toMatchObject({ effect: 'deny', rule: 'no-xml' });
    // Without the lift, guard and deny rule both refuse it: the guard's precise reason is reported.
    expect(decide([deny], facts)).toMatchObject({ effect: 'deny', rule: 'dynamic-sql' });
    // A review rule does not lift a guard either.
    expect(decide([rule('dyn-review', 'review', { sql: { flags: ['dynamic_sql'] } })], facts).rule).toBe('dynamic-sql');
  });

  it('parse-relevant setting: denied unless named explicitly', () => {
    const facts = one({ kind: 'variable_set', class: 'session', tables: [], flags: ['parse_relevant_setting'], text: 'SET ROLE admin' });
    const sessionOk = rule('session-ok', 'allow', { sql: { classes: ['session'] } });
    const d = decide([sessionOk], facts, { defaultEffect: 'allow' });
    expect(d).toMatchObject({ effect: 'deny', rule: 'parse-relevant-setting' });
    expect(d.reason).toMatch(/which role runs them/);
    const lift = rule('set-role-ok', 'allow', { sql: { flags: ['parse_relevant_setting'] } });
    expect(decide([lift], facts).rule).toBe('set-role-ok');
  });

  it('each guard needs its own explicit lift', () => {
    const facts = one({ class: 'unknown', flags: ['dynamic_sql'] });
    const liftUnknown = rule('unknown-ok', 'allow', { sql: { classes: ['unknown'] } });
    const liftDynamic = rule('dyn-ok', 'allow', { sql: { flags: ['dynamic_sql'] } });
    expect(decide([liftUnknown], facts).rule).toBe('dynamic-sql');
    expect(decide([liftDynamic], facts).rule).toBe('unknown-statement');
    expect(decide([liftUnknown, liftDynamic], facts).effect).toBe('allow');
  });

  it('a lifting rule must match (its identity too)', () => {
    const facts = one({ flags: ['dynamic_sql'] });
    const forDbas = rule('dyn-dba', 'allow', { identity: { groups: ['dba'] }, sql: { flags: ['dynamic_sql'] } });
    expect(decide([forDbas], facts).rule).toBe('dynamic-sql');
    expect(decide([forDbas], facts, { who: { groups: ['agents', 'dba'] } }).rule).toBe('dyn-dba');
  });

  describe('unparseable input', () => {
    const rejected: SqlInspection = { ok: false, error: 'syntax error at or near "FORM"', position: 9 };

    it('is denied with the parser error, even by default allow and catch-all rules', () => {
      const d = decide([allowAll, reads], rejected, { defaultEffect: 'allow', text: 'SELECT * FORM t' });
      expect(d).toEqual({
        effect: 'deny',
        rule: 'unparseable-sql',
        reason:
          'Refused "SELECT * FORM t" by built-in rule "unparseable-sql": PostgreSQL\'s parser rejected it (syntax error ' +
          'at or near "FORM" at character 10), so Portcullis cannot tell what it would do. Fix the syntax and send it again.',
      });
    });

    it('an explicit unparseable allow lifts it; an unparseable deny wins and gives its reason', () => {
      const lift = rule('raw-ok', 'allow', { sql: { unparseable: true } });
      expect(decide([lift], rejected, { text: 'x' })).toMatchObject({ effect: 'allow', rule: 'raw-ok' });
      const deny = rule('no-raw', 'deny', { sql: { unparseable: true }, reason: 'Send valid SQL' });
      const d = decide([lift, deny], rejected, { text: 'x' });
      expect(d).toMatchObject({ effect: 'deny', rule: 'no-raw', reason: 'Refused "x" by rule "no-raw": Send valid SQL.' });
      // Rules without `unparseable: true` never match it (there are no facts), deny ones included.
      expect(decide([rule('deny-all', 'deny', {})], rejected, { text: 'x' }).rule).toBe('unparseable-sql');
    });

    it('rules with unparseable: true never match parsed statements', () => {
      expect(decide([rule('raw-ok', 'allow', { sql: { unparseable: true } })], one()).rule).toBe('default');
    });
  });
});

describe('gate: review', () => {
  it('is its own effect, with a reason that names the statement, the rule and why it needs approval', () => {
    const r = rule('writes-need-approval', 'review', { sql: { classes: ['write'] }, reason: 'Writes need a DBA' });
    const d = decide([r], one({ kind: 'update', class: 'write', text: 'UPDATE t SET a = 1 WHERE id = 2' }));
    expect(d).toMatchObject({ effect: 'review', rule: 'writes-need-approval', statementIndex: 0 });
    expect(d.reason).toBe('"UPDATE t SET a = 1 WHERE id = 2" needs human approval under rule "writes-need-approval": Writes need a DBA.');
  });
});

describe('gate: multi-statement operations', () => {
  const reads = rule('reads-ok', 'allow', { sql: { classes: ['read'] } });
  const writes = rule('no-writes', 'deny', { sql: { classes: ['write'] } });
  const ddl = rule('ddl-review', 'review', { sql: { classes: ['ddl'] } });
  const select = statement({ text: 'SELECT 1' });
  const del = statement({ kind: 'delete', class: 'write', text: 'DELETE FROM t' });
  const create = statement({ kind: 'create', class: 'ddl', text: 'CREATE TABLE x ()' });

  it('is denied if any statement is, reporting that statement', () => {
    const d = decide([reads, writes, ddl], parsed(select, create, del, select));
    expect(d).toMatchObject({ effect: 'deny', rule: 'no-writes', statementIndex: 2, facts: del });
    expect(d.reason).toBe('Refused statement 3 of 4, "DELETE FROM t", by rule "no-writes": no-writes says no.');
  });

  it('review beats allow; the first of equally restrictive statements is reported', () => {
    expect(decide([reads, writes, ddl], parsed(select, create, create))).toMatchObject({ effect: 'review', statementIndex: 1 });
    expect(decide([reads], parsed(select, select))).toMatchObject({ effect: 'allow', statementIndex: 0 });
    // A default deny on a later statement counts like any deny.
    expect(decide([reads], parsed(select, statement({ class: 'admin', text: 'CHECKPOINT' })))).toMatchObject({
      effect: 'deny',
      rule: 'default',
      statementIndex: 1,
    });
  });

  it('a guard in any statement denies the whole operation', () => {
    const unknown = statement({ class: 'unknown', kind: 'mystery', text: 'MYSTERY' });
    expect(decide([reads], parsed(select, unknown))).toMatchObject({ effect: 'deny', rule: 'unknown-statement', statementIndex: 1 });
  });

  it('an empty query (no statement) is allowed', () => {
    expect(decide([], parsed(), { text: '-- nothing' })).toEqual({
      effect: 'allow',
      rule: 'empty-query',
      reason: 'Allowed: the query contains no statement.',
    });
  });
});

describe('gate: connections', () => {
  it('each connection uses only its own rules and default', () => {
    const reads = rule('reads-ok', 'allow', { sql: { classes: ['read'] } });
    const gate = createGate([
      connection({ name: 'a', rules: [reads] }),
      connection({ name: 'b', rules: [], defaultEffect: 'deny' }),
    ]);
    expect(gate(identity(), sqlOp(one(), undefined, 'a')).effect).toBe('allow');
    const d = gate(identity(), sqlOp(one(), undefined, 'b'));
    expect(d).toMatchObject({ effect: 'deny', rule: 'default' });
    expect(d.reason).toContain('no rule of connection "b"');
  });
});

describe('gate: unqualified tables and the session search path', () => {
  const allowPublic = [rule('public-reads', 'allow', { sql: { classes: ['read'], tables: ['public.*'] } })];
  const onPath = (searchPath: readonly string[] | undefined, name: string): Decision => {
    const gate = createGate([connection({ rules: allowPublic, defaultEffect: 'deny' })]);
    const op = sqlOp(one({ class: 'read', tables: [table(name)] }));
    return gate(identity(), searchPath === undefined ? op : { ...op, searchPath });
  };

  it('resolves an unqualified name to public by default', () => {
    expect(onPath(undefined, 'orders').effect).toBe('allow');
    expect(onPath(['public'], 'orders').effect).toBe('allow');
  });

  it('requires every schema the name may resolve to be allowed ("$user" schema shadowing public)', () => {
    expect(onPath(['agent_rw', 'public'], 'orders')).toMatchObject({ effect: 'deny', rule: 'default' });
    expect(onPath(['agent_rw', 'public'], 'public.orders').effect).toBe('allow');
  });

  it('refuses an unqualified name when the search path is empty', () => {
    expect(onPath([], 'orders').effect).toBe('deny');
  });
});
