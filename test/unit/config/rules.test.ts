import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig, loadConfigWithSecrets, type ConfigError } from '../../../src/config/load.js';
import type { RuleConfig } from '../../../src/config/types.js';
import { configError, issueAt, removeTempDirs, tempDir } from './support.js';

afterAll(removeTempDirs);

const BASE = `identity:
  issuers:
    - issuer: http://127.0.0.1:9000
      audience: portcullis
connections:
  - name: demo
    type: postgres
    target:
      host: 127.0.0.1
      database: app
      user: agent_rw
      password: \${env:DEMO_DB_PASSWORD}
    access:
      groups: [agents]
    rules: [reads-ok, no-ddl]
`;

const RULES = `rules:
  - name: reads-ok
    when:
      identity: { groups: [agents], subjects: [agent-1], clients: [ci] }
      sql:
        class: [read]
        kind: [select, variable_show]
        tables: ["public.*", "app.order_?"]
        functions: ["pg_catalog.*"]
        flags: [explain_analyze]
    effect: allow
  - name: no-ddl
    when: { sql: { class: [ddl, admin] } }
    effect: deny
    reason: "Schema changes are not allowed for agents."
  - name: writes-need-approval
    when: { sql: { class: [write] } }
    effect: review
    reason: Writes need a DBA.
    review: { approvers: [dba], min_approvals: 2, timeout: 10m, grant: 30m }
  - name: raw-ok
    when: { sql: { unparseable: true } }
    effect: allow
  - name: everything
    when: {}
    effect: deny
    reason: No.
`;

const ENV = { DEMO_DB_PASSWORD: 'pw' };

function lineOf(text: string, needle: string, from = 0): number {
  const index = text.split('\n').findIndex((line, i) => i >= from && line.includes(needle));
  if (index === -1) throw new Error(`"${needle}" not in text`);
  return index + 1;
}

async function load(yaml: string) {
  const dir = tempDir({ 'portcullis.yaml': yaml });
  return loadConfig(join(dir, 'portcullis.yaml'), { env: ENV });
}

async function errorFor(yaml: string): Promise<ConfigError> {
  const dir = tempDir({ 'portcullis.yaml': yaml });
  return configError(loadConfig(join(dir, 'portcullis.yaml'), { env: ENV }));
}

describe('rules: a valid policy', () => {
  it('builds every rule and resolves each connection\'s rule names, in its order', async () => {
    const config = await load(`${BASE.replace('[reads-ok, no-ddl]', '[no-ddl, reads-ok]\n    default: allow')}${RULES}`);
    const expected: RuleConfig[] = [
      {
        name: 'reads-ok',
        when: {
          identity: { groups: ['agents'], subjects: ['agent-1'], clients: ['ci'] },
          sql: {
            classes: ['read'],
            kinds: ['select', 'variable_show'],
            tables: ['public.*', 'app.order_?'],
            functions: ['pg_catalog.*'],
            flags: ['explain_analyze'],
            unparseable: false,
          },
        },
        effect: 'allow',
        reason: undefined,
        review: undefined,
      },
      {
        name: 'no-ddl',
        when: {
          identity: undefined,
          sql: { classes: ['ddl', 'admin'], kinds: undefined, tables: undefined, functions: undefined, flags: undefined, unparseable: false },
        },
        effect: 'deny',
        reason: 'Schema changes are not allowed for agents.',
        review: undefined,
      },
      {
        name: 'writes-need-approval',
        when: {
          identity: undefined,
          sql: { classes: ['write'], kinds: undefined, tables: undefined, functions: undefined, flags: undefined, unparseable: false },
        },
        effect: 'review',
        reason: 'Writes need a DBA.',
        review: { approvers: ['dba'], minApprovals: 2, timeoutMs: 600_000, grant: { kind: 'window', durationMs: 1_800_000 } },
      },
      {
        name: 'raw-ok',
        when: {
          identity: undefined,
          sql: { classes: undefined, kinds: undefined, tables: undefined, functions: undefined, flags: undefined, unparseable: true },
        },
        effect: 'allow',
        reason: undefined,
        review: undefined,
      },
      { name: 'everything', when: { identity: undefined, sql: undefined }, effect: 'deny', reason: 'No.', review: undefined },
    ];
    expect(config.rules).toStrictEqual(expected);
    const [demo] = config.connections;
    expect(demo?.rules.map((r) => r.name)).toEqual(['no-ddl', 'reads-ok']);
    expect(demo?.rules[0]).toBe(config.rules[1]);
    expect(demo?.defaultEffect).toBe('allow');
  });

  it('defaults: no rules, default deny; review defaults to one approval, 5m, once', async () => {
    const config = await load(BASE.replace('    rules: [reads-ok, no-ddl]\n', ''));
    expect(config.rules).toEqual([]);
    expect(config.connections[0]?.rules).toEqual([]);
    expect(config.connections[0]?.defaultEffect).toBe('deny');
    expect(config.sql).toEqual({ extraDangerousFunctions: [] });
    const review = await load(
      `${BASE.replace('[reads-ok, no-ddl]', '[r]')}rules:\n  - name: r\n    when: {}\n    effect: review\n    reason: Ask.\n    review: { approvers: [dba] }\n`,
    );
    expect(review.rules[0]?.review).toEqual({ approvers: ['dba'], minApprovals: 1, timeoutMs: 300_000, grant: { kind: 'once', ttlMs: 900_000 } });
  });

  it('does not resolve secret references in rules: a reason is shown to agents', async () => {
    const yaml = `${BASE.replace('[reads-ok, no-ddl]', '[r]')}rules:\n  - name: r\n    when: {}\n    effect: deny\n    reason: "Token \${env:DEMO_DB_PASSWORD} and $\${x}"\n`;
    const config = await load(yaml);
    expect(config.rules[0]?.reason).toBe('Token ${env:DEMO_DB_PASSWORD} and $${x}');
  });

  it('extra dangerous functions', async () => {
    const yaml = `${BASE}${RULES}sql:\n  extra_dangerous_functions:\n    - { name: purge_orders, class: write, reason: deletes old orders }\n    - { name: "Mixed$Case", class: admin, reason: x, dynamic_sql: true }\n`;
    expect((await load(yaml)).sql.extraDangerousFunctions).toEqual([
      { name: 'purge_orders', class: 'write', reason: 'deletes old orders', dynamicSql: false },
      { name: 'Mixed$Case', class: 'admin', reason: 'x', dynamicSql: true },
    ]);
  });
});

describe('rules: every problem names its path and line', () => {
  it('a connection referencing an unknown rule', async () => {
    const yaml = `${BASE.replace('[reads-ok, no-ddl]', '[reads-ok, no-dll, nope]')}${RULES}`;
    const error = await errorFor(yaml);
    expect(issueAt(error, 'connections[0].rules[1]')).toEqual({
      path: 'connections[0].rules[1]',
      line: lineOf(yaml, 'no-dll'),
      column: 23,
      message: 'unknown rule "no-dll" (did you mean "no-ddl"?)',
    });
    expect(issueAt(error, 'connections[0].rules[2]').message).toBe(
      'unknown rule "nope"; defined rules: reads-ok, no-ddl, writes-need-approval, raw-ok, everything',
    );
    expect(error.message).toContain(`portcullis.yaml:${lineOf(yaml, 'no-dll')}:23: connections[0].rules[1]: unknown rule "no-dll"`);
    const none = await errorFor(BASE);
    expect(issueAt(none, 'connections[0].rules[0]').message).toBe(
      'unknown rule "reads-ok"; no rules are defined (add them under the top-level "rules")',
    );
  });

  it('a rule listed twice on a connection', async () => {
    const yaml = `${BASE.replace('[reads-ok, no-ddl]', '[reads-ok, reads-ok]')}${RULES}`;
    expect(issueAt(await errorFor(yaml), 'connections[0].rules[1]').message).toBe('duplicate entry "reads-ok" (also item 0)');
  });

  it('duplicate rule names', async () => {
    const yaml = `${BASE}${RULES}  - name: no-ddl\n    when: {}\n    effect: allow\n`;
    const issue = issueAt(await errorFor(yaml), 'rules[5].name');
    expect(issue).toMatchObject({
      line: lineOf(yaml, '- name: no-ddl', lineOf(yaml, '- name: everything')),
      message: 'duplicate rule name "no-ddl" (already used at rules[1].name)',
    });
  });

  it('deny or review without a reason, located at the rule', async () => {
    const yaml = `${BASE}${RULES.replace('    reason: "Schema changes are not allowed for agents."\n', '')}`;
    expect(issueAt(await errorFor(yaml), 'rules[1].reason')).toMatchObject({
      line: lineOf(yaml, '- name: no-ddl'),
      message: expect.stringMatching(/^rule "no-ddl" has effect "deny" but no reason: the reason is what the agent is told/),
    });
  });

  it('bad globs, kinds and names', async () => {
    const yaml = `${BASE}${RULES.replace('["public.*", "app.order_?"]', '["orders", "a.b.c", "public.\\"Orders\\""]')
      .replace('[select, variable_show]', '[Select]')
      .replace('["pg_catalog.*"]', '["pg_read_file"]')
      .replace('name: everything', 'name: Everything')}`;
    const error = await errorFor(yaml);
    const glob = 'expected a glob "schema.name" such as "public.*" or "*.orders" ("*" any characters, "?" one; no quotes, spaces, brackets or further dots)';
    expect(issueAt(error, 'rules[0].when.sql.tables[0]')).toMatchObject({ line: lineOf(yaml, 'tables:'), message: `${glob}, got "orders"` });
    expect(issueAt(error, 'rules[0].when.sql.tables[1]').message).toBe(`${glob}, got "a.b.c"`);
    expect(issueAt(error, 'rules[0].when.sql.tables[2]').message).toBe(`${glob}, got "public.\\"Orders\\""`);
    expect(issueAt(error, 'rules[0].when.sql.functions[0]').message).toBe(`${glob}, got "pg_read_file"`);
    expect(issueAt(error, 'rules[0].when.sql.kind[0]').message).toBe(
      'expected a statement kind in snake case, such as "select", "insert" or "create_table_as", got "Select"',
    );
    expect(issueAt(error, 'rules[4].name').message).toMatch(/^expected a name of 1–63 lowercase letters/);
  });

  it('unknown class, flag and effect, with suggestions', async () => {
    const yaml = `${BASE}${RULES.replace('class: [read]', 'class: [reads]').replace('[explain_analyze]', '[dynamic-sql]').replace('effect: allow', 'effect: permit')}`;
    const error = await errorFor(yaml);
    expect(issueAt(error, 'rules[0].when.sql.class[0]')).toMatchObject({
      line: lineOf(yaml, 'class: [reads]'),
      message: 'expected one of "read", "write", "ddl", "admin", "transaction", "session", "unknown", got "reads" (did you mean "read"?)',
    });
    expect(issueAt(error, 'rules[0].when.sql.flags[0]').message).toMatch(/^expected one of "update_without_where", .*got "dynamic-sql" \(did you mean "dynamic_sql"\?\)$/);
    expect(issueAt(error, 'rules[0].effect').message).toBe('expected one of "allow", "deny", "review", got "permit"');
  });

  it('empty condition lists and unknown condition keys', async () => {
    const yaml = `${BASE}${RULES.replace('class: [ddl, admin]', 'class: []').replace('identity: { groups: [agents]', 'identity: { group: [agents]')}`;
    const error = await errorFor(yaml);
    expect(issueAt(error, 'rules[1].when.sql.class').message).toBe('expected a non-empty list, got an empty list');
    expect(issueAt(error, 'rules[0].when.identity.group').message).toBe('unknown property "group" (did you mean "groups"?)');
  });

  it('review settings: required for review, refused elsewhere, and validated', async () => {
    const missing = `${BASE}${RULES.replace('    review: { approvers: [dba], min_approvals: 2, timeout: 10m, grant: 30m }\n', '')}`;
    expect(issueAt(await errorFor(missing), 'rules[2].review')).toMatchObject({
      line: lineOf(missing, '- name: writes-need-approval'),
      message: 'rule "writes-need-approval" has effect "review" but no review settings: add review: { approvers: [GROUP] }',
    });
    const misplaced = `${BASE}${RULES.replace('    reason: No.\n', '    reason: No.\n    review: { approvers: [dba] }\n')}`;
    expect(issueAt(await errorFor(misplaced), 'rules[4].review')).toMatchObject({
      line: lineOf(misplaced, 'review: { approvers: [dba] }'),
      message: 'review settings only apply to effect "review", but rule "everything" has effect "deny": remove review or set effect: review',
    });
    const bad = `${BASE}${RULES.replace('{ approvers: [dba], min_approvals: 2, timeout: 10m, grant: 30m }', '{ approvers: [], min_approvals: 0, timeout: 2d, grant: forever }')}`;
    const error = await errorFor(bad);
    expect(issueAt(error, 'rules[2].review.approvers').message).toBe('expected a non-empty list, got an empty list');
    expect(issueAt(error, 'rules[2].review.min_approvals').message).toBe('expected integer 1–10, got 0');
    expect(issueAt(error, 'rules[2].review.grant').message).toMatch(/^expected "once" or a duration such as "30m" \(at most 24h\), got "forever": unexpected "forever"/);
    const long = `${BASE}${RULES.replace('timeout: 10m', 'timeout: 2d')}`;
    expect(issueAt(await errorFor(long), 'rules[2].review.timeout')).toMatchObject({
      line: lineOf(long, 'timeout: 2d'),
      message: 'must be at most 1d, got "2d"',
    });
  });

  it('unparseable: true cannot be combined with other sql conditions; false is not a value', async () => {
    const yaml = `${BASE}${RULES.replace('{ sql: { unparseable: true } }', '{ sql: { unparseable: true, class: [read] } }')}`;
    expect(issueAt(await errorFor(yaml), 'rules[3].when.sql.unparseable').message).toMatch(
      /^unparseable: true cannot be combined with class: input the parser rejects has no facts to match/,
    );
    const no = `${BASE}${RULES.replace('unparseable: true', 'unparseable: false')}`;
    expect(issueAt(await errorFor(no), 'rules[3].when.sql.unparseable').message).toBe('expected true, got false');
  });

  it('reserved names of built-in decisions', async () => {
    const yaml = `${BASE}${RULES.replace('name: everything', 'name: default')}`;
    expect(issueAt(await errorFor(yaml), 'rules[4].name').message).toMatch(/^"default" is reserved for a built-in decision \(access, /);
  });

  it('a missing when, and a bad default', async () => {
    const yaml = `${BASE.replace('[reads-ok, no-ddl]', '[reads-ok]\n    default: review')}${RULES.replace(
      '    when: {}\n',
      '',
    )}`;
    const error = await errorFor(yaml);
    expect(issueAt(error, 'rules[4].when').message).toBe('missing required property "when"');
    expect(issueAt(error, 'connections[0].default').message).toBe('expected one of "allow", "deny", got "review"');
  });

  it('extra dangerous functions: class, name and duplicates', async () => {
    const yaml = `${BASE}${RULES}sql:\n  extra_dangerous_functions:\n    - { name: app.purge, class: read, reason: x }\n    - { name: f, class: write, reason: x }\n    - { name: f, class: admin, reason: y }\n`;
    const error = await errorFor(yaml);
    expect(issueAt(error, 'sql.extra_dangerous_functions[0].name').message).toBe(
      'expected a function name without schema or quotes, such as "my_admin_fn", got "app.purge"',
    );
    expect(issueAt(error, 'sql.extra_dangerous_functions[0].class').message).toBe(
      'expected one of "write", "ddl", "admin", "session", got "read"',
    );
    // Schema errors stop the load before the semantic checks; check duplicates on their own.
    const dup = `${BASE}${RULES}sql:\n  extra_dangerous_functions:\n    - { name: f, class: write, reason: x }\n    - { name: F, class: admin, reason: y }\n`;
    expect(issueAt(await errorFor(dup), 'sql.extra_dangerous_functions[1].name')).toMatchObject({
      line: lineOf(dup, 'class: admin'),
      message: 'duplicate function "F" (already listed at sql.extra_dangerous_functions[0].name)',
    });
  });
});

describe('loading for a policy check: unavailable secrets become placeholders', () => {
  const yaml = `${BASE.replace('host: 127.0.0.1\n', 'host: \${env:DB_HOST}\n')}${RULES}listen:
  postgres:
    address: \${env:LISTEN}
    tls: { mode: require, cert_file: missing.pem, key_file: "\${file:missing-key-path}" }
`;

  it('fails normally, naming every unavailable secret', async () => {
    const dir = tempDir({ 'portcullis.yaml': yaml });
    const error = await configError(loadConfig(join(dir, 'portcullis.yaml'), { env: {} }));
    expect(error.issues.map((i) => i.path)).toEqual(
      expect.arrayContaining(['connections[0].target.host', 'connections[0].target.password', 'listen.postgres.address']),
    );
  });

  it('loads with placeholders, keeping the policy intact and secrets unread', async () => {
    const dir = tempDir({ 'portcullis.yaml': yaml });
    const { config, secrets } = await loadConfigWithSecrets(join(dir, 'portcullis.yaml'), { env: {}, unavailableSecrets: 'placeholder' });
    expect(config.connections[0]?.target.password).toBe('<unresolved env:DEMO_DB_PASSWORD>');
    expect(config.connections[0]?.target.host).toBe('<unresolved env:DB_HOST>');
    expect(config.postgres?.tls.cert).toBeUndefined();
    expect(config.postgres?.tls.key).toBeUndefined();
    expect(config.connections[0]?.rules.map((r) => r.name)).toEqual(['reads-ok', 'no-ddl']);
    expect(secrets.get('connections[0].target.password')).toEqual([{ kind: 'env', ref: 'DEMO_DB_PASSWORD' }]);
    // Set secrets are still resolved.
    const withEnv = await loadConfig(join(dir, 'portcullis.yaml'), { env: { DB_HOST: 'db' }, unavailableSecrets: 'placeholder' });
    expect(withEnv.connections[0]?.target.host).toBe('db');
  });

  it('still reports malformed references and policy errors', async () => {
    const dir = tempDir({ 'portcullis.yaml': `${yaml.replace('${env:DB_HOST}', '${vault:x}')}`.replace('[reads-ok, no-ddl]', '[nope]') });
    const error = await configError(loadConfig(join(dir, 'portcullis.yaml'), { env: {}, unavailableSecrets: 'placeholder' }));
    expect(error.issues.map((i) => i.path)).toEqual(['connections[0].target.host', 'connections[0].rules[0]']);
  });
});

describe('examples/portcullis.yaml', () => {
  const file = fileURLToPath(new URL('../../../examples/portcullis.yaml', import.meta.url));

  it('loads, with a read-only policy for agents on "demo"', async () => {
    const env = {
      DEMO_DB_PASSWORD: 'pw',
      DEMO_SSH_USER: 'demo',
      DEMO_SSH_KEY: '-----BEGIN OPENSSH PRIVATE KEY-----\nx\n-----END OPENSSH PRIVATE KEY-----',
      DEMO_SSH_HOST_KEY: 'SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8',
    };
    const config = await loadConfig(file, { env });
    const demo = config.connections.find((c) => c.name === 'demo');
    const ssh = config.connections.find((c) => c.name === 'demo-ssh');
    expect(ssh).toMatchObject({ type: 'ssh', defaultEffect: 'deny', target: { hostKeys: [env.DEMO_SSH_HOST_KEY] } });
    expect(ssh?.rules.find((r) => r.name === 'shell-no-deletes')).toMatchObject({ effect: 'deny', when: { shell: { programs: ['rm', 'shred', 'unlink', 'dd'] } } });
    expect(demo?.defaultEffect).toBe('deny');
    const byName = new Map(demo?.rules.map((r) => [r.name, r]));
    expect([...byName.keys()].sort()).toEqual(
      ['no-admin', 'no-dangerous-functions', 'no-ddl', 'no-session-changes', 'no-writes', 'reads-ok', 'transactions-ok'].sort(),
    );
    expect(byName.get('reads-ok')).toMatchObject({ effect: 'allow', when: { identity: { groups: ['agents'] }, sql: { classes: ['read'] } } });
    expect(byName.get('transactions-ok')).toMatchObject({ effect: 'allow', when: { sql: { classes: ['transaction'] } } });
    for (const [name, cls] of [['no-writes', 'write'], ['no-ddl', 'ddl'], ['no-admin', 'admin'], ['no-session-changes', 'session']] as const) {
      expect(byName.get(name), name).toMatchObject({ effect: 'deny', when: { sql: { classes: [cls] } } });
      expect(byName.get(name)?.reason, name).toMatch(/Ask|Run/);
    }
    expect(byName.get('no-writes')?.reason).toMatch(/^This connection is read-only for agents: INSERT\/UPDATE\/DELETE/);
  });

  it('loads without the demo secret for a policy check', async () => {
    const config = await loadConfig(file, { env: {}, unavailableSecrets: 'placeholder' });
    expect(config.connections[0]?.rules).toHaveLength(7);
  });
});
