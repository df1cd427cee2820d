/** `connections[].access.require_approval`: what it builds (defaults, durations), and every refusal naming its file position and the fix. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig, type ConfigError } from '../../../src/config/load.js';
import type { AccessList } from '../../../src/config/types.js';
import { BUILTIN_RULE_NAMES } from '../../../src/policy/builtin.js';
import { configError, issueAt, removeTempDirs, tempDir } from './support.js';

afterAll(removeTempDirs);

/** The smallest config (one issuer, connection demo, its access list last: `access:` then `groups: [agents]`). */
const MINIMAL = readFileSync(new URL('./fixtures/minimal.yaml', import.meta.url), 'utf8');
const ENV = { DEMO_DB_PASSWORD: 'pw' };
const ADMIN = `
admin:
  listen: 127.0.0.1:0
  admins: [portcullis-admins]
`;
const HOUR = 3_600_000;

/** The minimal config with `require_approval: <value>` in demo's access list (line 16, column 7), and an admin section unless `admin` is false. */
function withRequirement(value: string, admin = true): string {
  return `${MINIMAL.trimEnd()}\n      require_approval: ${value}\n${admin ? ADMIN : ''}`;
}

async function load(text: string) {
  const dir = tempDir({ 'portcullis.yaml': text });
  return loadConfig(join(dir, 'portcullis.yaml'), { env: ENV });
}

async function accessOf(value: string): Promise<AccessList | undefined> {
  return (await load(withRequirement(value))).connections[0]?.access;
}

async function errorFor(value: string, admin = true): Promise<ConfigError> {
  const dir = tempDir({ 'portcullis.yaml': withRequirement(value, admin) });
  return configError(loadConfig(join(dir, 'portcullis.yaml'), { env: ENV }));
}

describe('access.require_approval', () => {
  it('is absent unless configured: the access list alone admits', async () => {
    const config = await load(MINIMAL);
    expect(config.connections[0]?.access).toEqual({ groups: ['agents'], subjects: [], clients: [] });
    expect(config.connections[0]?.access.requireApproval).toBeUndefined();
  });

  it('defaults: one approval, requests wait 1h, at most 8h of access; the access list is kept', async () => {
    expect(await accessOf('{ approvers: [dba] }')).toEqual({
      groups: ['agents'],
      subjects: [],
      clients: [],
      requireApproval: { approvers: ['dba'], minApprovals: 1, timeoutMs: HOUR, maxDurationMs: 8 * HOUR },
    });
  });

  it('takes every setting, durations in the config grammar', async () => {
    const access = await accessOf('{ approvers: [dba, sre], min_approvals: 2, timeout: 15m, max_duration: 7d }');
    expect(access?.requireApproval).toEqual({ approvers: ['dba', 'sre'], minApprovals: 2, timeoutMs: 15 * 60_000, maxDurationMs: 7 * 24 * HOUR });
  });

  it.each([
    ['{ approvers: [dba], max_duration: 8d }', 'connections[0].access.require_approval.max_duration', 'must be at most 7d, got "8d"'],
    ['{ approvers: [dba], max_duration: 0s }', 'connections[0].access.require_approval.max_duration', 'must be greater than 0, got "0s"'],
    ['{ approvers: [dba], timeout: 0 }', 'connections[0].access.require_approval.timeout', 'must be greater than 0, got 0'],
    ['{ approvers: [dba], timeout: 30d }', 'connections[0].access.require_approval.timeout', 'must be at most 7d, got "30d"'],
    ['{ approvers: [dba], timeout: soon }', 'connections[0].access.require_approval.timeout', 'expected a duration such as'],
    ['{ approvers: [] }', 'connections[0].access.require_approval.approvers', 'expected a non-empty list, got an empty list'],
    ['{ min_approvals: 1 }', 'connections[0].access.require_approval.approvers', 'missing required property "approvers"'],
    ['{ approvers: [dba], min_approvals: 0 }', 'connections[0].access.require_approval.min_approvals', 'expected integer 1–10, got 0'],
    ['{ approvers: [dba], max_durration: 1h }', 'connections[0].access.require_approval.max_durration', 'unknown property "max_durration" (did you mean "max_duration"?)'],
  ])('%s is refused at %s', async (value, path, message) => {
    expect(issueAt(await errorFor(value), path).message).toContain(message);
  });

  it('names the file, line and column of the bad value', async () => {
    const error = await errorFor('{ approvers: [dba], max_duration: 8d }');
    const issue = issueAt(error, 'connections[0].access.require_approval.max_duration');
    expect(issue).toMatchObject({ line: 16, column: 59 });
    expect(error.message).toMatch(/portcullis\.yaml:16:59: connections\[0\]\.access\.require_approval\.max_duration: must be at most 7d, got "8d"/);
  });

  it('needs the admin API: access requests are made through it', async () => {
    const issue = issueAt(await errorFor('{ approvers: [dba] }', false), 'connections[0].access.require_approval');
    expect(issue.message).toBe(
      'connection "demo" requires an approved access request, but access requests are made through the admin API ' +
        '(POST /api/access-requests, "portcullis access request") and there is no admin: section: add one, or nobody could ever open this connection',
    );
    expect(issue.line).toBe(16);
  });

  it('does not replace the access list: an empty list is still refused', async () => {
    const text = withRequirement('{ approvers: [dba] }').replace('      groups: [agents]\n', '');
    const dir = tempDir({ 'portcullis.yaml': text });
    const error = await configError(loadConfig(join(dir, 'portcullis.yaml'), { env: ENV }));
    expect(issueAt(error, 'connections[0].access').message).toMatch(/has an empty access list: nobody could open it/);
  });
});

describe('the access-request rule name', () => {
  it('is reserved: a configured rule cannot take it', async () => {
    expect(BUILTIN_RULE_NAMES).toContain('access-request');
    const text = `${MINIMAL}rules:\n  - { name: access-request, when: {}, effect: allow }\n`;
    const dir = tempDir({ 'portcullis.yaml': text });
    const error = await configError(loadConfig(join(dir, 'portcullis.yaml'), { env: ENV }));
    expect(issueAt(error, 'rules[0].name').message).toMatch(/^"access-request" is reserved for a built-in decision \(.*access-request\); choose another name$/);
  });
});
