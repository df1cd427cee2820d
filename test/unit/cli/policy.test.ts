import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import type { CliIo } from '../../../src/cli/command.js';
import { main } from '../../../src/cli/dispatch.js';
import { createPolicyCheckCommand, type SqlInspector } from '../../../src/cli/policy.js';
import type { SqlInspection, StatementFacts } from '../../../src/inspect/sql/facts.js';
import { removeTempDirs, tempDir } from '../config/support.js';

afterAll(removeTempDirs);
afterEach(() => {
  vi.unstubAllEnvs();
});

const EXAMPLE = fileURLToPath(new URL('../../../examples/portcullis.yaml', import.meta.url));
const never = new AbortController().signal;

function capture(): CliIo & { stdout: () => string; stderr: () => string } {
  const out: string[] = [];
  const err: string[] = [];
  return { out: (t) => void out.push(t), err: (t) => void err.push(t), stdout: () => out.join(''), stderr: () => err.join('') };
}

interface Result {
  readonly code: number;
  readonly json: { effect: string; rule: string; reason: string; statementIndex?: number; facts: SqlInspection } | undefined;
  readonly stderr: string;
}

async function check(args: string[]): Promise<Result> {
  const io = capture();
  const code = await main(['policy', 'check', ...args], io, never);
  const stdout = io.stdout();
  return { code, json: stdout === '' ? undefined : (JSON.parse(stdout) as Result['json']), stderr: io.stderr() };
}

const agent = (sql: string, config = EXAMPLE): string[] => ['--config', config, '--connection', 'demo', '--subject', 'agent-1', '--group', 'agents', '--sql', sql];

/** A config whose secrets are NOT set in the environment, with a review rule. */
const CONFIG = `identity:
  issuers:
    - issuer: http://127.0.0.1:9000
      audience: portcullis
connections:
  - name: demo
    type: postgres
    target:
      host: \${env:PC_POLICY_TEST_HOST}
      database: app
      user: agent_rw
      password: \${env:PC_POLICY_TEST_PASSWORD}
    access: { groups: [agents] }
    rules: [reads-ok, writes-need-approval, no-ddl]
rules:
  - name: reads-ok
    when: { sql: { class: [read] } }
    effect: allow
  - name: writes-need-approval
    when: { sql: { class: [write] } }
    effect: review
    reason: Writes need a DBA.
    review: { approvers: [dba] }
  - name: no-ddl
    when: { sql: { class: [ddl] } }
    effect: deny
    reason: No schema changes.
`;

describe('portcullis policy check (real inspector)', () => {
  it('exit 0 and the decision as JSON for an allowed statement', async () => {
    const r = await check(agent('SELECT * FROM orders'));
    expect(r.code).toBe(0);
    expect(r.json).toMatchObject({ effect: 'allow', rule: 'reads-ok', statementIndex: 0 });
    expect(r.json?.facts).toMatchObject({ ok: true, statements: [{ kind: 'select', class: 'read' }] });
  });

  it('exit 1 for a denied statement, naming the rule and the statement in the reason', async () => {
    const r = await check(agent('SELECT 1; DELETE FROM orders'));
    expect(r.code).toBe(1);
    expect(r.json).toMatchObject({ effect: 'deny', rule: 'no-writes', statementIndex: 1 });
    expect(r.json?.reason).toMatch(/^Refused statement 2 of 2, "DELETE FROM orders", by rule "no-writes": This connection is read-only/);
  });

  it('exit 1 for unparseable SQL, with the parser\'s facts', async () => {
    const r = await check(agent('SELEC 1'));
    expect(r.code).toBe(1);
    expect(r.json).toMatchObject({ effect: 'deny', rule: 'unparseable-sql', facts: { ok: false } });
    expect(r.json?.statementIndex).toBeUndefined();
  });

  it('exit 1 for an identity outside the access list', async () => {
    const r = await check(['--config', EXAMPLE, '--connection', 'demo', '--subject', 'x', '--group', 'contractors', '--sql', 'SELECT 1']);
    expect(r.code).toBe(1);
    expect(r.json).toMatchObject({ effect: 'deny', rule: 'access' });
  });

  it('exit 3 for review; needs no secrets: unset references are placeholders', async () => {
    vi.stubEnv('PC_POLICY_TEST_PASSWORD', undefined);
    vi.stubEnv('PC_POLICY_TEST_HOST', undefined);
    const file = join(tempDir({ 'p.yaml': CONFIG }), 'p.yaml');
    const r = await check(agent('UPDATE orders SET total = 0 WHERE id = 1', file));
    expect(r.code).toBe(3);
    expect(r.json).toMatchObject({ effect: 'review', rule: 'writes-need-approval' });
    expect(r.json?.reason).toMatch(/needs human approval under rule "writes-need-approval"/);
    expect((await check(agent('DROP TABLE orders', file))).code).toBe(1);
    expect((await check(agent('SELECT 1', file))).code).toBe(0);
  });

  it('the example policy needs no DEMO_DB_PASSWORD', async () => {
    vi.stubEnv('DEMO_DB_PASSWORD', undefined);
    expect((await check(agent('SELECT 1'))).code).toBe(0);
  });

  it('uses the config\'s extra dangerous functions', async () => {
    const file = join(
      tempDir({
        'p.yaml': `${CONFIG}sql:\n  extra_dangerous_functions:\n    - { name: purge_orders, class: ddl, reason: drops partitions }\n`,
      }),
      'p.yaml',
    );
    const r = await check(agent('SELECT purge_orders()', file));
    expect(r.json).toMatchObject({ effect: 'deny', rule: 'no-ddl' });
    expect(r.json?.facts).toMatchObject({ ok: true, statements: [{ class: 'ddl', flags: expect.arrayContaining(['dangerous_function']) }] });
  });
});

describe('portcullis policy check: usage and config errors exit 2', () => {
  it('missing required options', async () => {
    const r = await check(['--config', EXAMPLE, '--sql', 'SELECT 1']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('missing --connection, --subject');
    expect(r.json).toBeUndefined();
  });

  it('no config file', async () => {
    vi.stubEnv('PORTCULLIS_CONFIG', '');
    const r = await check(['--connection', 'demo', '--subject', 's', '--sql', 'SELECT 1']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('no config file');
  });

  it('an unknown connection lists the known ones', async () => {
    const r = await check(['--config', EXAMPLE, '--connection', 'prod', '--subject', 's', '--sql', 'SELECT 1']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('no connection "prod"');
    expect(r.stderr).toContain('connections: demo');
  });

  it('an invalid config prints every problem as FILE:LINE:COL: PATH: MESSAGE', async () => {
    const file = join(tempDir({ 'p.yaml': CONFIG.replace('[reads-ok, writes-need-approval, no-ddl]', '[reads-ok, no-dll]') }), 'p.yaml');
    const r = await check(agent('SELECT 1', file));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/p\.yaml:14:\d+: connections\[0\]\.rules\[1\]: unknown rule "no-dll" \(did you mean "no-ddl"\?\)/);
    expect(r.stderr).toContain('1 problem');
  });

  it('unknown options and stray arguments', async () => {
    expect((await check([...agent('SELECT 1'), '--gruop', 'x'])).code).toBe(2);
    expect((await check([...agent('SELECT 1'), 'extra'])).code).toBe(2);
  });
});

describe('portcullis policy check: help', () => {
  it('is listed in the top-level help and has full usage with examples', async () => {
    const top = capture();
    await main(['--help'], top, never);
    expect(top.stdout()).toContain('  policy check ');
    const io = capture();
    expect(await main(['policy', 'check', '--help'], io, never)).toBe(0);
    const usage = io.stdout();
    expect(usage).toMatch(/^Usage: portcullis policy check --connection NAME --subject SUB/);
    expect(usage).toContain('Exit status: 0 allowed; 1 denied; 3 needs review');
    expect(usage).toContain('$PORTCULLIS_CONFIG');
    expect(usage).toContain('Examples:');
    expect(usage).toContain('--sql "SELECT 1; DELETE FROM orders"');
  });
});

describe('portcullis policy check with a stand-in inspector (facts level)', () => {
  const statement = (over: Partial<StatementFacts>): StatementFacts => ({
    kind: 'select',
    class: 'read',
    tables: [],
    functions: [],
    flags: [],
    text: 'x',
    ...over,
  });
  const canned: Record<string, SqlInspection> = {
    read: { ok: true, statements: [statement({ text: 'read' })] },
    write: { ok: true, statements: [statement({ kind: 'update', class: 'write', text: 'write' })] },
    ddl: { ok: true, statements: [statement({ kind: 'drop', class: 'ddl', text: 'ddl' })] },
  };
  const seen: unknown[] = [];
  const inspector: SqlInspector = (text) => canned[text] ?? { ok: false, error: 'no canned facts', position: undefined };
  const command = createPolicyCheckCommand({
    loadInspector: (extra) => {
      seen.push(extra);
      return Promise.resolve(inspector);
    },
  });
  const file = (): string => join(tempDir({ 'p.yaml': CONFIG }), 'p.yaml');

  async function run(sql: string): Promise<{ code: number; out: string }> {
    const io = capture();
    const values = { config: file(), connection: 'demo', subject: 'agent-1', group: ['agents'], sql };
    const code = await command.run({ values, positionals: [] }, io, never);
    return { code, out: io.stdout() };
  }

  it.each([
    ['read', 0, 'allow'],
    ['write', 3, 'review'],
    ['ddl', 1, 'deny'],
    ['garbage', 1, 'deny'],
  ] as const)('%s → exit %i (%s)', async (sql, code, effect) => {
    const r = await run(sql);
    expect(r.code).toBe(code);
    const json = JSON.parse(r.out) as { effect: string; facts: SqlInspection };
    expect(json.effect).toBe(effect);
    expect(json.facts).toEqual(canned[sql] ?? { ok: false, error: 'no canned facts' });
    expect(seen.at(-1)).toEqual([]);
  });
});

describe('policy check: masking', () => {
  it('shows, per output column, which mask applies and why', async () => {
    const r = await check(agent('SELECT lower(email) AS l, full_name, card_number FROM customers'));
    expect(r.code).toBe(0);
    const masking = (r.json as unknown as { masking: { profiles: string[]; catalog: string; statements: Array<{ columns: unknown }> } }).masking;
    expect(masking.profiles).toEqual(['pii-for-agents']);
    expect(masking.catalog).toBe('none');
    expect(masking.statements[0]!.columns).toEqual([
      { position: 1, masked: true, strategy: 'redact', derived: true, source: 'public.customers.email', rule: expect.stringContaining('public.customers.email') },
      { position: 2, masked: false },
      { position: 3, masked: true, strategy: 'partial', derived: false, source: 'public.customers.card_number', rule: expect.stringContaining('card_number') },
    ]);
  });

  it('denies what the masking policy refuses, naming the rule', async () => {
    const r = await check(agent('DECLARE c CURSOR FOR SELECT email FROM customers'));
    expect(r.code).toBe(1);
    expect(r.json?.effect).toBe('deny');
    expect(r.json?.rule).toContain('public.customers.email');
    expect(r.json?.reason).toContain('email');
  });

  it('has no masking section for an identity no profile applies to', async () => {
    const r = await check(['--config', EXAMPLE, '--connection', 'demo', '--subject', 'x', '--group', 'auditors', '--sql', 'SELECT email FROM customers']);
    expect(r.json).not.toHaveProperty('masking');
  });
});
