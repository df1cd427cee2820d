import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { retentionFor, retentionPolicy } from '../../../src/recording/retention.js';
import { configError, issueAt, removeTempDirs, tempDir } from '../config/support.js';

afterAll(removeTempDirs);

async function load(yaml: string) {
  const dir = tempDir({ 'portcullis.yaml': yaml });
  return loadConfig(join(dir, 'portcullis.yaml'));
}

describe('recording config', () => {
  it('defaults to durability "process"', async () => {
    expect((await load('')).recording).toEqual({ durability: 'process', writer: 'thread' });
    expect((await load('recording: {}\n')).recording).toEqual({ durability: 'process', writer: 'thread' });
  });

  it('accepts "fsync"', async () => {
    expect((await load('recording:\n  durability: fsync\n')).recording).toEqual({ durability: 'fsync', writer: 'thread' });
  });

  it('rejects an unknown durability and unknown settings, naming the path', async () => {
    const error = await configError(load('recording:\n  durability: sometimes\n'));
    expect(issueAt(error, 'recording.durability').message).toMatch(/process.*fsync/);
    const typo = await configError(load('recording:\n  durabilty: fsync\n'));
    expect(typo.issues.some((issue) => issue.path.startsWith('recording') && /durabilty/.test(issue.message))).toBe(true);
  });

  it('retention: global and per connection ("forever" overrides it), as a policy by connection', async () => {
    const config = await load(`
recording: { retention: 90d }
identity:
  issuers: [{ issuer: "http://127.0.0.1:9000", audience: portcullis }]
connections:
  - { name: short, type: postgres, target: { host: h, database: d, user: u }, access: { groups: [g] }, retention: 12h }
  - { name: keep, type: postgres, target: { host: h, database: d, user: u }, access: { groups: [g] }, retention: forever }
  - { name: plain, type: postgres, target: { host: h, database: d, user: u }, access: { groups: [g] } }
`);
    const DAY = 86_400_000;
    expect(config.recording).toEqual({ durability: 'process', writer: 'thread', retentionMs: 90 * DAY });
    expect(config.connections.map((c) => c.retentionMs)).toEqual([12 * 3_600_000, null, undefined]);
    const policy = retentionPolicy(config);
    expect(['short', 'keep', 'plain', 'removed-since'].map((name) => retentionFor(policy, name))).toEqual([
      12 * 3_600_000,
      undefined,
      90 * DAY,
      90 * DAY,
    ]);
    // Without a global retention, sessions are kept forever unless their connection says otherwise.
    expect(retentionFor(retentionPolicy(await load('recording: { retention: forever }\n')), 'any')).toBeUndefined();
    expect(retentionFor(retentionPolicy(await load('')), 'any')).toBeUndefined();
  });

  it('retention: refuses what is not a duration, and anything under an hour (a bare number is seconds)', async () => {
    const bad = await configError(load('recording:\n  retention: 3 months\n'));
    expect(issueAt(bad, 'recording.retention').message).toMatch(/expected a retention such as "90d".*"forever", got "3 months"/);
    const seconds = await configError(load('recording:\n  retention: 90\n'));
    expect(issueAt(seconds, 'recording.retention').message).toMatch(/must be at least 1h \(or "forever"\), got 90: a bare number is seconds/);
    const zero = await configError(load('recording:\n  retention: 0s\n'));
    expect(issueAt(zero, 'recording.retention').message).toMatch(/greater than 0/);
  });
});
