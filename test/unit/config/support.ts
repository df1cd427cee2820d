/** Temp-dir config files for the config tests. */
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { expect } from 'vitest';
import { ConfigError, type ConfigIssue } from '../../../src/config/load.js';

const made: string[] = [];

/** Writes `files` (relative path → contents) into a fresh temp dir; returns its path. */
export function tempDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-config-'));
  made.push(dir);
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

export function removeTempDirs(): void {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** Awaits a rejection that must be a ConfigError, and returns it. */
export async function configError(promise: Promise<unknown>): Promise<ConfigError> {
  const error: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ConfigError);
  return error as ConfigError;
}

/** The single issue at `path` (fails if there is none or several). */
export function issueAt(error: ConfigError, path: string): ConfigIssue {
  const found = error.issues.filter((issue) => issue.path === path);
  expect(found, `issues at ${path} in:\n${error.message}`).toHaveLength(1);
  return found[0] as ConfigIssue;
}

export const FAKE_CERT = '-----BEGIN CERTIFICATE-----\nMIIBfakecert\n-----END CERTIFICATE-----\n';
export const FAKE_KEY = '-----BEGIN PRIVATE KEY-----\nMIIBfakekey\n-----END PRIVATE KEY-----\n';
export const FAKE_CA = '-----BEGIN CERTIFICATE-----\nMIIBfakeca\n-----END CERTIFICATE-----\n';
