import { join } from 'node:path';
import { Ajv } from 'ajv';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { ExitCode, type CliArgs, type CliIo } from '../../../src/cli/command.js';
import { configCheckCommand, configSchemaCommand } from '../../../src/cli/config.js';
import { removeTempDirs, tempDir } from './support.js';

afterAll(removeTempDirs);
afterEach(() => {
  vi.unstubAllEnvs();
});

interface CapturedIo extends CliIo {
  readonly stdout: () => string;
  readonly stderr: () => string;
}

function captureIo(): CapturedIo {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out: (text) => void out.push(text),
    err: (text) => void err.push(text),
    stdout: () => out.join(''),
    stderr: () => err.join(''),
  };
}

function args(values: CliArgs['values'], positionals: string[] = []): CliArgs {
  return { values, positionals };
}

const never = new AbortController().signal;

const CONFIG = `identity:
  issuers:
    - issuer: http://127.0.0.1:9000
      audience: portcullis
listen:
  postgres:
    address: 127.0.0.1:6432
connections:
  - name: demo
    type: postgres
    target:
      host: 127.0.0.1
      database: app
      user: agent_rw
      password: \${env:PC_TEST_DB_PASSWORD}
    access: { groups: [agents] }
  - name: files
    type: postgres
    target:
      host: \${env:PC_TEST_HOST}
      database: app
      user: \${file:user.txt}
      password: literal-password-in-file
    access: { subjects: [alice, bob] }
`;

describe('config check', () => {
  it('prints OK with a summary that never contains a secret value', async () => {
    vi.stubEnv('PC_TEST_DB_PASSWORD', 'env-password-value');
    vi.stubEnv('PC_TEST_HOST', 'secret-host-value');
    const dir = tempDir({ 'p.yaml': CONFIG, 'user.txt': 'secret-user-value\n' });
    const file = join(dir, 'p.yaml');
    const io = captureIo();
    expect(await configCheckCommand.run(args({}, [file]), io, never)).toBe(ExitCode.ok);
    const out = io.stdout();
    expect(io.stderr()).toBe('');
    expect(out.split('\n')[0]).toBe(`${file}: OK — 2 connections, 1 issuer`);
    expect(out).toContain('password: <secret from env:PC_TEST_DB_PASSWORD>');
    expect(out).toContain('host <secret from env:PC_TEST_HOST>');
    expect(out).toContain('user <secret from file:user.txt>');
    expect(out).toContain('password: <literal in the config file');
    expect(out).toContain('listen.postgres: 127.0.0.1:6432');
    expect(out).toContain('access: groups (none); subjects alice, bob; clients (none)');
    for (const secret of ['env-password-value', 'secret-host-value', 'secret-user-value', 'literal-password-in-file']) {
      expect(out).not.toContain(secret);
    }
  });

  it('summarizes the admin API, notifications (names only: their URLs and secrets are never printed) and access approvals', async () => {
    vi.stubEnv('PC_TEST_DB_PASSWORD', 'env-password-value');
    vi.stubEnv('PC_TEST_HOST', 'secret-host-value');
    vi.stubEnv('PC_TEST_HOOK_SECRET', 'hook-secret-value-long-enough');
    const extra = CONFIG.replace(
      '    access: { groups: [agents] }\n',
      '    access:\n      groups: [agents]\n      require_approval: { approvers: [dba], timeout: 30m }\n',
    ) +
      'admin:\n  listen: 127.0.0.1:6480\n  auditors: [auditors]\n' +
      'notifications:\n  webhooks:\n    - name: ops\n      url: https://hooks.example.com/p/token-in-url\n      secret: ${env:PC_TEST_HOOK_SECRET}\n      events: [requested, approved]\n';
    const dir = tempDir({ 'p.yaml': extra, 'user.txt': 'secret-user-value\n' });
    const io = captureIo();
    expect(await configCheckCommand.run(args({}, [join(dir, 'p.yaml')]), io, never)).toBe(ExitCode.ok);
    const out = io.stdout();
    expect(out).toContain('admin: 127.0.0.1:6480 (plain HTTP)\n  auditors: auditors; admins: (none)\n');
    expect(out).toContain('notify webhook ops: events requested, approved\n');
    expect(out).toContain('  require_approval: approvers dba, min_approvals 1, timeout 30m, max_duration 8h\n');
    for (const secret of ['token-in-url', 'hook-secret-value-long-enough']) expect(out).not.toContain(secret);
  });

  it('summarizes masking profiles and what connections record, never printing the hash key', async () => {
    vi.stubEnv('PC_TEST_DB_PASSWORD', 'env-password-value');
    vi.stubEnv('PC_TEST_HOST', 'secret-host-value');
    vi.stubEnv('PC_TEST_MASK_KEY', 'mask-key-value-0123456789');
    const extra =
      CONFIG.replace('    access: { groups: [agents] }\n', '    access: { groups: [agents] }\n    masking: [pii]\n    record: { result_rows: 10 }\n') +
      'masking:\n  - name: pii\n    for: { groups: [agents] }\n    columns: { "*.*.ssn": hash }\n    hash_key: ${env:PC_TEST_MASK_KEY}\n';
    const dir = tempDir({ 'p.yaml': extra, 'user.txt': 'secret-user-value\n' });
    const io = captureIo();
    expect(await configCheckCommand.run(args({}, [join(dir, 'p.yaml')]), io, never)).toBe(ExitCode.ok);
    const out = io.stdout();
    expect(out).toContain('  masking: pii\n  record: first 10 result rows of each statement (masked)\n');
    expect(out).toContain('masking profile pii: for groups agents; detectors default; strategy redact\n  columns: *.*.ssn hash\n');
    expect(out).toContain('hash_key: <secret from env:PC_TEST_MASK_KEY>');
    expect(out).not.toContain('mask-key-value');
  });

  it('accepts --config, and PORTCULLIS_CONFIG when no file is given', async () => {
    vi.stubEnv('PC_TEST_DB_PASSWORD', 'x');
    vi.stubEnv('PC_TEST_HOST', 'h');
    const dir = tempDir({ 'p.yaml': CONFIG, 'user.txt': 'u' });
    const file = join(dir, 'p.yaml');
    const io = captureIo();
    expect(await configCheckCommand.run(args({ config: file }), io, never)).toBe(ExitCode.ok);
    vi.stubEnv('PORTCULLIS_CONFIG', file);
    expect(await configCheckCommand.run(args({}), io, never)).toBe(ExitCode.ok);
  });

  it('prints every issue to stderr and exits with failure, without leaking secrets', async () => {
    vi.stubEnv('PC_TEST_HOST', 'secret-host-value');
    const broken = CONFIG.replace('host: 127.0.0.1', 'host: 127.0.0.1\n      port: 0').replace('database: app', 'databse: app');
    const dir = tempDir({ 'p.yaml': broken, 'user.txt': 'secret-user-value' });
    const file = join(dir, 'p.yaml');
    const io = captureIo();
    expect(await configCheckCommand.run(args({}, [file]), io, never)).toBe(ExitCode.failure);
    expect(io.stdout()).toBe('');
    const err = io.stderr();
    expect(err).toContain(`${file}:13:13: connections[0].target.port: expected integer 1–65535, got 0\n`);
    expect(err).toContain(`${file}:14:7: connections[0].target.databse: unknown property "databse" (did you mean "database"?)\n`);
    expect(err).toContain(`${file}:11:5: connections[0].target.database: missing required property "database"\n`);
    expect(err.trimEnd().split('\n').at(-1)).toBe(`${file}: 3 problems`);

    const second = captureIo();
    const missingEnv = tempDir({ 'p.yaml': CONFIG, 'user.txt': 'secret-user-value' });
    expect(await configCheckCommand.run(args({}, [join(missingEnv, 'p.yaml')]), second, never)).toBe(ExitCode.failure);
    expect(second.stderr()).toContain('connections[0].target.password: environment variable PC_TEST_DB_PASSWORD is not set');
    for (const secret of ['secret-host-value', 'secret-user-value', 'literal-password-in-file']) {
      expect(second.stderr()).not.toContain(secret);
    }
  });

  it('reports a missing file as a failure, and bad usage as a usage error', async () => {
    const io = captureIo();
    const missing = join(tempDir({}), 'nope.yaml');
    expect(await configCheckCommand.run(args({}, [missing]), io, never)).toBe(ExitCode.failure);
    expect(io.stderr()).toContain('file not found');
    vi.stubEnv('PORTCULLIS_CONFIG', '');
    expect(await configCheckCommand.run(args({}), captureIo(), never)).toBe(ExitCode.usage);
    expect(await configCheckCommand.run(args({ config: 'a.yaml' }, ['b.yaml']), captureIo(), never)).toBe(ExitCode.usage);
  });

  it('has a usage text with examples', () => {
    expect(configCheckCommand.name).toBe('config check');
    expect(configCheckCommand.usage).toMatch(/^Usage: portcullis config check/);
    expect(configCheckCommand.usage).toContain('Examples:');
    expect(configCheckCommand.usage).toContain('$PORTCULLIS_CONFIG');
  });
});

describe('config schema', () => {
  it('prints the JSON Schema, 2-space indented, usable by Ajv', async () => {
    const io = captureIo();
    expect(await configSchemaCommand.run(args({}), io, never)).toBe(ExitCode.ok);
    const text = io.stdout();
    expect(text).toMatch(/^\{\n {2}"\$schema": /);
    const schema = JSON.parse(text) as object;
    expect(() => new Ajv({ strict: true }).compile(schema)).not.toThrow();
    expect(configSchemaCommand.name).toBe('config schema');
    expect(configSchemaCommand.usage).toContain('Examples:');
  });
});
