import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { configError, issueAt, removeTempDirs, tempDir } from '../config/support.js';

afterAll(removeTempDirs);

async function load(yaml: string) {
  const dir = tempDir({ 'portcullis.yaml': yaml });
  return loadConfig(join(dir, 'portcullis.yaml'));
}

describe('recording config', () => {
  it('defaults to durability "process"', async () => {
    expect((await load('')).recording).toEqual({ durability: 'process' });
    expect((await load('recording: {}\n')).recording).toEqual({ durability: 'process' });
  });

  it('accepts "fsync"', async () => {
    expect((await load('recording:\n  durability: fsync\n')).recording).toEqual({ durability: 'fsync' });
  });

  it('rejects an unknown durability and unknown settings, naming the path', async () => {
    const error = await configError(load('recording:\n  durability: sometimes\n'));
    expect(issueAt(error, 'recording.durability').message).toMatch(/process.*fsync/);
    const typo = await configError(load('recording:\n  durabilty: fsync\n'));
    expect(typo.issues.some((issue) => issue.path.startsWith('recording') && /durabilty/.test(issue.message))).toBe(true);
  });
});
