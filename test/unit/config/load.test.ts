import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, loadConfigWithSecrets } from '../../../src/config/load.js';
import type { Config } from '../../../src/config/types.js';
import { configError, FAKE_CA, FAKE_CERT, FAKE_KEY, issueAt, removeTempDirs, tempDir } from './support.js';

afterAll(removeTempDirs);

const FULL = `# every setting, explicitly
data_dir: ./.data
log: { level: debug }
identity:
  issuers:
    - issuer: http://127.0.0.1:9000
      audience: [portcullis, other]
      jwks_uri: https://keys.example/jwks.json
      groups_claim: roles
      algorithms: [RS256, ES256]
      clock_skew: 30s
      max_token_age: 1h
      strict_typ: true
    - issuer: https://example.okta.com/oauth2/default
      audience: api://portcullis
listen:
  postgres:
    address: "[::1]:6432"
    tls:
      mode: require
      cert_file: tls/cert.pem
      key_file: ./tls/key.pem
      allow_loopback_plaintext: false
    max_message_size: 1MiB
    token_expiry_grace: 5s
    auth_timeout: 10s
connections:
  - name: demo
    type: postgres
    target:
      host: 127.0.0.1
      port: 5433
      database: app
      user: agent_rw
      password: \${env:DEMO_DB_PASSWORD}
      tls: verify-full
      ca_file: ca.pem
      connect_timeout: 2s
    access:
      groups: [agents]
      subjects: [agent-1]
      clients: [ci]
  - name: reports_2
    type: postgres
    target:
      host: db-\${env:REGION}.internal
      database: reports
      user: reader
      password: \${file:secrets/reports-pw}
    access: { subjects: [analyst] }
`;

describe('loadConfig: a valid file', () => {
  it('produces the exact resolved Config', async () => {
    const dir = tempDir({
      'portcullis.yaml': FULL,
      'tls/cert.pem': FAKE_CERT,
      'tls/key.pem': FAKE_KEY,
      'ca.pem': FAKE_CA,
      'secrets/reports-pw': 'from-a-file\n',
    });
    const file = join(dir, 'portcullis.yaml');
    const config = await loadConfig(file, { env: { DEMO_DB_PASSWORD: 'from-env', REGION: 'eu' } });
    const expected: Config = {
      file,
      dataDir: join(dir, '.data'),
      log: { level: 'debug' },
      identity: {
        issuers: [
          {
            issuer: 'http://127.0.0.1:9000',
            audiences: ['portcullis', 'other'],
            jwksUri: 'https://keys.example/jwks.json',
            groupsClaim: 'roles',
            algorithms: ['RS256', 'ES256'],
            clockSkewMs: 30_000,
            maxTokenAgeMs: 3_600_000,
            strictTyp: true,
          },
          {
            issuer: 'https://example.okta.com/oauth2/default',
            audiences: ['api://portcullis'],
            jwksUri: undefined,
            groupsClaim: 'groups',
            algorithms: ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'],
            clockSkewMs: 60_000,
            maxTokenAgeMs: 86_400_000,
            strictTyp: false,
          },
        ],
      },
      postgres: {
        host: '::1',
        port: 6432,
        tls: { mode: 'require', cert: FAKE_CERT, key: FAKE_KEY, allowLoopbackPlaintext: false },
        maxMessageBytes: 1_048_576,
        tokenExpiryGraceMs: 5_000,
        authTimeoutMs: 10_000,
      },
      sql: { extraDangerousFunctions: [] },
      recording: { durability: 'process', writer: 'thread' },
      rules: [],
      masking: [],
      connections: [
        {
          name: 'demo',
          type: 'postgres',
          target: {
            host: '127.0.0.1',
            port: 5433,
            database: 'app',
            user: 'agent_rw',
            password: 'from-env',
            tls: 'verify-full',
            ca: FAKE_CA,
            connectTimeoutMs: 2_000,
          },
          access: { groups: ['agents'], subjects: ['agent-1'], clients: ['ci'] },
          rules: [],
          defaultEffect: 'deny',
          masking: [],
          recordResultRows: 0,
        },
        {
          name: 'reports_2',
          type: 'postgres',
          target: {
            host: 'db-eu.internal',
            port: 5432,
            database: 'reports',
            user: 'reader',
            password: 'from-a-file',
            tls: 'prefer',
            ca: undefined,
            connectTimeoutMs: 10_000,
          },
          access: { groups: [], subjects: ['analyst'], clients: [] },
          rules: [],
          defaultEffect: 'deny',
          masking: [],
          recordResultRows: 0,
        },
      ],
    };
    expect(config).toStrictEqual(expected);
  });

  it('applies defaults: data dir next to the file, listener defaults, TLS off without a cert', async () => {
    const dir = tempDir({ 'conf/p.yaml': 'listen: { postgres: {} }\n' });
    const config = await loadConfig(join(dir, 'conf/p.yaml'), { env: {} });
    expect(config.dataDir).toBe(join(dir, 'conf/.portcullis'));
    expect(config.log.level).toBe('info');
    expect(config.connections).toEqual([]);
    expect(config.postgres).toEqual({
      host: '127.0.0.1',
      port: 6432,
      tls: { mode: 'disable', cert: undefined, key: undefined, allowLoopbackPlaintext: true },
      maxMessageBytes: 16 * 1024 * 1024,
      tokenExpiryGraceMs: 0,
      authTimeoutMs: 15_000,
    });
  });

  it('defaults tls mode to "allow" when a certificate is given, and leaves postgres undefined without a listener', async () => {
    const dir = tempDir({
      'a.yaml': 'listen:\n  postgres:\n    tls: { cert_file: c.pem, key_file: k.pem }\n',
      'b.yaml': '',
      'c.pem': FAKE_CERT,
      'k.pem': FAKE_KEY,
    });
    expect((await loadConfig(join(dir, 'a.yaml'), { env: {} })).postgres?.tls).toEqual({
      mode: 'allow',
      cert: FAKE_CERT,
      key: FAKE_KEY,
      allowLoopbackPlaintext: true,
    });
    expect((await loadConfig(join(dir, 'b.yaml'), { env: {} })).postgres).toBeUndefined();
  });

  it('loads the minimal fixture and reports where secrets came from', async () => {
    const file = new URL('./fixtures/minimal.yaml', import.meta.url).pathname;
    const { config, secrets } = await loadConfigWithSecrets(file, { env: { DEMO_DB_PASSWORD: 'pw' } });
    expect(config.connections[0]?.target.password).toBe('pw');
    expect(config.connections[0]?.target.port).toBe(5432);
    expect([...secrets]).toEqual([['connections[0].target.password', [{ kind: 'env', ref: 'DEMO_DB_PASSWORD' }]]]);
  });

  it('turns $${ into a literal ${ without resolving it', async () => {
    const dir = tempDir({
      // (a replacer function: in a replacement string "$$" would itself mean "$")
      'p.yaml': MINIMAL.replace('password: ${env:DEMO_DB_PASSWORD}', () => 'password: "pa$${env:NOT_A_REF}ss"'),
    });
    const config = await loadConfig(join(dir, 'p.yaml'), { env: {} });
    expect(config.connections[0]?.target.password).toBe('pa${env:NOT_A_REF}ss');
  });
});

const MINIMAL = `identity:
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
`;

/** 1-based line of the first line containing `needle`. */
function lineOf(text: string, needle: string): number {
  const index = text.split('\n').findIndex((line) => line.includes(needle));
  if (index === -1) throw new Error(`"${needle}" not in text`);
  return index + 1;
}

async function errorFor(yaml: string, env: Record<string, string> = { DEMO_DB_PASSWORD: 'pw' }, files: Record<string, string> = {}): Promise<ConfigError> {
  const dir = tempDir({ 'portcullis.yaml': yaml, ...files });
  return configError(loadConfig(join(dir, 'portcullis.yaml'), { env }));
}

describe('loadConfig: every problem names its path and line', () => {
  it('YAML syntax error', async () => {
    const yaml = MINIMAL.replace('groups: [agents]', 'groups: [agents');
    const error = await errorFor(yaml);
    expect(error.issues.length).toBeGreaterThan(0);
    expect(error.issues[0]).toMatchObject({ path: '', message: expect.stringMatching(/^invalid YAML: /) });
    expect(error.issues[0]?.line).toBeGreaterThanOrEqual(lineOf(yaml, 'groups: [agents'));
  });

  it('duplicate keys are a syntax error', async () => {
    const yaml = MINIMAL.replace('      database: app\n', '      database: app\n      database: other\n');
    const error = await errorFor(yaml);
    expect(error.issues[0]).toMatchObject({ line: lineOf(yaml, 'database: other'), message: expect.stringMatching(/unique/) });
  });

  it('wrong type', async () => {
    const yaml = MINIMAL.replace('host: 127.0.0.1', 'host: 127.0.0.1\n      port: abc');
    const issue = issueAt(await errorFor(yaml), 'connections[0].target.port');
    expect(issue).toEqual({
      path: 'connections[0].target.port',
      line: lineOf(yaml, 'port: abc'),
      column: 13,
      message: 'expected integer 1–65535, got "abc"',
    });
  });

  it('out-of-range port', async () => {
    const yaml = MINIMAL.replace('host: 127.0.0.1', 'host: 127.0.0.1\n      port: 70000');
    expect(issueAt(await errorFor(yaml), 'connections[0].target.port')).toMatchObject({
      line: lineOf(yaml, 'port: 70000'),
      message: 'expected integer 1–65535, got 70000',
    });
  });

  it('unknown property, with a suggestion, located at the key', async () => {
    const yaml = MINIMAL.replace('password:', 'pasword:');
    expect(issueAt(await errorFor(yaml), 'connections[0].target.pasword')).toEqual({
      path: 'connections[0].target.pasword',
      line: lineOf(yaml, 'pasword'),
      column: 7,
      message: 'unknown property "pasword" (did you mean "password"?)',
    });
  });

  it('unknown property without a close match lists what is allowed', async () => {
    const yaml = `${MINIMAL}frobnicate: true\n`;
    expect(issueAt(await errorFor(yaml), 'frobnicate').message).toBe(
      'unknown property "frobnicate"; allowed here: data_dir, log, identity, listen, sql, recording, admin, notifications, rules, masking, connections',
    );
  });

  it('missing required property is located at its parent', async () => {
    const yaml = MINIMAL.replace('      database: app\n', '');
    expect(issueAt(await errorFor(yaml), 'connections[0].target.database')).toMatchObject({
      line: lineOf(yaml, 'target:'),
      message: 'missing required property "database"',
    });
  });

  it('bad duration says why', async () => {
    const yaml = MINIMAL.replace('audience: portcullis', 'audience: portcullis\n      clock_skew: 10x');
    expect(issueAt(await errorFor(yaml), 'identity.issuers[0].clock_skew')).toMatchObject({
      line: lineOf(yaml, 'clock_skew'),
      message: expect.stringMatching(/^expected a duration such as .*, got "10x": unknown unit "x"/),
    });
  });

  it('duration above its maximum', async () => {
    const yaml = MINIMAL.replace('audience: portcullis', 'audience: portcullis\n      clock_skew: 10m');
    expect(issueAt(await errorFor(yaml), 'identity.issuers[0].clock_skew')).toMatchObject({
      line: lineOf(yaml, 'clock_skew'),
      message: 'must be at most 5m, got "10m"',
    });
  });

  it('bad and out-of-range sizes', async () => {
    const bad = `${MINIMAL}listen:\n  postgres:\n    max_message_size: 5MB\n`;
    expect(issueAt(await errorFor(bad), 'listen.postgres.max_message_size')).toMatchObject({
      line: lineOf(bad, 'max_message_size'),
      message: expect.stringMatching(/unknown unit "MB"/),
    });
    const small = `${MINIMAL}listen:\n  postgres:\n    max_message_size: 1KiB\n`;
    expect(issueAt(await errorFor(small), 'listen.postgres.max_message_size').message).toBe(
      'must be between 8KiB and 1GiB, got "1KiB"',
    );
  });

  it('duplicate connection name', async () => {
    const second = MINIMAL.slice(MINIMAL.indexOf('  - name: demo'));
    const yaml = `${MINIMAL}${second}`;
    const lines = yaml.split('\n');
    const secondLine = lines.findIndex((line, i) => line.includes('- name: demo') && i > lineOf(yaml, '- name: demo')) + 1;
    expect(issueAt(await errorFor(yaml), 'connections[1].name')).toEqual({
      path: 'connections[1].name',
      line: secondLine,
      column: 11,
      message: 'duplicate connection name "demo" (already used at connections[0].name)',
    });
  });

  it('HS256 in algorithms', async () => {
    const yaml = MINIMAL.replace('audience: portcullis', 'audience: portcullis\n      algorithms: [RS256, HS256]');
    const issue = issueAt(await errorFor(yaml), 'identity.issuers[0].algorithms[1]');
    expect(issue.line).toBe(lineOf(yaml, 'HS256'));
    expect(issue.column).toBe(27);
    expect(issue.message).toMatch(/^"HS256" is a symmetric \(shared-secret\) algorithm and is never accepted/);
  });

  it('other schema errors in plain words', async () => {
    const yaml = MINIMAL.replace('audience: portcullis', 'audience: [portcullis, 5]\n      algorithms: [RS256, RS256]')
      .replace('      user: agent_rw\n', '      user: agent_rw\n      tls: verify_full\n')
      .replace('- name: demo', '- name: Demo');
    const error = await errorFor(yaml);
    expect(error.issues.map(({ path, message }) => [path, message])).toEqual([
      ['identity.issuers[0].audience[1]', 'expected a non-empty string, got 5'],
      ['identity.issuers[0].algorithms[1]', 'duplicate entry "RS256" (also item 0)'],
      ['connections[0].name', 'expected a name of 1–63 lowercase letters, digits, "_" or "-", starting with a letter or digit, got "Demo"'],
      ['connections[0].target.tls', 'expected one of "disable", "prefer", "require", "verify-full", got "verify_full" (did you mean "verify-full"?)'],
    ]);
  });

  it('"none" in algorithms', async () => {
    const yaml = MINIMAL.replace('audience: portcullis', 'audience: portcullis\n      algorithms: [none]');
    expect(issueAt(await errorFor(yaml), 'identity.issuers[0].algorithms[0]').message).toMatch(/^"none" \(unsigned tokens\)/);
  });

  it('empty access list', async () => {
    const yaml = MINIMAL.replace('      groups: [agents]\n', '      groups: []\n');
    expect(issueAt(await errorFor(yaml), 'connections[0].access')).toMatchObject({
      line: lineOf(yaml, 'groups: []'),
      message: 'connection "demo" has an empty access list: nobody could open it; add access.groups, access.subjects or access.clients',
    });
    const missing = MINIMAL.replace('    access:\n      groups: [agents]\n', '');
    expect(issueAt(await errorFor(missing), 'connections[0].access')).toMatchObject({
      line: lineOf(missing, '- name: demo'),
      message: expect.stringContaining('nobody could open it'),
    });
  });

  it('connections without any issuer', async () => {
    const yaml = MINIMAL.replace(/^identity:\n(?: {2,}.*\n)*/, 'identity: {}\n');
    expect(issueAt(await errorFor(yaml), 'identity.issuers')).toMatchObject({
      line: 1,
      message: expect.stringContaining('at least one issuer is required'),
    });
  });

  it('tls require without a certificate, and with a missing certificate file', async () => {
    const noCert = `${MINIMAL}listen:\n  postgres:\n    tls:\n      mode: require\n`;
    const error = await errorFor(noCert);
    expect(issueAt(error, 'listen.postgres.tls.cert_file')).toMatchObject({
      line: lineOf(noCert, 'tls:'),
      message: 'tls mode "require" needs a certificate and key: set cert_file and key_file',
    });
    expect(issueAt(error, 'listen.postgres.tls.key_file').line).toBe(lineOf(noCert, 'tls:'));

    const missingFile = `${MINIMAL}listen:\n  postgres:\n    tls:\n      mode: require\n      cert_file: ./tls/missing.pem\n      key_file: key.pem\n`;
    const dirError = await errorFor(missingFile, { DEMO_DB_PASSWORD: 'pw' }, { 'key.pem': FAKE_KEY });
    const issue = issueAt(dirError, 'listen.postgres.tls.cert_file');
    expect(issue.line).toBe(lineOf(missingFile, 'cert_file'));
    expect(issue.message).toMatch(/^cannot read certificate file "\.\/tls\/missing\.pem" \(\/.*\/tls\/missing\.pem\): file not found$/);
    expect(dirError.issues).toHaveLength(1);
  });

  it('a file that is not PEM', async () => {
    const yaml = `${MINIMAL}listen:\n  postgres:\n    tls: { cert_file: c.pem, key_file: c.pem }\n`;
    const error = await errorFor(yaml, { DEMO_DB_PASSWORD: 'pw' }, { 'c.pem': FAKE_CERT });
    expect(issueAt(error, 'listen.postgres.tls.key_file').message).toBe('"c.pem" does not contain a PEM private key (no "-----BEGIN …-----" block)');
  });

  it('ca_file without verify-full', async () => {
    const yaml = MINIMAL.replace('user: agent_rw', 'user: agent_rw\n      tls: require\n      ca_file: ca.pem');
    expect(issueAt(await errorFor(yaml), 'connections[0].target.ca_file').message).toMatch(/only used with tls "verify-full"/);
  });

  it('plain-http issuer off loopback and a bad listen address', async () => {
    const yaml = `${MINIMAL.replace('http://127.0.0.1:9000', 'http://idp.example')}listen:\n  postgres:\n    address: "::1:6432"\n`;
    const error = await errorFor(yaml);
    expect(issueAt(error, 'identity.issuers[0].issuer').message).toMatch(/expected an https:\/\/ URL/);
    expect(issueAt(error, 'listen.postgres.address').message).toMatch(/expected host:port .*got "::1:6432"/);
  });

  it('missing env var names the path and the variable, and no secret value', async () => {
    const yaml = `${MINIMAL}  - name: other
    type: postgres
    target:
      host: \${env:OTHER_HOST}
      database: app
      user: u
      password: literal-secret-in-file
    access: { groups: [agents] }
  - name: third
    type: postgres
    target:
      host: h
      database: app
      user: u
      password: \${file:pw.txt}
    access: { groups: [agents] }
`;
    const error = await errorFor(yaml, { OTHER_HOST: 'resolved-host-secret' }, { 'pw.txt': 'file-secret-value\n' });
    expect(error.issues).toEqual([
      {
        path: 'connections[0].target.password',
        line: lineOf(yaml, 'DEMO_DB_PASSWORD'),
        column: 17,
        message: 'environment variable DEMO_DB_PASSWORD is not set (referenced as ${env:DEMO_DB_PASSWORD})',
      },
    ]);
    for (const secret of ['resolved-host-secret', 'literal-secret-in-file', 'file-secret-value']) {
      expect(error.message).not.toContain(secret);
    }
  });

  it('a secret in a literal password is not echoed in a type error', async () => {
    const yaml = MINIMAL.replace('password: ${env:DEMO_DB_PASSWORD}', 'password: 123456789');
    const issue = issueAt(await errorFor(yaml), 'connections[0].target.password');
    expect(issue.message).toBe('expected a string, got an integer (value hidden)');
    expect(issue.message).not.toContain('123456789');
  });

  it('lists every issue in one error, in document order, as FILE:LINE:COL: PATH: MESSAGE', async () => {
    const yaml = MINIMAL.replace('audience: portcullis', 'audience: portcullis\n      clock_skew: soon')
      .replace('host: 127.0.0.1', 'host: 127.0.0.1\n      port: 0')
      .replace('password:', 'pasword:');
    const dir = tempDir({ 'p.yaml': yaml });
    const file = join(dir, 'p.yaml');
    const error = await configError(loadConfig(file, { env: {} }));
    expect(error.file).toBe(file);
    expect(error.issues.map((issue) => issue.path)).toEqual([
      'identity.issuers[0].clock_skew',
      'connections[0].target.port',
      'connections[0].target.pasword',
    ]);
    const lines = error.message.split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[1]).toBe(`${file}:${lineOf(yaml, 'port: 0')}:13: connections[0].target.port: expected integer 1–65535, got 0`);
    expect(lines[2]).toBe(`${file}:${lineOf(yaml, 'pasword')}:7: connections[0].target.pasword: unknown property "pasword" (did you mean "password"?)`);
  });

  it('an unreadable file is a ConfigError too', async () => {
    const missing = join(tempDir({}), 'nope.yaml');
    const error = await configError(loadConfig(missing));
    expect(error.issues).toEqual([{ path: '', message: `cannot read config file ${missing}: file not found` }]);
    expect(error.message).toBe(`${missing}: cannot read config file ${missing}: file not found`);
  });

  it('the top level must be a mapping', async () => {
    const error = await errorFor('- just\n- a list\n');
    expect(error.issues).toEqual([{ path: '', line: 1, column: 1, message: 'expected a mapping, got a list' }]);
  });
});
